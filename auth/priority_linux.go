package auth

import "syscall"

// lowerThreadPriority makes the calling OS thread nice 15. On Linux, setpriority with a
// thread id affects that thread only.
func lowerThreadPriority() error {
	return syscall.Setpriority(syscall.PRIO_PROCESS, syscall.Gettid(), 15)
}
