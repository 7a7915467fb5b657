package app

import "testing"

func TestHashingSlots(t *testing.T) {
	const perHash = 19 << 20 // production argon2id: m = 19 MiB
	for _, tt := range []struct {
		cpus   int
		budget int64
		want   int
	}{
		{cpus: 1, budget: hashingMemory, want: 1},
		{cpus: 2, budget: hashingMemory, want: 2},
		{cpus: 8, budget: hashingMemory, want: 8},
		{cpus: 64, budget: hashingMemory, want: 13}, // 256 MiB holds 13 hashes of 19 MiB
		{cpus: 4, budget: 40 << 20, want: 2},
		{cpus: 4, budget: 10 << 20, want: 1}, // never none: logins would wait forever
	} {
		if got := hashingSlots(tt.cpus, tt.budget, perHash); got != tt.want {
			t.Errorf("hashingSlots(%d CPUs, %d MiB) = %d, want %d", tt.cpus, tt.budget>>20, got, tt.want)
		}
	}
}
