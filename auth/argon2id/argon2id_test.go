// Copyright 2017 The Go Authors. All rights reserved.
// Use of this source code is governed by a BSD-style
// license that can be found in the LICENSE file.

package argon2id

import (
	"bytes"
	"encoding/hex"
	"math/rand/v2"
	"runtime"
	"testing"

	"golang.org/x/crypto/argon2"
)

// The known-answer test of RFC 9106 and the Argon2id vectors of x/crypto's tests.
var (
	genKatPassword = []byte{
		0x01, 0x01, 0x01, 0x01, 0x01, 0x01, 0x01, 0x01,
		0x01, 0x01, 0x01, 0x01, 0x01, 0x01, 0x01, 0x01,
		0x01, 0x01, 0x01, 0x01, 0x01, 0x01, 0x01, 0x01,
		0x01, 0x01, 0x01, 0x01, 0x01, 0x01, 0x01, 0x01,
	}
	genKatSalt   = []byte{0x02, 0x02, 0x02, 0x02, 0x02, 0x02, 0x02, 0x02, 0x02, 0x02, 0x02, 0x02, 0x02, 0x02, 0x02, 0x02}
	genKatSecret = []byte{0x03, 0x03, 0x03, 0x03, 0x03, 0x03, 0x03, 0x03}
	genKatAAD    = []byte{0x04, 0x04, 0x04, 0x04, 0x04, 0x04, 0x04, 0x04, 0x04, 0x04, 0x04, 0x04}
)

var rfc9106Argon2id = []byte{
	0x0d, 0x64, 0x0d, 0xf5, 0x8d, 0x78, 0x76, 0x6c,
	0x08, 0xc0, 0x37, 0xa3, 0x4a, 0x8b, 0x53, 0xc9,
	0xd0, 0x1e, 0xf0, 0x45, 0x2d, 0x75, 0xb6, 0x5e,
	0xb5, 0x25, 0x20, 0xe9, 0x6b, 0x01, 0xe6, 0x59,
}

var vectors = []struct {
	time, memory uint32
	threads      uint8
	hash         string
}{
	{time: 1, memory: 64, threads: 1, hash: "655ad15eac652dc59f7170a7332bf49b8469be1fdb9c28bb"},
	{time: 2, memory: 64, threads: 1, hash: "068d62b26455936aa6ebe60060b0a65870dbfa3ddf8d41f7"},
	{time: 2, memory: 64, threads: 2, hash: "350ac37222f436ccb5c0972f1ebd3bf6b958bf2071841362"},
	{time: 3, memory: 256, threads: 2, hash: "4668d30ac4187e6878eedeacf0fd83c5a0a30db2cc16ef0b"},
	{time: 4, memory: 4096, threads: 4, hash: "145db9733a9f4ee43edf33c509be96b934d505a4efb33c5a"},
	{time: 4, memory: 1024, threads: 8, hash: "8dafa8e004f8ea96bf7c0f93eecf67a6047476143d15577f"},
	{time: 2, memory: 64, threads: 3, hash: "4a15b31aec7c2590b87d1f520be7d96f56658172deaa3079"},
	{time: 3, memory: 1024, threads: 6, hash: "1640b932f4b60e272f5d2207b9a9c626ffa1bd88d2349016"},
}

// TestKnownAnswers runs each vector in fresh memory and again in memory that the previous
// derivation left dirty: reuse must not change a single bit.
func TestKnownAnswers(t *testing.T) {
	var reused Memory
	for _, mem := range []*Memory{nil, &reused, &reused} {
		if got := deriveKey(mem, genKatPassword, genKatSalt, genKatSecret, genKatAAD, 3, 32, 4, 32); !bytes.Equal(got, rfc9106Argon2id) {
			t.Errorf("RFC 9106 argon2id: got %x, want %x", got, rfc9106Argon2id)
		}
		for i, v := range vectors {
			want, _ := hex.DecodeString(v.hash)
			if got := IDKey(mem, []byte("password"), []byte("somesalt"), v.time, v.memory, v.threads, uint32(len(want))); !bytes.Equal(got, want) {
				t.Errorf("vector %d: got %x, want %x", i, got, want)
			}
		}
	}
}

// TestSameAsXCrypto compares random derivations with x/crypto's, all in one reused Memory
// that grows and shrinks between them, with one-lane derivations in C and in Go.
func TestSameAsXCrypto(t *testing.T) {
	for _, c := range []bool{true, false} {
		useC = c
		testSameAsXCrypto(t)
	}
	useC = true
}

func testSameAsXCrypto(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	var mem Memory
	for i := 0; i < 60; i++ {
		password := make([]byte, rng.IntN(40))
		salt := make([]byte, 8+rng.IntN(24))
		for _, b := range [][]byte{password, salt} {
			for j := range b {
				b[j] = byte(rng.Uint32())
			}
		}
		time, memory, threads, keyLen := 1+rng.Uint32N(3), 8+rng.Uint32N(2048), uint8(1+rng.IntN(4)), 4+rng.Uint32N(60)
		want := argon2.IDKey(password, salt, time, memory, threads, keyLen)
		if got := IDKey(&mem, password, salt, time, memory, threads, keyLen); !bytes.Equal(got, want) {
			t.Fatalf("C %v, t=%d m=%d p=%d len=%d: got %x, want %x", useC, time, memory, threads, keyLen, got, want)
		}
	}
}

// TestReusedMemoryAllocatesLittle: with its Memory kept, a 19 MiB derivation allocates only
// small things (hash state, the key), not its working memory.
func TestReusedMemoryAllocatesLittle(t *testing.T) {
	var mem Memory
	IDKey(&mem, []byte("pw"), []byte("saltsalt"), 1, 19*1024, 1, 32)
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	for i := 0; i < 5; i++ {
		IDKey(&mem, []byte("pw"), []byte("saltsalt"), 2, 19*1024, 1, 32)
	}
	runtime.ReadMemStats(&after)
	if n := after.TotalAlloc - before.TotalAlloc; n > 1<<20 {
		t.Errorf("5 derivations in kept memory allocated %d bytes, want under 1 MiB", n)
	}
}

// BenchmarkIDKey compares a login's derivation (m = 19 MiB, t = 2, p = 1) here, in C and in
// Go, with x/crypto's.
func BenchmarkIDKey(b *testing.B) {
	var mem Memory
	for _, c := range []bool{true, false} {
		name := map[bool]string{true: "C", false: "Go"}[c]
		b.Run(name, func(b *testing.B) {
			useC = c
			defer func() { useC = true }()
			for b.Loop() {
				IDKey(&mem, []byte("pw"), []byte("saltsalt"), 2, 19*1024, 1, 32)
			}
		})
	}
	b.Run("x-crypto", func(b *testing.B) {
		for b.Loop() {
			argon2.IDKey([]byte("pw"), []byte("saltsalt"), 2, 19*1024, 1, 32)
		}
	})
}
