package secrets_test

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"portal/secrets"
)

func TestSealedValuesOpenOnlyWithTheirKeyAndContext(t *testing.T) {
	old, err := secrets.Parse([]byte(secrets.NewKeyLine()))
	if err != nil {
		t.Fatal(err)
	}
	secret := []byte("JBSWY3DPEHPK3PXP")
	sealed := old.Seal(secret, []byte("totp:7"))
	if bytes.Contains(sealed, secret) {
		t.Fatal("sealed value holds the secret in clear")
	}
	if again := old.Seal(secret, []byte("totp:7")); bytes.Equal(again, sealed) {
		t.Error("two seals of the same value are equal: the nonce is not fresh")
	}
	if got, err := old.Open(sealed, []byte("totp:7")); err != nil || !bytes.Equal(got, secret) {
		t.Fatalf("open: got %q, %v; want %q", got, err, secret)
	}
	if _, err := old.Open(sealed, []byte("totp:8")); !errors.Is(err, secrets.ErrCannotOpen) {
		t.Errorf("open for another contact: error %v, want ErrCannotOpen", err)
	}
	damaged := bytes.Clone(sealed)
	damaged[len(damaged)-1] ^= 1
	if _, err := old.Open(damaged, []byte("totp:7")); !errors.Is(err, secrets.ErrCannotOpen) {
		t.Errorf("open a damaged value: error %v, want ErrCannotOpen", err)
	}
	other, _ := secrets.Parse([]byte(secrets.NewKeyLine()))
	if _, err := other.Open(sealed, []byte("totp:7")); !errors.Is(err, secrets.ErrCannotOpen) {
		t.Errorf("open with another key: error %v, want ErrCannotOpen", err)
	}
	for _, short := range [][]byte{nil, sealed[:3], sealed[:10]} {
		if _, err := old.Open(short, []byte("totp:7")); !errors.Is(err, secrets.ErrCannotOpen) {
			t.Errorf("open %d bytes: error %v, want ErrCannotOpen", len(short), err)
		}
	}
}

// During a rotation the file holds the new key first and the old one after it: values of
// either open, new ones are sealed with the new key, and Reseal moves old ones over.
func TestRotation(t *testing.T) {
	oldLine, newLine := secrets.NewKeyLine(), secrets.NewKeyLine()
	old, _ := secrets.Parse([]byte(oldLine))
	sealed := old.Seal([]byte("secret"), []byte("ctx"))
	both, err := secrets.Parse([]byte("# rotation in progress\n" + newLine + "\n\n" + oldLine + "\n"))
	if err != nil {
		t.Fatal(err)
	}
	if both.Current(sealed) {
		t.Error("a value of the old key counts as current")
	}
	if !both.Known(sealed) {
		t.Error("a value of the old key is unknown to a file that still holds it")
	}
	resealed, err := both.Reseal(sealed, []byte("ctx"))
	if err != nil {
		t.Fatal(err)
	}
	if !both.Current(resealed) {
		t.Error("a resealed value is not under the new key")
	}
	onlyNew, _ := secrets.Parse([]byte(newLine))
	if got, err := onlyNew.Open(resealed, []byte("ctx")); err != nil || string(got) != "secret" {
		t.Errorf("open the resealed value with the new key alone: got %q, %v", got, err)
	}
}

func TestKeyFiles(t *testing.T) {
	path := filepath.Join(t.TempDir(), "portal.db.secrets-key")
	k, created, err := secrets.LoadOrCreate(path)
	if err != nil || !created {
		t.Fatalf("create: created %v, error %v; want a new file", created, err)
	}
	info, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if perm := info.Mode().Perm(); perm != 0o600 {
		t.Errorf("key file mode %o, want 600", perm)
	}
	sealed := k.Seal([]byte("x"), nil)
	again, created, err := secrets.LoadOrCreate(path)
	if err != nil || created {
		t.Fatalf("second start: created %v, error %v; want the file read", created, err)
	}
	if _, err := again.Open(sealed, nil); err != nil {
		t.Errorf("the key read back does not open what the created one sealed: %v", err)
	}
	if _, err := secrets.Load(filepath.Join(t.TempDir(), "missing")); err == nil {
		t.Error("Load of a missing file: no error")
	}
	for _, bad := range []string{"", "# only a comment\n", "not base64!\n", "c2hvcnQ=\n"} {
		if _, err := secrets.Parse([]byte(bad)); err == nil {
			t.Errorf("Parse(%q): no error", bad)
		} else if bad != "" && !strings.Contains(err.Error(), "secrets") {
			t.Errorf("Parse(%q): error %q does not say what it is about", bad, err)
		}
	}
}
