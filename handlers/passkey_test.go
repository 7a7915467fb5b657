package handlers_test

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"encoding/json"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/go-webauthn/webauthn/protocol/webauthncbor"

	"portal/db"
	"portal/portaltest"
)

// softKey is a passkey held in the test: what a phone or a security key does for a browser,
// done by hand (a P-256 key, "none" attestation), so that passkeys are tested through the
// real app on both engines. The browser's own dialog is tested in e2e with Chromium's
// virtual authenticator.
type softKey struct {
	t      *testing.T
	origin string
	rpID   string
	id     []byte
	key    *ecdsa.PrivateKey
	count  uint32
	handle []byte // the user handle the portal gave at registration
}

func newSoftKey(t *testing.T) *softKey {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	id := make([]byte, 16)
	rand.Read(id)
	return &softKey{t: t, origin: "https://portal.example.test", rpID: "portal.example.test", id: id, key: key}
}

var b64u = base64.RawURLEncoding

// options posts to path (with the page's CSRF token in the header, as static/passkey.js
// does) and decodes the dialog's options.
func (k *softKey) options(b *portaltest.Browser, path string) map[string]any {
	k.t.Helper()
	resp := postWith(b, path, nil, "X-CSRF-Token", b.CSRF)
	if resp.StatusCode != http.StatusOK || !strings.HasPrefix(resp.Header.Get("Content-Type"), "application/json") {
		k.t.Fatalf("POST %s: status %d (%s), want 200 JSON; body:\n%.300s", path, resp.StatusCode, resp.Header.Get("Content-Type"), resp.Body)
	}
	var o struct {
		PublicKey map[string]any `json:"publicKey"`
	}
	if err := json.Unmarshal([]byte(resp.Body), &o); err != nil {
		k.t.Fatal(err)
	}
	return o.PublicKey
}

func (k *softKey) clientData(kind string, options map[string]any) []byte {
	data, _ := json.Marshal(map[string]any{"type": kind, "challenge": options["challenge"], "origin": k.origin, "crossOrigin": false})
	return data
}

func (k *softKey) authData(flags byte, attested []byte) []byte {
	rp := sha256.Sum256([]byte(k.rpID))
	out := append(rp[:], flags)
	out = binary.BigEndian.AppendUint32(out, k.count)
	return append(out, attested...)
}

// register answers the options of a registration: the credential as JSON.
func (k *softKey) register(options map[string]any) string {
	k.t.Helper()
	user := options["user"].(map[string]any)
	k.handle, _ = b64u.DecodeString(user["id"].(string))
	cose, err := webauthncbor.Marshal(map[int]any{1: 2, 3: -7, -1: 1,
		-2: k.key.X.FillBytes(make([]byte, 32)), -3: k.key.Y.FillBytes(make([]byte, 32))})
	if err != nil {
		k.t.Fatal(err)
	}
	attested := make([]byte, 16) // AAGUID of none
	attested = binary.BigEndian.AppendUint16(attested, uint16(len(k.id)))
	attested = append(append(attested, k.id...), cose...)
	object, err := webauthncbor.Marshal(map[string]any{"fmt": "none", "attStmt": map[string]any{},
		"authData": k.authData(0x45, attested)}) // user present, verified, attested credential data
	if err != nil {
		k.t.Fatal(err)
	}
	cred, _ := json.Marshal(map[string]any{"id": b64u.EncodeToString(k.id), "rawId": b64u.EncodeToString(k.id), "type": "public-key",
		"clientExtensionResults": map[string]any{}, "response": map[string]any{
			"clientDataJSON": b64u.EncodeToString(k.clientData("webauthn.create", options)), "attestationObject": b64u.EncodeToString(object),
			"transports": []string{"internal"}}})
	return string(cred)
}

// sign answers the options of a sign-in: the assertion as JSON.
func (k *softKey) sign(options map[string]any) string {
	k.t.Helper()
	k.count++
	authData := k.authData(0x05, nil)
	clientData := k.clientData("webauthn.get", options)
	digest := sha256.Sum256(append(authData, func() []byte { h := sha256.Sum256(clientData); return h[:] }()...))
	sig, err := ecdsa.SignASN1(rand.Reader, k.key, digest[:])
	if err != nil {
		k.t.Fatal(err)
	}
	cred, _ := json.Marshal(map[string]any{"id": b64u.EncodeToString(k.id), "rawId": b64u.EncodeToString(k.id), "type": "public-key",
		"clientExtensionResults": map[string]any{}, "response": map[string]any{
			"clientDataJSON": b64u.EncodeToString(clientData), "authenticatorData": b64u.EncodeToString(authData),
			"signature": b64u.EncodeToString(sig), "userHandle": b64u.EncodeToString(k.handle)}})
	return string(cred)
}

