package auth

import (
	"context"
	"errors"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"portal/auth/argon2id"
)

func TestPolicy(t *testing.T) {
	p := NewPolicy()
	ctxWords := ContextWords("anna.kowalski@northwind.example", "Northwind Traders", "Anna", "Kowalski")
	tests := []struct {
		name     string
		password string
		ok       bool
		reason   string // a word the refusal must contain
	}{
		{"14 characters", "glacier-umber1", false, "15 characters"},
		{"15 characters", "glacier-umber12", true, ""},
		{"64 characters", ofLength("raven glacier umber ", 64), true, ""},
		{"128 characters", ofLength("kestrel quartz timber ", 128), true, ""},
		{"129 characters", ofLength("kestrel quartz timber ", 129), false, "128"},
		{"unicode counted as characters", "Zoë Łukasz Ærø Š", true, ""},
		{"14 unicode characters", "ŁŁŁŁŁŁŁ-ÆÆÆÆÆÆ", false, "15 characters"},
		{"emoji and spaces allowed", "🐧 penguins march on ice", true, ""},
		{"blocklisted", "123456789987654321", false, "common"},
		{"blocklisted in another case", "Q1W2E3R4T5Y6U7I8", false, "common"},
		{"common word padded with digits", "password12345678", false, "common"},
		{"one character repeated", strings.Repeat("a", 20), false, "common"},
		{"short unit repeated", strings.Repeat("abc", 6), false, "common"},
		{"keyboard run", "qwertyuiopasdfgh", false, "common"},
		{"common password twice", "passwordpassword", false, "common"},
		{"common password twice with a space", "password password", false, "common"},
		{"common password three times", "monkeymonkeymonkey", false, "common"},
		{"common password twice, padded", "letmeinletmein1", false, "common"},
		{"two common passwords glued", "iloveyoutrustno1", false, "common"},
		{"mostly symbols", "!!!!!!!!!!!!!!!!ab", false, "common"},
		{"a real passphrase", "purple ferry lantern quietly", true, ""},
		{"contains the account name", "my northwind password 77", false, "organization"},
		{"contains the email's local part", "anna.kowalski is the best", false, "email"},
		{"contains the last name", "kowalski-glacier-umber", false, "name"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := p.Check(tt.password, ctxWords...)
			if tt.ok {
				if err != nil {
					t.Fatalf("Check(%q) = %v, want nil", tt.password, err)
				}
				return
			}
			var pe *PolicyError
			if !errors.As(err, &pe) {
				t.Fatalf("Check(%q) = %v, want a *PolicyError", tt.password, err)
			}
			if !strings.Contains(pe.Reason, tt.reason) {
				t.Errorf("Check(%q) reason %q, want it to mention %q", tt.password, pe.Reason, tt.reason)
			}
		})
	}
}

// ofLength repeats words until the result has exactly n characters.
func ofLength(words string, n int) string {
	r := []rune(strings.Repeat(words, n/len([]rune(words))+1))
	return string(r[:n])
}

func TestHashIsArgon2idPHCWithUniqueSalt(t *testing.T) {
	h := NewHasher(DefaultParams, 2)
	ctx := context.Background()
	a, err := h.Hash(ctx, "glacier umber copper raven")
	if err != nil {
		t.Fatal(err)
	}
	b, err := h.Hash(ctx, "glacier umber copper raven")
	if err != nil {
		t.Fatal(err)
	}
	if a == b {
		t.Fatalf("two hashes of one password are equal (%s): salts are not unique", a)
	}
	if want := "$argon2id$v=19$m=19456,t=2,p=1$"; !strings.HasPrefix(a, want) {
		t.Fatalf("hash %q, want prefix %q", a, want)
	}
	for _, tt := range []struct {
		password string
		want     bool
	}{{"glacier umber copper raven", true}, {"glacier umber copper ravem", false}, {"", false}} {
		ok, rehash, err := h.Verify(ctx, tt.password, a)
		if err != nil || ok != tt.want || rehash {
			t.Errorf("Verify(%q) = %v, %v, %v; want %v, false, nil", tt.password, ok, rehash, err, tt.want)
		}
	}
}

func TestVerifyAsksForRehashWhenParametersRise(t *testing.T) {
	ctx := context.Background()
	weak := NewHasher(Params{Memory: 64, Time: 1, Threads: 1, KeyLen: 32, SaltLen: 16}, 1)
	old, err := weak.Hash(ctx, "glacier umber copper raven")
	if err != nil {
		t.Fatal(err)
	}
	ok, rehash, err := NewHasher(DefaultParams, 1).Verify(ctx, "glacier umber copper raven", old)
	if err != nil || !ok || !rehash {
		t.Fatalf("Verify with stronger parameters = %v, %v, %v; want true, true, nil", ok, rehash, err)
	}
}

func TestVerifyRefusesMalformedHashes(t *testing.T) {
	h := NewHasher(Params{Memory: 64, Time: 1, Threads: 1, KeyLen: 32, SaltLen: 16}, 1)
	for _, phc := range []string{"plain", "$argon2i$v=19$m=64,t=1,p=1$c2FsdA$a2V5", "$argon2id$v=19$m=0,t=1,p=1$c2FsdA$a2V5",
		"$argon2id$v=18$m=64,t=1,p=1$c2FsdA$a2V5", "$argon2id$v=19$m=64,t=1,p=1$!!$a2V5"} {
		if _, _, err := h.Verify(context.Background(), "x", phc); !errors.Is(err, ErrMalformedHash) {
			t.Errorf("Verify(%q) error = %v, want ErrMalformedHash", phc, err)
		}
	}
}

func TestHasherBoundsConcurrentHashes(t *testing.T) {
	h := NewHasher(Params{Memory: 64, Time: 1, Threads: 1, KeyLen: 32, SaltLen: 16}, 2)
	var running, peak atomic.Int32
	var wg sync.WaitGroup
	var mu sync.Mutex
	memories := map[*argon2id.Memory]bool{}
	for i := 0; i < 20; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			mem, err := h.acquire(context.Background())
			if err != nil {
				t.Error(err)
				return
			}
			mu.Lock()
			memories[mem] = true
			mu.Unlock()
			n := running.Add(1)
			for {
				p := peak.Load()
				if n <= p || peak.CompareAndSwap(p, n) {
					break
				}
			}
			h.hash(mem, "glacier umber copper raven")
			running.Add(-1)
			h.release(mem)
		}()
	}
	wg.Wait()
	if got := peak.Load(); got > 2 {
		t.Fatalf("peak concurrent hashes %d, want at most 2", got)
	}
	// Working memory is kept per slot, so the memory hashing holds is bounded the same way.
	if len(memories) > 2 {
		t.Fatalf("%d working memories for 20 hashes, want at most 2 (one per slot)", len(memories))
	}
}

func TestHashGivesUpWhenContextEnds(t *testing.T) {
	h := NewHasher(Params{Memory: 64, Time: 1, Threads: 1, KeyLen: 32, SaltLen: 16}, 1)
	mem, err := h.acquire(context.Background()) // take the only slot
	if err != nil {
		t.Fatal(err)
	}
	defer h.release(mem)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := h.Hash(ctx, "glacier umber copper raven"); !errors.Is(err, context.Canceled) {
		t.Fatalf("Hash with a cancelled context and no free slot = %v, want context.Canceled", err)
	}
}
