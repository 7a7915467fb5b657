package auth

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestBackgroundHashingRunsOnNiceThreads checks that RunInBackground hashes correctly and on
// threads whose nice value was raised, so the kernel prefers the threads serving pages.
func TestBackgroundHashingRunsOnNiceThreads(t *testing.T) {
	before := niceThreads()
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
	if got := niceThreads() - before; got != 2 {
		t.Errorf("%d new threads at nice 15, want 2 (one per hashing slot)", got)
	}
}

func niceThreads() int {
	n := 0
	tasks, _ := filepath.Glob("/proc/self/task/*/stat")
	for _, task := range tasks {
		stat, err := os.ReadFile(task)
		if err != nil {
			continue
		}
		// Fields after the command name (which ends with ')'): nice is field 19, index 16 here.
		fields := strings.Fields(string(stat[strings.LastIndexByte(string(stat), ')')+1:]))
		if len(fields) > 16 && fields[16] == "15" {
			n++
		}
	}
	return n
}
