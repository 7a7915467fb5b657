package auth

import (
	"context"
	"encoding/base64"
	"errors"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"golang.org/x/crypto/argon2"
)

// fastParams keep argon2id cheap in tests that are not about its cost.
var fastParams = Params{Memory: 64, Time: 1, Threads: 1, KeyLen: 32, SaltLen: 16}

// madeByTheFork are PHC strings written by the portal's own copy of x/crypto's Argon2id
// (auth/argon2id, with a C fill for one lane), made with it just before it was replaced by
// golang.org/x/crypto/argon2 itself. Every password hash stored by a portal of that time
// looks like these and must keep verifying.
var madeByTheFork = []struct{ password, phc string }{
	{"correct staple battery horse", "$argon2id$v=19$m=19456,t=2,p=1$FEP1xuq4JUIi+ajcif7oIA$nziRZ97777rrD6MU7kJEbWHUGnyERUIdpQ8WkdPYS8I"},
	{"Zoë Łukasz Ærø Šťastný", "$argon2id$v=19$m=19456,t=2,p=1$vW1G63psB2fnBueiFqMcsQ$AHAQe+z4c3+S2e+Ty+I/T+3tXi9De/ZtUuJ5r3VMG3E"},
	{"🐧 penguins march on ice", "$argon2id$v=19$m=19456,t=2,p=1$oSoo3gDgx9SN1216nK6L9A$7ZvJ5aIAda6dYAXuZI4z8gXsktXqILeJHKsK3MC21qU"},
	{"пароль из четырёх слов", "$argon2id$v=19$m=19456,t=2,p=1$zCy1YrdsA1z4Vpu+d8MWWA$mD5pr4Ytu5+WFO7G9ZD5IvIKP0iwQEADqvV4dOS9rc8"},
	{"東京タワーの夜景がきれい", "$argon2id$v=19$m=19456,t=2,p=1$nuYRNhE4jt5n5Uab9191IQ$V9yYID8XdTycRJXXGPbmTaDkSXyVkvlK3PvDI7cGWPI"},
	{"  spaces  at both ends  ", "$argon2id$v=19$m=19456,t=2,p=1$iLpiqsZuo+eM7RBWJXjscQ$rgYgphIHGX9HjGTbvbN0Ktt67Yq5rTM98s7UJ4fvn0A"},
}

func TestVerifiesHashesMadeByTheFork(t *testing.T) {
	h := NewHasher(DefaultParams, 2)
	ctx := context.Background()
	for _, tt := range madeByTheFork {
		t.Run(tt.password, func(t *testing.T) {
			ok, rehash, err := h.Verify(ctx, tt.password, tt.phc)
			if err != nil || !ok || rehash {
				t.Fatalf("Verify(right password) = %v, %v, %v; want true, false, nil", ok, rehash, err)
			}
			runes := []rune(tt.password)
			changed := slices.Clone(runes)
			changed[len(changed)-2]++ // one character changed, not at the end
			for _, wrong := range []string{"", string(changed), tt.password + " ", string(runes[1:])} {
				if ok, rehash, err := h.Verify(ctx, wrong, tt.phc); err != nil || ok || rehash {
					t.Errorf("Verify(%q) = %v, %v, %v; want false, false, nil", wrong, ok, rehash, err)
				}
			}
		})
	}
	// The composed and decomposed spellings of a letter are the same password (issue 14
	// item 9): the hasher normalises both to NFKC, which is the composed form the fork hashed.
	if ok, rehash, err := h.Verify(ctx, "Zoe\u0308 Łukasz Ærø Šťastný", madeByTheFork[1].phc); err != nil || !ok || rehash {
		t.Errorf("Verify(decomposed ë) = %v, %v, %v; want true, false, nil", ok, rehash, err)
	}
	// A key with one bit flipped does not match its own password.
	phc := madeByTheFork[0].phc
	i := strings.LastIndexByte(phc, '$') + 1
	key, _ := base64.RawStdEncoding.DecodeString(phc[i:])
	key[0] ^= 1
	flipped := phc[:i] + base64.RawStdEncoding.EncodeToString(key)
	if ok, _, err := h.Verify(ctx, madeByTheFork[0].password, flipped); err != nil || ok {
		t.Errorf("Verify(key with a bit flipped) = %v, %v; want false, nil", ok, err)
	}
}

