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

// idleThreads counts this process's threads in the SCHED_IDLE class.
func idleThreads() int {
	n := 0
	tasks, _ := filepath.Glob("/proc/self/task/*/stat")
	for _, task := range tasks {
		stat, err := os.ReadFile(task)
		if err != nil {
			continue
		}
		// Fields after the command name (which ends with ')'): the scheduling policy is
		// field 41 of proc(5), index 38 here.
		fields := strings.Fields(string(stat[strings.LastIndexByte(string(stat), ')')+1:]))
		if len(fields) > 38 && fields[38] == strconv.Itoa(unix.SCHED_IDLE) {
			n++
		}
	}
	return n
}
