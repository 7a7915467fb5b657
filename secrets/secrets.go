// Package secrets seals the few values the portal must read back but that a copy of the
// database must not give away: the secrets of authenticator apps and the records of
// passkeys. It uses AES-256-GCM from the standard library with keys kept in a file outside
// the database (--secrets-key-file), so a stolen database or backup alone reveals nothing.
//
// The key file holds one key per line, base64 of 32 random bytes; lines that are empty or
// start with # are ignored. The first key seals; every key opens. Rotating is adding a new
// key as the first line, restarting, re-sealing what the old keys sealed (portal secrets
// rotate), and then removing the old lines (docs/OPERATIONS.md).
package secrets

import (
	"bufio"
	"bytes"
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"strings"
)

// KeySize is the size of a key: AES-256.
const KeySize = 32

// A sealed value is version | key id | nonce | ciphertext and tag. The key id says which key
// of the file sealed it, so that a file with several keys (during a rotation) opens each
// value with the right one and rotation can tell what is left to re-seal.
const (
	version   byte = 1
	keyIDSize      = 4
	headerLen      = 1 + keyIDSize
)

// ErrCannotOpen: the value was not sealed by any key of the file, or it was changed, or it
// was sealed for another context (a secret copied from one contact's row to another's).
var ErrCannotOpen = errors.New("secrets: cannot open the sealed value: wrong key, wrong context or damaged")

// Keyring is the keys of a key file.
type Keyring struct {
	keys []key // keys[0] seals
}

type key struct {
	id   [keyIDSize]byte
	aead cipher.AEAD
}

// Parse reads the keys of a key file's text.
func Parse(text []byte) (*Keyring, error) {
	k := &Keyring{}
	sc := bufio.NewScanner(bytes.NewReader(text))
	for n := 1; sc.Scan(); n++ {
		line := strings.TrimSpace(sc.Text())
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		raw, err := base64.StdEncoding.DecodeString(line)
		if err != nil || len(raw) != KeySize {
			return nil, fmt.Errorf("secrets: line %d: want a key as base64 of %d random bytes (such as the output of: openssl rand -base64 32)", n, KeySize)
		}
		block, err := aes.NewCipher(raw)
		if err != nil {
			return nil, fmt.Errorf("secrets: line %d: %w", n, err)
		}
		aead, err := cipher.NewGCM(block)
		if err != nil {
			return nil, fmt.Errorf("secrets: line %d: %w", n, err)
		}
		k.keys = append(k.keys, key{id: keyID(raw), aead: aead})
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("secrets: read keys: %w", err)
	}
	if len(k.keys) == 0 {
		return nil, errors.New("secrets: the key file holds no key")
	}
	return k, nil
}

// keyID names a key without revealing it: the start of a hash of it.
func keyID(raw []byte) [keyIDSize]byte {
	sum := sha256.Sum256(append([]byte("portal secrets key id\x00"), raw...))
	var id [keyIDSize]byte
	copy(id[:], sum[:])
	return id
}

// NewKeyLine is a fresh key as a line of a key file.
func NewKeyLine() string {
	raw := make([]byte, KeySize)
	rand.Read(raw) // never fails: crypto/rand crashes the program rather than return an error
	return base64.StdEncoding.EncodeToString(raw)
}

// Load reads the key file at path. It must exist: on PostgreSQL several servers share the
// database, and a file created by each would give each its own key.
func Load(path string) (*Keyring, error) {
	text, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("secrets: read key file: %w", err)
	}
	k, err := Parse(text)
	if err != nil {
		return nil, fmt.Errorf("%w (in %s)", err, path)
	}
	return k, nil
}

// LoadOrCreate reads the key file at path, or creates it with one new key, readable by
// the portal's user alone (0600), when there is none: the default beside a SQLite file.
func LoadOrCreate(path string) (k *Keyring, created bool, err error) {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if errors.Is(err, fs.ErrExist) {
		k, err := Load(path)
		return k, false, err
	}
	if err != nil {
		return nil, false, fmt.Errorf("secrets: create key file: %w", err)
	}
	text := "# Key of the Customer Support Portal's sealed secrets (docs/OPERATIONS.md). Back it up apart from the database.\n" +
		NewKeyLine() + "\n"
	_, werr := f.WriteString(text)
	if err := errors.Join(werr, f.Sync(), f.Close()); err != nil {
		os.Remove(path)
		return nil, false, fmt.Errorf("secrets: write key file: %w", err)
	}
	k, err = Parse([]byte(text))
	return k, true, err
}

// Seal encrypts plaintext with the first key. context binds it to where it is stored (the
// row it belongs to): it must be given again to open it.
func (k *Keyring) Seal(plaintext, context []byte) []byte {
	cur := k.keys[0]
	out := make([]byte, headerLen+cur.aead.NonceSize(), headerLen+cur.aead.NonceSize()+len(plaintext)+cur.aead.Overhead())
	out[0] = version
	copy(out[1:headerLen], cur.id[:])
	rand.Read(out[headerLen:]) // a random 96-bit nonce per value: far fewer values than GCM's limit
	return cur.aead.Seal(out, out[headerLen:], plaintext, context)
}

// Open decrypts what Seal sealed with any key of the ring, for the same context.
func (k *Keyring) Open(sealed, context []byte) ([]byte, error) {
	kk, ok := k.keyOf(sealed)
	if !ok {
		return nil, ErrCannotOpen
	}
	nonceEnd := headerLen + kk.aead.NonceSize()
	if len(sealed) < nonceEnd+kk.aead.Overhead() {
		return nil, ErrCannotOpen
	}
	plain, err := kk.aead.Open(nil, sealed[headerLen:nonceEnd], sealed[nonceEnd:], context)
	if err != nil {
		return nil, ErrCannotOpen
	}
	return plain, nil
}

func (k *Keyring) keyOf(sealed []byte) (key, bool) {
	if len(sealed) < headerLen || sealed[0] != version {
		return key{}, false
	}
	for _, kk := range k.keys {
		if bytes.Equal(kk.id[:], sealed[1:headerLen]) {
			return kk, true
		}
	}
	return key{}, false
}

// Current reports whether sealed was sealed with the first key (nothing to re-seal).
func (k *Keyring) Current(sealed []byte) bool {
	return len(sealed) >= headerLen && sealed[0] == version && bytes.Equal(sealed[1:headerLen], k.keys[0].id[:])
}

// Known reports whether some key of the ring sealed sealed.
func (k *Keyring) Known(sealed []byte) bool {
	_, ok := k.keyOf(sealed)
	return ok
}

// Reseal opens sealed and seals it again with the first key.
func (k *Keyring) Reseal(sealed, context []byte) ([]byte, error) {
	plain, err := k.Open(sealed, context)
	if err != nil {
		return nil, err
	}
	return k.Seal(plain, context), nil
}

// ID names the key that seals, for the log and the operator: the hex of its key id.
func (k *Keyring) ID() string { return hex.EncodeToString(k.keys[0].id[:]) }
