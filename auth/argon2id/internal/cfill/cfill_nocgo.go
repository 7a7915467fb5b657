//go:build !cgo

package cfill

// OneLane is not available without cgo: every derivation then runs in Go.
func OneLane(blocks *uint64, memory, time uint32) { panic("cfill: built without cgo") }

// Available reports whether OneLane can be used (cgo builds).
const Available = false
