// Package auth owns passwords: argon2id hashing with a bound on concurrent hashes, and the
// password policy of SPEC R-RESET (NIST SP 800-63B rev. 4).
package auth

import (
	"context"
	"crypto/rand"
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"fmt"
	"runtime"
	"strings"
	"sync"
	"time"

	"portal/auth/argon2id"
)

// Params are argon2id's cost parameters.
type Params struct {
	Memory  uint32 // KiB
	Time    uint32
	Threads uint8
	KeyLen  uint32
	SaltLen uint32
}

// DefaultParams are OWASP's minimum for argon2id: m=19 MiB, t=2, p=1.
var DefaultParams = Params{Memory: 19 * 1024, Time: 2, Threads: 1, KeyLen: 32, SaltLen: 16}

// ErrMalformedHash is returned for a stored hash that is not an argon2id PHC string.
var ErrMalformedHash = errors.New("auth: malformed password hash")

// Hasher hashes and verifies passwords. At most `slots` hashes run at once, so a burst of
// logins costs at most slots × Memory and can't starve the rest of the server of CPU.
type Hasher struct {
	params Params
	slots  chan struct{}
	// memories keeps the working memory of finished hashes for the next ones, at most one
	// per slot: hashing then allocates nothing, and a burst of logins sets off no garbage
	// collections (each of which has to stop the low-priority hashing threads too).
	memories chan *argon2id.Memory
	dummy    string      // hash of a random password, verified for unknown users to keep timing equal
	work     chan func() // set by RunInBackground: hashes run on low-priority threads
}

// NewHasher returns a Hasher that runs at most slots hashes at once.
func NewHasher(p Params, slots int) *Hasher {
	slots = max(1, slots)
	h := &Hasher{params: p, slots: make(chan struct{}, slots), memories: make(chan *argon2id.Memory, slots)}
	secret := make([]byte, 32)
	_, _ = rand.Read(secret)
	h.dummy = h.hash(nil, string(secret))
	return h
}

// acquire takes a slot and the working memory that goes with it; release gives both back.
func (h *Hasher) acquire(ctx context.Context) (*argon2id.Memory, error) {
	select {
	case h.slots <- struct{}{}:
	case <-ctx.Done():
		return nil, ctx.Err()
	}
	select {
	case mem := <-h.memories:
		return mem, nil
	default:
		return &argon2id.Memory{}, nil
	}
}

func (h *Hasher) release(mem *argon2id.Memory) {
	select {
	case h.memories <- mem:
	default: // cannot happen: there are no more memories than slots
	}
	<-h.slots
}

// RunInBackground moves hashing onto one OS thread per slot whose scheduling priority is
// lowered (SCHED_IDLE on Linux), and which rests after each hash as long as the hash took: a
// burst of logins then takes only CPU that page views leave over, and at most half of it.
// The caller should give the Go scheduler that many extra Ps (runtime.GOMAXPROCS) so that
// hashing threads never hold the ones pages run on. Call it once, before the hasher is used.
func (h *Hasher) RunInBackground() {
	h.work = make(chan func())
	var ready sync.WaitGroup
	for i := 0; i < cap(h.slots); i++ {
		ready.Add(1)
		go func() {
			runtime.LockOSThread() // never unlocked: the thread keeps its priority and serves only hashing
			_ = lowerThreadPriority()
			ready.Done()
			for job := range h.work {
				start := time.Now()
				job()
				// Rest as long as the hash took before taking the next: a burst of logins
				// then uses at most half of each hashing thread's time. Low priority alone
				// did not keep pages fast on a shared (virtual) machine: any CPU-bound
				// thread, even one in SCHED_IDLE, doubled the p99 of page views, since
				// the host schedules a busy guest's CPUs less promptly. A single login
				// waits for nothing; a queue of them takes twice as long.
				time.Sleep(time.Since(start))
			}
		}()
	}
	ready.Wait() // every hashing thread runs at its lower priority before the first hash
}