func TestVerifyAsksForRehashWhenStoredParametersAreWeaker(t *testing.T) {
	h := NewHasher(DefaultParams, 2)
	ctx := context.Background()
	// Made by the fork too, each of "glacier umber copper raven".
	for _, tt := range []struct {
		name, phc string
		rehash    bool
	}{
		{"less memory and time", "$argon2id$v=19$m=64,t=1,p=1$7nooHKP69B8lwy6xNZQmmQ$X+x34CdoA4aTqFJyXUsWKw8oEiYmQ55CigUNFzEePqs", true},
		{"one pass fewer", "$argon2id$v=19$m=19456,t=1,p=1$6WRG8b6CfoagYp4wuPJjKQ$pjk/twwlVXPPAcbl+uRe+WHdz0uCyMEyo5hgb21nisI", true},
		{"less memory, more passes", "$argon2id$v=19$m=12288,t=3,p=1$VENvTcv1gaPdUtlZE1AIwQ$FOq27iEBMb9sganvLR65/H8ZQXrAcLXpu1JfOWCIM0c", true},
		{"more memory, one pass", "$argon2id$v=19$m=47104,t=1,p=1$W7hPmdxpKPMbPnpsLsVn/g$SvQJVjJhxL3IKQMlwKz04O0qJZ36ILIaIcBA+3Eec6I", true},
		{"a 16-byte key", "$argon2id$v=19$m=19456,t=2,p=1$53EeJ9cwGJi2/on4RQgZZg$WEERKv2bnxjR0R0yq/u/LA", true},
		{"two lanes", "$argon2id$v=19$m=19456,t=2,p=2$fiqJboR7lhwfT23JxnRFIw$dwtzIRnwmLNPjdZdH+c0La2WDDWPmRKmQHiGr+jUWYM", false},
	} {
		t.Run(tt.name, func(t *testing.T) {
			ok, rehash, err := h.Verify(ctx, "glacier umber copper raven", tt.phc)
			if err != nil || !ok || rehash != tt.rehash {
				t.Errorf("Verify = %v, %v, %v; want true, %v, nil", ok, rehash, err, tt.rehash)
			}
			// A wrong password never asks for a rehash: there is nothing to rehash it with.
			if ok, rehash, err := h.Verify(ctx, "glacier umber copper ravem", tt.phc); err != nil || ok || rehash {
				t.Errorf("Verify(wrong password) = %v, %v, %v; want false, false, nil", ok, rehash, err)
			}
		})
	}
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
	// The salt and key are unpadded base64 of 16 and 32 bytes: 22 and 43 characters.
	if parts := strings.Split(a, "$"); len(parts) != 6 || len(parts[4]) != 22 || len(parts[5]) != 43 {
		t.Fatalf("hash %q, want $argon2id$v=19$m=19456,t=2,p=1$<22 characters>$<43 characters>", a)
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

func TestHashMatchesArgon2IDKey(t *testing.T) {
	phc, err := NewHasher(fastParams, 1).Hash(context.Background(), "glacier umber copper raven")
	if err != nil {
		t.Fatal(err)
	}
	parts := strings.Split(phc, "$")
	salt, _ := base64.RawStdEncoding.DecodeString(parts[4])
	want := base64.RawStdEncoding.EncodeToString(argon2.IDKey([]byte("glacier umber copper raven"), salt, 1, 64, 1, 32))
	if parts[3] != "m=64,t=1,p=1" || parts[5] != want {
		t.Fatalf("hash %q, want parameters m=64,t=1,p=1 and key %s", phc, want)
	}
}

func TestVerifyDummyNeverMatches(t *testing.T) {
	h := NewHasher(fastParams, 1)
	ctx := context.Background()
	for _, password := range []string{"", "glacier umber copper raven", string(make([]byte, 32))} {
		if err := h.VerifyDummy(ctx, password); err != nil {
			t.Errorf("VerifyDummy(%q) = %v, want nil", password, err)
		}
		if ok, rehash, err := h.Verify(ctx, password, ""); ok || rehash || err != nil {
			t.Errorf("Verify(%q, no hash) = %v, %v, %v; want false, false, nil", password, ok, rehash, err)
		}
	}
}

func TestVerifyRefusesMalformedHashes(t *testing.T) {
	h := NewHasher(fastParams, 1)
	for _, phc := range []string{
		"plain",
		"$argon2i$v=19$m=64,t=1,p=1$c2FsdA$a2V5",
		"$argon2id$v=19$m=0,t=1,p=1$c2FsdA$a2V5",
		"$argon2id$v=19$m=64,t=0,p=1$c2FsdA$a2V5",
		"$argon2id$v=19$m=64,t=1,p=0$c2FsdA$a2V5",
		"$argon2id$v=19$m=64,t=1,p=256$c2FsdA$a2V5",
		"$argon2id$v=19$m=64,t=1$c2FsdA$a2V5",
		"$argon2id$v=18$m=64,t=1,p=1$c2FsdA$a2V5",
		"$argon2id$m=64,t=1,p=1$c2FsdA$a2V5",
		"$argon2id$v=19$m=64,t=1,p=1$!!$a2V5",
		"$argon2id$v=19$m=64,t=1,p=1$c2FsdA==$a2V5",
		"$argon2id$v=19$m=64,t=1,p=1$c2FsdA$",
		"$argon2id$v=19$m=64,t=1,p=1$c2FsdA",
		"$argon2id$v=19$m=64,t=1,p=1$c2FsdA$a2V5$a2V5",
		"x" + madeByTheFork[0].phc,
	} {
		if ok, rehash, err := h.Verify(context.Background(), "x", phc); !errors.Is(err, ErrMalformedHash) || ok || rehash {
			t.Errorf("Verify(%q) = %v, %v, %v; want false, false, ErrMalformedHash", phc, ok, rehash, err)
		}
	}
}

func TestHasherBoundsConcurrentHashes(t *testing.T) {
	h := NewHasher(fastParams, 2)
	var running, peak atomic.Int32
	var wg sync.WaitGroup
	for i := 0; i < 20; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := h.acquire(context.Background()); err != nil {
				t.Error(err)
				return
			}
			n := running.Add(1)
			for {
				p := peak.Load()
				if n <= p || peak.CompareAndSwap(p, n) {
					break
				}
			}
			h.hashBytes("glacier umber copper raven")
			running.Add(-1)
			h.release()
		}()
	}
	wg.Wait()
	if got := peak.Load(); got > 2 {
		t.Fatalf("peak concurrent hashes %d, want at most 2", got)
	}
}