func TestPasskeyAddedAndUsedAsTheSecondStep(t *testing.T) {
	portaltest.OnEachEngine(t, func(t *testing.T, engine portaltest.Engine) {
		e := newLoginEnv(t, engine)
		me := e.Login(e.member.Email)
		if !hasTestID(t, me.Get("/profile").Body, "passkey-form") {
			t.Fatal("Your profile offers no passkey over https")
		}
		key := newSoftKey(t)
		options := key.options(me, "/profile/passkeys/options")
		if sel, _ := options["authenticatorSelection"].(map[string]any); sel["userVerification"] != "preferred" {
			t.Errorf("registration asks user verification %v, want preferred", sel["userVerification"])
		}
		resp := me.PostForm("/profile/passkeys", url.Values{"name": {"Work laptop"}, "credential": {key.register(options)}})
		if resp.StatusCode != http.StatusOK || !hasTestID(t, resp.Body, "recovery-codes") {
			t.Fatalf("add the first passkey: status %d, want 200 with the recovery codes; body:\n%s", resp.StatusCode, resp.Body)
		}
		if got := testText(t, me.Get("/profile").Body, "passkey-name"); got != "Work laptop" {
			t.Errorf("passkey listed as %q, want Work laptop", got)
		}
		keys, err := e.Store.Passkeys(e.Ctx, e.member.ID, "")
		if err != nil || len(keys) != 1 || strings.Contains(string(keys[0].Record), "publicKey") {
			t.Fatalf("stored passkeys %d (%v); want one, its record sealed", len(keys), err)
		}

		// The same answer can't register twice: its challenge was used up.
		again := me.PostForm("/profile/passkeys", url.Values{"name": {"Again"}, "credential": {key.register(options)}})
		if !strings.Contains(testText(t, me.Get(again.Header.Get("Location")).Body, "alert-error"), "could not be added") {
			t.Error("a registration answer replayed was not refused")
		}

		b := passwordStep(t, e.Env, e.member.Email, portaltest.Password, "/login/two-step")
		page := b.Get("/login/two-step")
		if !strings.Contains(page.Body, "Use your passkey") || strings.Contains(page.Body, "Enter the 6-digit code") {
			t.Error("second step of a contact with only a passkey: want Use your passkey and no code field")
		}
		login := key.options(b, "/login/passkey/options")
		if login["userVerification"] != "preferred" {
			t.Errorf("sign-in asks user verification %v, want preferred", login["userVerification"])
		}
		assertion := key.sign(login)
		resp = b.PostForm("/login/passkey", url.Values{"credential": {assertion}})
		if resp.StatusCode != http.StatusSeeOther || resp.Header.Get("Location") != "/" {
			t.Fatalf("passkey: status %d to %q, want 303 to /; body:\n%s", resp.StatusCode, resp.Header.Get("Location"), resp.Body)
		}
		if got := signedInAs(t, b); got != e.member.Name() {
			t.Errorf("signed in as %q, want %q", got, e.member.Name())
		}

		// A replayed assertion fails and counts as a failed login.
		b = passwordStep(t, e.Env, e.member.Email, portaltest.Password, "/login/two-step")
		key.options(b, "/login/passkey/options")
		if resp := b.PostForm("/login/passkey", url.Values{"credential": {assertion}}); resp.StatusCode != http.StatusUnprocessableEntity {
			t.Errorf("replayed assertion: status %d, want 422", resp.StatusCode)
		}
		if got := e.Reload(e.member).FailedLogins; got != 1 {
			t.Errorf("failed logins after a replayed assertion: %d, want 1", got)
		}
		if got := auditCount(t, e, db.ActionSecondStepPassed, e.member); got != 1 {
			t.Errorf("second steps passed: %d, want 1", got)
		}

		// Rename, and remove: the last factor gone, two-step verification is off.
		me.Get("/profile")
		if resp := me.PostForm("/profile/passkeys/"+itoa(keys[0].ID)+"/rename", url.Values{"name": {"Old laptop"}}); resp.StatusCode != http.StatusSeeOther {
			t.Errorf("rename: status %d", resp.StatusCode)
		}
		if got := testText(t, me.Get("/profile").Body, "passkey-name"); got != "Old laptop" {
			t.Errorf("renamed passkey listed as %q", got)
		}
		me.PostForm("/profile/passkeys/"+itoa(keys[0].ID)+"/remove", nil)
		if c := e.Reload(e.member); c.TwoFactor {
			t.Error("two-step verification still on after the last passkey was removed")
		}
		if n, _ := e.Store.RecoveryCodesLeft(e.Ctx, e.member.ID); n != 0 {
			t.Errorf("recovery codes left after the last factor went: %d, want 0", n)
		}
	})
}

// Passkeys need a relying party the browser accepts: https, or localhost. Elsewhere the
// portal does not offer them.
func TestNoPasskeysOnPlainHTTP(t *testing.T) {
	e := newLoginEnv(t, portaltest.SQLite, portaltest.Options{Args: []string{"--base-url", "http://10.0.0.5:8080"}})
	me := e.Login(e.member.Email)
	page := me.Get("/profile")
	if hasTestID(t, page.Body, "passkey-form") || !hasTestID(t, page.Body, "passkeys-unavailable") {
		t.Error("passkeys offered at an IP address over http")
	}
	if resp := postWith(me, "/profile/passkeys/options", nil, "X-CSRF-Token", me.CSRF); resp.StatusCode != http.StatusNotFound {
		t.Errorf("passkey options at an IP address: status %d, want 404", resp.StatusCode)
	}
}
