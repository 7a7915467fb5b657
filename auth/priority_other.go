//go:build !linux

package auth

// lowerThreadPriority is a no-op where per-thread priorities are not available; hashing is
// still bounded by the number of slots.
func lowerThreadPriority() error { return nil }
