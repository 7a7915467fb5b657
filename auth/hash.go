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
	"strings"

	"golang.org/x/crypto/argon2"
	"golang.org/x/text/unicode/norm"
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

// Hasher hashes and verifies passwords with golang.org/x/crypto/argon2. At most `slots`
// hashes run at once, so a burst of logins holds at most slots × Memory of working memory
// and queues for the CPU instead of growing without bound.
type Hasher struct {
	params Params
	slots  chan struct{}
	dummy  string // hash of a random password, verified for unknown users to keep timing equal
}

// NewHasher returns a Hasher that runs at most slots hashes at once (at least one).
func NewHasher(p Params, slots int) *Hasher {
	h := &Hasher{params: p, slots: make(chan struct{}, max(1, slots))}
	secret := make([]byte, 32)
	_, _ = rand.Read(secret) // crypto/rand never fails on supported platforms
	h.dummy = h.hashBytes(string(secret))
	return h
}

// acquire waits for a free slot, or gives up when ctx ends (the client went away).
func (h *Hasher) acquire(ctx context.Context) error {
	select {
	case h.slots <- struct{}{}:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

func (h *Hasher) release() { <-h.slots }

// Hash returns the PHC string of password with a fresh random salt.
func (h *Hasher) Hash(ctx context.Context, password string) (string, error) {
	if err := h.acquire(ctx); err != nil {
		return "", err
	}
	defer h.release()
	return h.hashBytes(Normalize(password)), nil
}

// Normalize is the form of a password that is hashed: Unicode NFKC, as NIST SP 800-63B
// rev. 4 asks, so that "é" typed as one character or as "e" and an accent, or a full-width
// letter from an input method, is the same password on every device.
func Normalize(password string) string { return norm.NFKC.String(password) }

// hashBytes hashes password, as given, with a fresh salt; the caller holds a slot (or is
// NewHasher).
func (h *Hasher) hashBytes(password string) string {
	salt := make([]byte, h.params.SaltLen)
	_, _ = rand.Read(salt)
	key := argon2.IDKey([]byte(password), salt, h.params.Time, h.params.Memory, h.params.Threads, h.params.KeyLen)
	b64 := base64.RawStdEncoding
	return fmt.Sprintf("$argon2id$v=%d$m=%d,t=%d,p=%d$%s$%s", argon2.Version,
		h.params.Memory, h.params.Time, h.params.Threads, b64.EncodeToString(salt), b64.EncodeToString(key))
}

// Verify reports whether password matches the PHC string phc, and whether the hash should be
// replaced: because it was made with weaker parameters than the hasher's, or from the
// password as typed before passwords were normalised (Normalize). An empty phc (no password
// set) verifies the dummy hash and fails, taking the same time as a real check.
func (h *Hasher) Verify(ctx context.Context, password, phc string) (ok, rehash bool, err error) {
	if phc == "" {
		_, _, err := h.verify(ctx, Normalize(password), h.dummy)
		return false, false, err
	}
	normalized := Normalize(password)
	ok, stored, err := h.verify(ctx, normalized, phc)
	if err == nil && !ok && normalized != password {
		// Hashes stored before normalisation were made from the password as typed: try that
		// form once, and store the normalised one when it matches.
		ok, stored, err = h.verify(ctx, password, phc)
		rehash = ok
	}
	if !ok || err != nil {
		return false, false, err
	}
	rehash = rehash || stored.Memory < h.params.Memory || stored.Time < h.params.Time || stored.KeyLen < h.params.KeyLen
	return true, rehash, nil
}

// verify derives the key of password with phc's salt and parameters, in a slot, and
// compares it with phc's key in constant time.
func (h *Hasher) verify(ctx context.Context, password, phc string) (bool, Params, error) {
	stored, salt, want, err := parsePHC(phc)
	if err != nil {
		return false, Params{}, err
	}
	if err := h.acquire(ctx); err != nil {
		return false, Params{}, err
	}
	defer h.release()
	got := argon2.IDKey([]byte(password), salt, stored.Time, stored.Memory, stored.Threads, stored.KeyLen)
	return subtle.ConstantTimeCompare(got, want) == 1, stored, nil
}

// VerifyDummy spends the time of one verification on nothing: for unknown user names.
func (h *Hasher) VerifyDummy(ctx context.Context, password string) error {
	_, _, err := h.Verify(ctx, password, "")
	return err
}

// parsePHC reads $argon2id$v=19$m=…,t=…,p=…$salt$key, the format hash writes.
func parsePHC(phc string) (p Params, salt, key []byte, err error) {
	parts := strings.Split(phc, "$")
	if len(parts) != 6 || parts[0] != "" || parts[1] != "argon2id" {
		return Params{}, nil, nil, ErrMalformedHash
	}
	var version int
	if _, err := fmt.Sscanf(parts[2], "v=%d", &version); err != nil || version != argon2.Version {
		return Params{}, nil, nil, ErrMalformedHash
	}
	if _, err := fmt.Sscanf(parts[3], "m=%d,t=%d,p=%d", &p.Memory, &p.Time, &p.Threads); err != nil {
		return Params{}, nil, nil, ErrMalformedHash
	}
	b64 := base64.RawStdEncoding
	if salt, err = b64.DecodeString(parts[4]); err != nil {
		return Params{}, nil, nil, ErrMalformedHash
	}
	if key, err = b64.DecodeString(parts[5]); err != nil || len(key) == 0 || p.Memory == 0 || p.Time == 0 || p.Threads == 0 {
		return Params{}, nil, nil, ErrMalformedHash
	}
	p.SaltLen, p.KeyLen = uint32(len(salt)), uint32(len(key))
	return p, salt, key, nil
}