// compute runs fn on a hashing thread when RunInBackground was called, else right here.
// The caller holds a slot, so a hashing thread is always free.
func (h *Hasher) compute(fn func()) {
	if h.work == nil {
		fn()
		return
	}
	done := make(chan struct{})
	h.work <- func() { fn(); close(done) }
	<-done
}

// Hash returns the PHC string of password with a fresh random salt.
func (h *Hasher) Hash(ctx context.Context, password string) (string, error) {
	mem, err := h.acquire(ctx)
	if err != nil {
		return "", err
	}
	defer h.release(mem)
	var phc string
	h.compute(func() { phc = h.hash(mem, password) })
	return phc, nil
}

// hash hashes password with a fresh salt in mem (nil: memory of its own).
func (h *Hasher) hash(mem *argon2id.Memory, password string) string {
	salt := make([]byte, h.params.SaltLen)
	_, _ = rand.Read(salt) // crypto/rand never fails on supported platforms
	key := argon2id.IDKey(mem, []byte(password), salt, h.params.Time, h.params.Memory, h.params.Threads, h.params.KeyLen)
	b64 := base64.RawStdEncoding
	return fmt.Sprintf("$argon2id$v=%d$m=%d,t=%d,p=%d$%s$%s", argon2id.Version,
		h.params.Memory, h.params.Time, h.params.Threads, b64.EncodeToString(salt), b64.EncodeToString(key))
}

// Verify reports whether password matches the PHC string phc, and whether the hash should be
// replaced because it was made with weaker parameters than the hasher's. An empty phc (no
// password set) verifies the dummy hash and fails, taking the same time as a real check.
func (h *Hasher) Verify(ctx context.Context, password, phc string) (ok, rehash bool, err error) {
	mem, err := h.acquire(ctx)
	if err != nil {
		return false, false, err
	}
	defer h.release(mem)
	if phc == "" {
		h.compute(func() { _, _ = verify(mem, password, h.dummy) })
		return false, false, nil
	}
	var p verified
	h.compute(func() { p, err = verify(mem, password, phc) })
	if err != nil {
		return false, false, err
	}
	if p.matched {
		rehash = p.Memory < h.params.Memory || p.Time < h.params.Time || p.KeyLen < h.params.KeyLen
	}
	return p.matched, rehash, nil
}

// VerifyDummy spends the time of one verification on nothing: for unknown user names.
func (h *Hasher) VerifyDummy(ctx context.Context, password string) error {
	_, _, err := h.Verify(ctx, password, "")
	return err
}

type verified struct {
	Params
	matched bool
}

func verify(mem *argon2id.Memory, password, phc string) (verified, error) {
	parts := strings.Split(phc, "$")
	if len(parts) != 6 || parts[1] != "argon2id" {
		return verified{}, ErrMalformedHash
	}
	var version int
	if _, err := fmt.Sscanf(parts[2], "v=%d", &version); err != nil || version != argon2id.Version {
		return verified{}, ErrMalformedHash
	}
	var p Params
	if _, err := fmt.Sscanf(parts[3], "m=%d,t=%d,p=%d", &p.Memory, &p.Time, &p.Threads); err != nil {
		return verified{}, ErrMalformedHash
	}
	b64 := base64.RawStdEncoding
	salt, err := b64.DecodeString(parts[4])
	if err != nil {
		return verified{}, ErrMalformedHash
	}
	want, err := b64.DecodeString(parts[5])
	if err != nil || len(want) == 0 || p.Memory == 0 || p.Time == 0 || p.Threads == 0 {
		return verified{}, ErrMalformedHash
	}
	p.SaltLen, p.KeyLen = uint32(len(salt)), uint32(len(want))
	got := argon2id.IDKey(mem, []byte(password), salt, p.Time, p.Memory, p.Threads, p.KeyLen)
	return verified{Params: p, matched: subtle.ConstantTimeCompare(got, want) == 1}, nil
}
