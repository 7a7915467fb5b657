package auth

import (
	"context"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"golang.org/x/sys/unix"
)

// TestBackgroundHashingRunsOnIdleThreads checks that RunInBackground hashes correctly and on
// threads of the SCHED_IDLE class, so the kernel prefers the threads serving pages.
func TestBackgroundHashingRunsOnIdleThreads(t *testing.T) {
	before := idleThreads()
	h := NewHasher(Params{Memory: 64, Time: 1, Threads: 1, KeyLen: 32, SaltLen: 16}, 2)
	h.RunInBackground()
	ctx := context.Background()
	phc, err := h.Hash(ctx, "glacier umber copper raven")
	if err != nil {
		t.Fatal(err)
	}
	if ok, _, err := h.Verify(ctx, "glacier umber copper raven", phc); !ok || err != nil {
		t.Fatalf("Verify on a background thread = %v, %v; want true, nil", ok, err)
	}
	// Hashing threads stay for the life of the process, also those of earlier runs (-count).
	if got := idleThreads() - before; got != 2 {
		t.Errorf("%d new SCHED_IDLE threads, want 2 (one per hashing slot)", got)
	}
}

// TestBackgroundHashingWorksOnItsIdleThread: the work of a hash is done on the hashing
// thread itself, so its low priority applies to it. (With x/crypto's argon2, which starts a
// goroutine per segment, 3 of 64 ticks of hashing were spent on the idle thread, the rest on
// ordinary threads at ordinary priority.)
func TestBackgroundHashingWorksOnItsIdleThread(t *testing.T) {
	h := NewHasher(DefaultParams, 1)
	h.RunInBackground()
	ctx := context.Background()
	idleBefore, allBefore := cpuTicks()
	for i := 0; i < 20; i++ {
		if _, err := h.Hash(ctx, "glacier umber copper raven"); err != nil {
			t.Fatal(err)
		}
	}
	idle, all := cpuTicks()
	idle, all = idle-idleBefore, all-allBefore
	if all < 20 {
		t.Skipf("only %d ticks of CPU measured; too few to tell", all)
	}
	if idle*10 < all*8 {
		t.Errorf("%d of %d ticks of hashing CPU on SCHED_IDLE threads, want at least 80%%", idle, all)
	}
}

// cpuTicks sums the CPU time (user and system, in clock ticks) of this process's threads of
// the SCHED_IDLE class, and of all of them.
func cpuTicks() (idle, all int) {
	for _, fields := range threadStats() {
		// utime and stime: fields 14 and 15 of proc(5), indexes 11 and 12 here.
		user, _ := strconv.Atoi(fields[11])
		system, _ := strconv.Atoi(fields[12])
		all += user + system
		if fields[38] == strconv.Itoa(unix.SCHED_IDLE) {
			idle += user + system
		}
	}
	return idle, all
}

// threadStats reads /proc/self/task/*/stat, each as its fields after the command name
// (which ends with ')'): field N of proc(5) is index N-3.
func threadStats() [][]string {
	var out [][]string
	tasks, _ := filepath.Glob("/proc/self/task/*/stat")
	for _, task := range tasks {
		stat, err := os.ReadFile(task)
		if err != nil {
			continue
		}
		if fields := strings.Fields(string(stat[strings.LastIndexByte(string(stat), ')')+1:])); len(fields) > 38 {
			out = append(out, fields)
		}
	}
	return out
}

// idleThreads counts this process's threads in the SCHED_IDLE class.
func idleThreads() int {
	n := 0
	for _, fields := range threadStats() {
		// The scheduling policy is field 41 of proc(5).
		if fields[38] == strconv.Itoa(unix.SCHED_IDLE) {
			n++
		}
	}
	return n
}
