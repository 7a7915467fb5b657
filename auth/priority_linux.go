package auth

import (
	"syscall"

	"golang.org/x/sys/unix"
)

// lowerThreadPriority puts the calling OS thread in the SCHED_IDLE class: it runs only when
// no ordinary thread wants the CPU, and the kernel preempts it at once when one wakes up.
// (Nice 15, tried first, still let a waking request thread wait out the hashing thread's
// time slice: a burst of logins tripled the p99 of page views.) Where SCHED_IDLE is refused,
// the thread falls back to nice 15. On Linux both apply to the calling thread only.
func lowerThreadPriority() error {
	attr := unix.SchedAttr{Size: unix.SizeofSchedAttr, Policy: unix.SCHED_IDLE}
	if err := unix.SchedSetAttr(0, &attr, 0); err == nil {
		return nil
	}
	return syscall.Setpriority(syscall.PRIO_PROCESS, syscall.Gettid(), 15)
}