func TestHashAndVerifyWaitForAFreeSlot(t *testing.T) {
	h := NewHasher(fastParams, 1)
	phc, err := h.Hash(context.Background(), "glacier umber copper raven")
	if err != nil {
		t.Fatal(err)
	}
	if err := h.acquire(context.Background()); err != nil { // take the only slot
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := h.Hash(ctx, "glacier umber copper raven"); !errors.Is(err, context.Canceled) {
		t.Errorf("Hash with a cancelled context and no free slot = %v, want context.Canceled", err)
	}
	if _, _, err := h.Verify(ctx, "glacier umber copper raven", phc); !errors.Is(err, context.Canceled) {
		t.Errorf("Verify with a cancelled context and no free slot = %v, want context.Canceled", err)
	}
	// A waiting verification goes ahead as soon as the slot is given back.
	done := make(chan bool)
	go func() {
		ok, _, _ := h.Verify(context.Background(), "glacier umber copper raven", phc)
		done <- ok
	}()
	select {
	case <-done:
		t.Fatal("Verify finished while the only slot was taken")
	case <-time.After(50 * time.Millisecond):
	}
	h.release()
	if ok := <-done; !ok {
		t.Error("Verify after the slot was given back = false, want true")
	}
}

// BenchmarkVerify is a login's verification (parse the stored PHC string, wait for a slot,
// derive, compare) with production parameters, taking turns with its baseline, one bare
// argon2.IDKey call with the same parameters, and reports the ratio (target ≤ 1.1).
//
//	go test -tags sqlite_fts5 -run '^$' -bench Verify -benchtime 100x ./auth/
func BenchmarkVerify(b *testing.B) {
	h := NewHasher(DefaultParams, 1)
	ctx := context.Background()
	password := madeByTheFork[0].password
	phc := madeByTheFork[0].phc
	salt, _ := base64.RawStdEncoding.DecodeString(strings.Split(phc, "$")[4])
	p := DefaultParams
	inTurns(b, "verify", func() {
		if ok, _, err := h.Verify(ctx, password, phc); !ok || err != nil {
			b.Fatalf("Verify = %v, %v; want true, nil", ok, err)
		}
	}, "IDKey", func() {
		argon2.IDKey([]byte(password), salt, p.Time, p.Memory, p.Threads, p.KeyLen)
	})
}

// inTurns runs measured and baseline b.N times each, in turns, each first half of the
// time (whichever ran second was measured faster), and reports their medians and the
// median of the ratios of the pairs: on a shared machine the noise comes in bursts, which
// fall on both halves of a pair alike.
func inTurns(b *testing.B, name string, measured func(), baseName string, baseline func()) {
	b.Helper()
	timed := func(fn func()) time.Duration {
		start := time.Now()
		fn()
		return time.Since(start)
	}
	var m, base, ratios []float64
	b.ResetTimer()
	for i := range b.N {
		var dm, db time.Duration
		if i%2 == 0 {
			dm, db = timed(measured), timed(baseline)
		} else {
			db, dm = timed(baseline), timed(measured)
		}
		m, base = append(m, dm.Seconds()*1000), append(base, db.Seconds()*1000)
		ratios = append(ratios, dm.Seconds()/db.Seconds())
	}
	b.StopTimer()
	b.ReportMetric(median(m), name+"-p50-ms")
	b.ReportMetric(median(base), baseName+"-p50-ms")
	b.ReportMetric(median(ratios), name+"/"+baseName)
}

func median(x []float64) float64 {
	x = slices.Clone(x)
	slices.Sort(x)
	return x[len(x)/2]
}

// TestPasswordsAreNormalised is issue 14's item 9: the NFC and NFD forms of one passphrase
// were different passwords. Both now hash to the same NFKC form; a hash stored from the
// bytes as typed before still verifies, once, and asks to be replaced.
func TestPasswordsAreNormalised(t *testing.T) {
	h := NewHasher(fastParams, 2)
	ctx := context.Background()
	composed, decomposed := "Zoë Ærø walks to Škoda", "Zoe\u0308 Ærø walks to S\u030Ckoda"
	phc, err := h.Hash(ctx, decomposed)
	if err != nil {
		t.Fatal(err)
	}
	for _, typed := range []string{composed, decomposed} {
		if ok, rehash, err := h.Verify(ctx, typed, phc); err != nil || !ok || rehash {
			t.Errorf("Verify(%q) = %v, %v, %v; want true, false, nil", typed, ok, rehash, err)
		}
	}
	// A full-width letter from an input method is its plain letter (NFKC).
	if ok, _, _ := h.Verify(ctx, "Ｚoë Ærø walks to Škoda", phc); !ok {
		t.Error("a full-width Z does not verify as Z")
	}
	// A hash made before normalisation, from the decomposed bytes as typed.
	legacy := h.hashBytes(decomposed)
	ok, rehash, err := h.Verify(ctx, decomposed, legacy)
	if err != nil || !ok || !rehash {
		t.Errorf("Verify(legacy hash) = %v, %v, %v; want true and a rehash", ok, rehash, err)
	}
	if ok, _, _ := h.Verify(ctx, "Zoe\u0308 Ærø walks to S\u030Ckodx", legacy); ok {
		t.Error("a wrong password verified against a legacy hash")
	}
}
