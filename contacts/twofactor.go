package contacts

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base32"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/url"
	"strconv"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/go-webauthn/webauthn/protocol"
	"github.com/go-webauthn/webauthn/webauthn"
	"github.com/pquerna/otp"
	"github.com/pquerna/otp/hotp"
	"github.com/pquerna/otp/totp"

	"portal/db"
)

// Two-step verification (SPEC 3.11): a contact's authenticator app (TOTP, RFC 6238),
// passkeys (WebAuthn) and recovery codes, which the contact manages on Your profile, or sets
// up right after its password when its organization requires it.

// productName names the portal in authenticator apps and passkey dialogs.
const productName = "Customer Support Portal"

// RecoveryCodeCount is how many recovery codes a contact gets at a time.
const RecoveryCodeCount = 10

// ceremonyTTL is how long a passkey dialog may take between the portal's challenge and the
// browser's answer.
const ceremonyTTL = 5 * time.Minute

// appSetupTTL is how long a new authenticator app secret is shown again rather than
// replaced when its page is opened anew (a reload must not invalidate what was scanned).
const appSetupTTL = 10 * time.Minute

var (
	ErrCodeMissing = errors.New("no code given")
	// ErrWrongCode: a code that is not the authenticator app's current one, was used already,
	// or is not a recovery code of the contact (used or not).
	ErrWrongCode = errors.New("wrong or used code")
	// ErrNoAppSetup: no authenticator app is waiting for its first code.
	ErrNoAppSetup = errors.New("no authenticator app waiting for its first code")
	// ErrAppAlreadySet: the app's first code was taken already (a form sent again, such as
	// the page of recovery codes reloaded).
	ErrAppAlreadySet = errors.New("the authenticator app is set up already")
	// ErrPasskeysUnavailable: passkeys need the portal served over https, or on localhost.
	ErrPasskeysUnavailable = errors.New("passkeys are not available at this address")
	// ErrPasskeyFailed: the browser's answer to a passkey dialog could not be verified (or no
	// dialog was under way).
	ErrPasskeyFailed = errors.New("the passkey could not be verified")
	ErrPasskeyExists = db.ErrPasskeyExists
	// ErrNoFactor: recovery codes without a second factor would be a second password.
	ErrNoFactor = errors.New("no second factor set up")
	// ErrSecretsUnavailable: a sealed secret could not be opened with the key file (lost or
	// wrong key); the operator's log says more.
	ErrSecretsUnavailable = errors.New("the secrets key can't open the stored secret")
)

// RequiredError: the contact's organization requires two-step verification, so its last
// factor can't be removed.
type RequiredError struct{ Requirement db.Requirement }

func (e *RequiredError) Error() string {
	return "two-step verification is required by " + e.Requirement.AccountName
}

// newRelyingParty is the WebAuthn relying party of the portal served at baseURL: its host
// is the relying party id, and its origin the only one accepted. Browsers offer passkeys
// only over https, or on localhost, and never to an IP address: elsewhere it is nil.
func newRelyingParty(baseURL string, log *slog.Logger) *webauthn.WebAuthn {
	u, err := url.Parse(baseURL)
	if err != nil || u.Hostname() == "" {
		return nil
	}
	host := u.Hostname()
	if (u.Scheme != "https" && host != "localhost") || net.ParseIP(host) != nil {
		return nil
	}
	rp, err := webauthn.New(&webauthn.Config{
		RPID:          host,
		RPDisplayName: productName,
		RPOrigins:     []string{u.Scheme + "://" + u.Host},
		AuthenticatorSelection: protocol.AuthenticatorSelection{
			ResidentKey:      protocol.ResidentKeyRequirementPreferred,
			UserVerification: protocol.VerificationPreferred,
		},
		Timeouts: webauthn.TimeoutsConfig{
			Login:        webauthn.TimeoutConfig{Timeout: 2 * time.Minute, TimeoutUVD: 2 * time.Minute},
			Registration: webauthn.TimeoutConfig{Timeout: 5 * time.Minute, TimeoutUVD: 5 * time.Minute},
		},
	})
	if err != nil {
		log.Warn("passkeys are off: the base URL can't be a WebAuthn relying party", "base_url", baseURL, "err", err)
		return nil
	}
	return rp
}

// PasskeysOffered reports whether passkeys work at the configured base URL.
func (s *Service) PasskeysOffered() bool { return s.relyingParty != nil }

func (s *Service) rpID() string {
	if s.relyingParty == nil {
		return ""
	}
	return s.relyingParty.Config.RPID
}

// --- authenticator app (TOTP) ---

// The authenticator app's parameters, those every app understands: RFC 6238's 30-second
// steps, 6 digits, HMAC-SHA-1 (SHA-256 and SHA-512 are ignored by several popular apps,
// which then show wrong codes), and a 160-bit secret as RFC 4226 recommends.
const (
	totpPeriod     = 30
	totpSecretSize = 20
)

var base32NoPadding = base32.StdEncoding.WithPadding(base32.NoPadding)

func totpContext(contactID int64) []byte {
	return []byte("totp secret of contact " + strconv.FormatInt(contactID, 10))
}

func passkeyContext(contactID int64) []byte {
	return []byte("passkey of contact " + strconv.FormatInt(contactID, 10))
}

// totpStep is the RFC 6238 time step of t.
func totpStep(t time.Time) int64 { return t.Unix() / totpPeriod }

// normalizeCode keeps the digits of what was typed ("123 456", "123-456"); ok is false
// unless that leaves exactly six.
func normalizeCode(typed string) (code string, ok bool) {
	if len(typed) > 64 {
		return "", false
	}
	var b strings.Builder
	for _, r := range typed {
		switch {
		case r >= '0' && r <= '9':
			b.WriteRune(r)
		case r == ' ' || r == '-' || r == '\t':
		default:
			return "", false
		}
	}
	return b.String(), b.Len() == 6
}

// matchTOTP finds the step whose code code is: the current step of now, or the one before
// or after it (RFC 6238 section 5.2 allows one step of clock drift either way). The library
// checks each step; which one matched is what makes a second use of a code refusable.
func matchTOTP(secret []byte, code string, now time.Time) (int64, bool) {
	key := base32NoPadding.EncodeToString(secret)
	step := totpStep(now)
	for _, candidate := range []int64{step, step - 1, step + 1} {
		ok, err := hotp.ValidateCustom(code, uint64(candidate), key,
			hotp.ValidateOpts{Digits: otp.DigitsSix, Algorithm: otp.AlgorithmSHA1})
		if err == nil && ok {
			return candidate, true
		}
	}
	return 0, false
}

// AppSetup is what a contact needs to add the portal to an authenticator app: the otpauth://
// URL its QR code holds, and the secret to type in by hand.
type AppSetup struct {
	URL     string
	Secret  string // base32, as apps expect it typed
	Account string // the user name the app shows the codes under
	Issuer  string
}

// appKey is the library's key for secret, with the portal's parameters.
func appKey(secret []byte, email string) (*otp.Key, error) {
	return totp.Generate(totp.GenerateOpts{Issuer: productName, AccountName: email, Period: totpPeriod,
		Secret: secret, Digits: otp.DigitsSix, Algorithm: otp.AlgorithmSHA1})
}

// StartApp begins adding an authenticator app: a new secret waits for the first code from
// the app (ConfirmApp). A secret that is waiting already, and is recent, is kept: opening
// the page again must not undo a scan. The contact keeps its current app, if any, until the
// new one is confirmed.
func (s *Service) StartApp(ctx context.Context, actor Actor) error {
	if err := s.canSetUp(actor); err != nil {
		return err
	}
	if s.settings.Secrets == nil {
		return ErrSecretsUnavailable
	}
	return s.store.Write(ctx, func(tx *db.Tx) error {
		waiting, err := tx.TOTP(ctx, actor.ID(), false)
		if err == nil && tx.Now().Sub(waiting.CreatedAt) < appSetupTTL {
			return nil
		}
		if err != nil && !errors.Is(err, db.ErrNotFound) {
			return err
		}
		secret := make([]byte, totpSecretSize)
		rand.Read(secret) // never fails: crypto/rand crashes the program rather than return an error
		return tx.AddWaitingTOTP(ctx, actor.ID(), s.settings.Secrets.Seal(secret, totpContext(actor.ID())))
	})
}

// AppSetup reads the authenticator app waiting for its first code (ErrNoAppSetup when none
// is: StartApp first).
func (s *Service) AppSetup(ctx context.Context, actor Actor) (AppSetup, error) {
	if err := s.canSetUp(actor); err != nil {
		return AppSetup{}, err
	}
	waiting, err := s.store.TOTP(ctx, actor.ID(), false)
	if errors.Is(err, db.ErrNotFound) || (err == nil && s.Now().Sub(waiting.CreatedAt) >= appSetupTTL) {
		return AppSetup{}, ErrNoAppSetup
	}
	if err != nil {
		return AppSetup{}, err
	}
	secret, err := s.openSecret(waiting.Secret, totpContext(actor.ID()))
	if err != nil {
		return AppSetup{}, err
	}
	key, err := appKey(secret, actor.Contact.Email)
	if err != nil {
		return AppSetup{}, fmt.Errorf("authenticator app key: %w", err)
	}
	return AppSetup{URL: key.URL(), Secret: key.Secret(), Account: actor.Contact.Email, Issuer: productName}, nil
}

// openSecret opens a sealed secret, logging for the operator why it can't be.
func (s *Service) openSecret(sealed, context []byte) ([]byte, error) {
	if s.settings.Secrets == nil {
		return nil, ErrSecretsUnavailable
	}
	plain, err := s.settings.Secrets.Open(sealed, context)
	if err != nil {
		s.log.Error("a stored secret can't be opened: was the secrets key file replaced or lost? (docs/OPERATIONS.md)",
			"key_known", s.settings.Secrets.Known(sealed), "err", err)
		return nil, ErrSecretsUnavailable
	}
	return plain, nil
}

// Added is the outcome of adding a factor: the recovery codes to show once, when it was the
// contact's first factor, and the sign-in it completed, for a contact who set it up right
// after its password (SignedIn.Contact.ID is 0 otherwise).
type Added struct {
	Codes    []string
	SignedIn SignedIn
}

// ConfirmApp checks the first code from the authenticator app waiting (StartApp) and makes
// it the contact's app. A wrong code changes nothing (ErrWrongCode): the secret is the
// contact's own, so guessing gains nothing.
func (s *Service) ConfirmApp(ctx context.Context, actor Actor, typed string) (Added, error) {
	if err := s.canSetUp(actor); err != nil {
		return Added{}, err
	}
	code, ok := normalizeCode(typed)
	if strings.TrimSpace(typed) == "" {
		return Added{}, ErrCodeMissing
	}
	var added Added
	err := s.store.Write(ctx, func(tx *db.Tx) error {
		added = Added{}
		waiting, err := tx.TOTP(ctx, actor.ID(), false)
		if errors.Is(err, db.ErrNotFound) {
			switch _, err := tx.TOTP(ctx, actor.ID(), true); {
			case err == nil:
				return ErrAppAlreadySet
			case !errors.Is(err, db.ErrNotFound):
				return err
			}
		}
		if errors.Is(err, db.ErrNotFound) || (err == nil && tx.Now().Sub(waiting.CreatedAt) >= appSetupTTL) {
			return ErrNoAppSetup
		}
		if err != nil {
			return err
		}
		secret, err := s.openSecret(waiting.Secret, totpContext(actor.ID()))
		if err != nil {
			return err
		}
		step, matched := matchTOTP(secret, code, tx.Now())
		if !ok || !matched {
			return ErrWrongCode
		}
		if err := tx.ConfirmTOTP(ctx, actor.ID(), waiting.ID, step); err != nil {
			return err
		}
		return s.factorAdded(ctx, tx, actor, "authenticator app", &added)
	})
	return added, err
}

// factorAdded records a new factor inside tx: the contact's flag, the audit event, the
// recovery codes of a first factor, and the sign-in it completes for a contact setting it
// up right after its password.
func (s *Service) factorAdded(ctx context.Context, tx *db.Tx, actor Actor, what string, added *Added) error {
	left, err := tx.RecoveryCodesLeft(ctx, actor.ID())
	if err != nil {
		return err
	}
	if _, err := tx.UpdateTwoFactor(ctx, actor.ID()); err != nil {
		return err
	}
	detail := what
	if left == 0 {
		if added.Codes, err = s.replaceRecoveryCodes(ctx, tx, actor.ID()); err != nil {
			return err
		}
		detail += "; " + strconv.Itoa(RecoveryCodeCount) + " recovery codes made"
	}
	if err := tx.Audit(ctx, db.Event{Action: db.ActionTwoFactorAdded, ActorID: actor.ID(), TargetID: actor.ID(),
		AccountID: actor.Contact.AccountID, RemoteIP: actor.RemoteIP, Detail: detail}); err != nil {
		return err
	}
	if actor.pending == nil {
		return nil
	}
	contact := actor.Contact
	contact.TwoFactor = true
	signedIn, err := s.completeSignIn(ctx, tx, actor, contact, "set up "+what+" as its organization requires")
	added.SignedIn = signedIn
	return err
}

// RemoveApp removes the contact's authenticator app. The last factor of a contact whose
// organization requires two-step verification stays (RequiredError).
func (s *Service) RemoveApp(ctx context.Context, actor Actor) error {
	return s.removeFactor(ctx, actor, func(tx *db.Tx) (string, error) {
		if _, err := tx.TOTP(ctx, actor.ID(), true); err != nil {
			return "", err
		}
		return "authenticator app", tx.RemoveTOTP(ctx, actor.ID())
	})
}

// removeFactor runs remove (which says what it removed), then keeps the contact's flag, its
// recovery codes (gone with the last factor) and the audit log in step, refusing to remove
// a required last factor.
func (s *Service) removeFactor(ctx context.Context, actor Actor, remove func(*db.Tx) (string, error)) error {
	if err := s.signedIn(actor); err != nil {
		return err
	}
	return s.store.Write(ctx, func(tx *db.Tx) error {
		what, err := remove(tx)
		if err != nil {
			return err
		}
		on, err := tx.UpdateTwoFactor(ctx, actor.ID())
		if err != nil {
			return err
		}
		detail := what
		if !on {
			req, required, err := tx.TwoFactorRequirement(ctx, actor.Contact.AccountID)
			if err != nil {
				return err
			}
			if required {
				return &RequiredError{Requirement: req}
			}
			if err := tx.RemoveRecoveryCodes(ctx, actor.ID()); err != nil {
				return err
			}
			detail += "; two-step verification is off, recovery codes removed"
		}
		return tx.Audit(ctx, db.Event{Action: db.ActionTwoFactorRemoved, ActorID: actor.ID(), TargetID: actor.ID(),
			AccountID: actor.Contact.AccountID, RemoteIP: actor.RemoteIP, Detail: detail})
	})
}

// --- recovery codes ---

// recoveryAlphabet is Crockford's base 32: no I, L, O or U, so that no two symbols look
// alike on paper. Sixteen symbols make 80 bits, far beyond guessing, online or off.
const recoveryAlphabet = "0123456789abcdefghjkmnpqrstvwxyz"

const recoveryCodeLength = 16

// newRecoveryCode is a random code written in groups of four: "7k2m-xq9d-…".
func newRecoveryCode() string {
	raw := make([]byte, recoveryCodeLength)
	rand.Read(raw) // never fails: crypto/rand crashes the program rather than return an error
	var b strings.Builder
	for i, v := range raw {
		if i > 0 && i%4 == 0 {
			b.WriteByte('-')
		}
		b.WriteByte(recoveryAlphabet[v&31]) // 256 is a multiple of 32: every symbol equally likely
	}
	return b.String()
}

// normalizeRecoveryCode is a typed code as it was made: lower case, without the dashes and
// spaces, with the letters people confuse with digits read as those digits. ok is false when
// what was typed can't be a recovery code.
func normalizeRecoveryCode(typed string) (string, bool) {
	if len(typed) > 128 {
		return "", false
	}
	var b strings.Builder
	for _, r := range strings.ToLower(typed) {
		switch {
		case r == '-' || r == ' ' || r == '\t':
			continue
		case r == 'o':
			r = '0'
		case r == 'i' || r == 'l':
			r = '1'
		}
		if r >= utf8.RuneSelf || !strings.ContainsRune(recoveryAlphabet, r) {
			return "", false
		}
		b.WriteRune(r)
	}
	return b.String(), b.Len() == recoveryCodeLength
}

// recoveryCodeHash is what is stored of a recovery code: SHA-256, salted with the contact's
// id. The codes carry 80 random bits, so a fast hash is enough: no computer tries 2^80
// hashes, and a slow one (argon2) would cost a second of CPU for every code typed while
// protecting nothing more.
func recoveryCodeHash(contactID int64, code string) []byte {
	sum := sha256.Sum256([]byte("portal recovery code\x00" + strconv.FormatInt(contactID, 10) + "\x00" + code))
	return sum[:]
}

// replaceRecoveryCodes makes RecoveryCodeCount new codes for the contact inside tx; the old
// ones stop working. The codes come back in clear to be shown once: only hashes are stored.
func (s *Service) replaceRecoveryCodes(ctx context.Context, tx *db.Tx, contactID int64) ([]string, error) {
	codes := make([]string, RecoveryCodeCount)
	hashes := make([][]byte, RecoveryCodeCount)
	for i := range codes {
		codes[i] = newRecoveryCode()
		normalized, _ := normalizeRecoveryCode(codes[i])
		hashes[i] = recoveryCodeHash(contactID, normalized)
	}
	return codes, tx.ReplaceRecoveryCodes(ctx, contactID, hashes)
}

// NewRecoveryCodes is Generate new codes: ten new recovery codes, shown once; the old ones
// stop working. Only a contact with a second factor has any (ErrNoFactor).
func (s *Service) NewRecoveryCodes(ctx context.Context, actor Actor) ([]string, error) {
	if err := s.signedIn(actor); err != nil {
		return nil, err
	}
	var codes []string
	err := s.store.Write(ctx, func(tx *db.Tx) error {
		c, err := tx.ContactByID(ctx, actor.ID())
		if err != nil {
			return err
		}
		if !c.TwoFactor {
			return ErrNoFactor
		}
		if codes, err = s.replaceRecoveryCodes(ctx, tx, actor.ID()); err != nil {
			return err
		}
		return tx.Audit(ctx, db.Event{Action: db.ActionRecoveryCodesGenerated, ActorID: actor.ID(), TargetID: actor.ID(),
			AccountID: actor.Contact.AccountID, RemoteIP: actor.RemoteIP, Detail: "the older codes no longer work"})
	})
	return codes, err
}

// --- passkeys ---

// passkeyUser is a contact as the WebAuthn library sees it.
type passkeyUser struct {
	handle  []byte
	contact db.Contact
	creds   []webauthn.Credential
	stored  []db.Passkey // the stored passkey of each of creds
}

func (u *passkeyUser) WebAuthnID() []byte                         { return u.handle }
func (u *passkeyUser) WebAuthnName() string                       { return u.contact.Email }
func (u *passkeyUser) WebAuthnDisplayName() string                { return u.contact.Name() }
func (u *passkeyUser) WebAuthnCredentials() []webauthn.Credential { return u.creds }

// passkeyUser reads the contact's passkeys of this relying party inside tx.
func (s *Service) passkeyUser(ctx context.Context, tx *db.Tx, contact db.Contact) (*passkeyUser, error) {
	handle, err := tx.PasskeyHandle(ctx, contact.ID, func() []byte {
		h := make([]byte, 32)
		rand.Read(h) // never fails: crypto/rand crashes the program rather than return an error
		return h
	})
	if err != nil {
		return nil, err
	}
	stored, err := tx.Passkeys(ctx, contact.ID, s.rpID())
	if err != nil {
		return nil, err
	}
	u := &passkeyUser{handle: handle, contact: contact}
	for _, p := range stored {
		record, err := s.openSecret(p.Record, passkeyContext(contact.ID))
		if err != nil {
			return nil, err
		}
		var cred webauthn.Credential
		if err := json.Unmarshal(record, &cred); err != nil {
			return nil, fmt.Errorf("passkey %d: decode record: %w", p.ID, err)
		}
		u.creds, u.stored = append(u.creds, cred), append(u.stored, p)
	}
	return u, nil
}

// BeginPasskey starts adding a passkey: the options for the browser's
// navigator.credentials.create, as JSON. The browser's answer goes to FinishPasskey.
func (s *Service) BeginPasskey(ctx context.Context, actor Actor) ([]byte, error) {
	if err := s.canSetUp(actor); err != nil {
		return nil, err
	}
	return s.beginCeremony(ctx, actor, db.CeremonyRegister, func(u *passkeyUser) (any, *webauthn.SessionData, error) {
		exclude := make([]protocol.CredentialDescriptor, len(u.creds))
		for i, c := range u.creds {
			exclude[i] = c.Descriptor()
		}
		creation, session, err := s.relyingParty.BeginRegistration(u, webauthn.WithExclusions(exclude),
			webauthn.WithResidentKeyRequirement(protocol.ResidentKeyRequirementPreferred))
		if err != nil {
			return nil, nil, fmt.Errorf("begin passkey registration: %w", err)
		}
		return creation, session, nil
	})
}

// beginCeremony starts a passkey dialog of purpose for the actor: begin makes the browser's
// options and the session the answer is checked against, which is kept for a few minutes.
// It returns the options as JSON.
func (s *Service) beginCeremony(ctx context.Context, actor Actor, purpose string,
	begin func(*passkeyUser) (options any, session *webauthn.SessionData, err error)) ([]byte, error) {
	if s.relyingParty == nil {
		return nil, ErrPasskeysUnavailable
	}
	var out []byte
	err := s.store.Write(ctx, func(tx *db.Tx) error {
		u, err := s.passkeyUser(ctx, tx, actor.Contact)
		if err != nil {
			return err
		}
		options, session, err := begin(u)
		if err != nil {
			return err
		}
		data, err := json.Marshal(session)
		if err != nil {
			return fmt.Errorf("encode passkey ceremony: %w", err)
		}
		if out, err = json.Marshal(options); err != nil {
			return fmt.Errorf("encode passkey options: %w", err)
		}
		return tx.SaveCeremony(ctx, actor.ID(), purpose, data, tx.Now().Add(ceremonyTTL))
	})
	return out, err
}

func takeCeremony(ctx context.Context, tx *db.Tx, contactID int64, purpose string) (webauthn.SessionData, error) {
	data, err := tx.TakeCeremony(ctx, contactID, purpose)
	if errors.Is(err, db.ErrNotFound) {
		return webauthn.SessionData{}, ErrPasskeyFailed
	}
	if err != nil {
		return webauthn.SessionData{}, err
	}
	var session webauthn.SessionData
	if err := json.Unmarshal(data, &session); err != nil {
		return webauthn.SessionData{}, fmt.Errorf("decode passkey ceremony: %w", err)
	}
	return session, nil
}

// MaxPasskeyName is the longest name a passkey may have, in characters.
const MaxPasskeyName = 60

// cleanPasskeyName trims a passkey's name and checks it; an empty name gets a default.
func cleanPasskeyName(name string, n int) (string, error) {
	name = strings.TrimSpace(name)
	if name == "" {
		return fmt.Sprintf("Passkey %d", n), nil
	}
	if !utf8.ValidString(name) || utf8.RuneCountInString(name) > MaxPasskeyName ||
		strings.IndexFunc(name, func(r rune) bool { return unicode.IsControl(r) || unicode.Is(unicode.Cf, r) }) >= 0 {
		return "", FieldErrors{"name": fmt.Sprintf("Give the passkey a name of at most %d characters, such as “Work laptop”.", MaxPasskeyName)}
	}
	return name, nil
}

// FinishPasskey checks the browser's answer (response, the credential as JSON) to the
// dialog BeginPasskey started and stores the new passkey under name.
func (s *Service) FinishPasskey(ctx context.Context, actor Actor, name string, response []byte) (Added, error) {
	if err := s.canSetUp(actor); err != nil {
		return Added{}, err
	}
	if s.relyingParty == nil {
		return Added{}, ErrPasskeysUnavailable
	}
	if _, err := cleanPasskeyName(name, 1); err != nil {
		return Added{}, err
	}
	parsed, parseErr := protocol.ParseCredentialCreationResponseBytes(response)
	var added Added
	err := s.store.Write(ctx, func(tx *db.Tx) error {
		added = Added{}
		session, err := takeCeremony(ctx, tx, actor.ID(), db.CeremonyRegister)
		if err != nil {
			return err
		}
		if parseErr != nil {
			return ErrPasskeyFailed
		}
		u, err := s.passkeyUser(ctx, tx, actor.Contact)
		if err != nil {
			return err
		}
		cred, err := s.relyingParty.CreateCredential(u, session, parsed)
		if err != nil {
			s.log.Info("passkey registration refused", "contact_id", actor.ID(), "err", err)
			return ErrPasskeyFailed
		}
		name, err := cleanPasskeyName(name, len(u.creds)+1)
		if err != nil {
			return err
		}
		record, err := json.Marshal(cred)
		if err != nil {
			return fmt.Errorf("encode passkey record: %w", err)
		}
		if _, err := tx.AddPasskey(ctx, db.Passkey{ContactID: actor.ID(), RPID: s.rpID(), CredentialID: cred.ID, Name: name,
			Record: s.settings.Secrets.Seal(record, passkeyContext(actor.ID()))}); err != nil {
			return err
		}
		return s.factorAdded(ctx, tx, actor, "passkey “"+name+"”", &added)
	})
	if errors.Is(err, ErrPasskeyFailed) {
		// The ceremony is used up either way: a failed answer must not be retried against it.
		s.dropCeremony(ctx, actor.ID(), db.CeremonyRegister)
	}
	return added, err
}

// dropCeremony ends a ceremony whose finish failed (its transaction rolled back).
func (s *Service) dropCeremony(ctx context.Context, contactID int64, purpose string) {
	err := s.store.Write(ctx, func(tx *db.Tx) error {
		_, err := tx.TakeCeremony(ctx, contactID, purpose)
		if errors.Is(err, db.ErrNotFound) {
			return nil
		}
		return err
	})
	if err != nil {
		s.log.Warn("end passkey ceremony", "contact_id", contactID, "err", err)
	}
}

// RenamePasskey renames passkey id of the signed-in contact (ErrNotFound when it has none).
func (s *Service) RenamePasskey(ctx context.Context, actor Actor, id int64, name string) error {
	if err := s.signedIn(actor); err != nil {
		return err
	}
	if strings.TrimSpace(name) == "" {
		return FieldErrors{"name": "Give the passkey a name, such as “Work laptop”."}
	}
	name, err := cleanPasskeyName(name, 0)
	if err != nil {
		return err
	}
	return s.store.Write(ctx, func(tx *db.Tx) error { return tx.RenamePasskey(ctx, actor.ID(), id, name) })
}

// RemovePasskey removes passkey id of the signed-in contact. The last factor of a contact
// whose organization requires two-step verification stays (RequiredError).
func (s *Service) RemovePasskey(ctx context.Context, actor Actor, id int64) error {
	return s.removeFactor(ctx, actor, func(tx *db.Tx) (string, error) {
		name, err := tx.RemovePasskey(ctx, actor.ID(), id)
		return "passkey “" + name + "”", err
	})
}

// --- what a contact may do ---

// signedIn refuses pending sign-ins: only a signed-in contact manages its factors.
func (s *Service) signedIn(actor Actor) error {
	if actor.ID() == 0 || actor.pending != nil {
		return ErrNotSignedIn
	}
	return nil
}

// canSetUp lets a signed-in contact add a factor, and a pending sign-in whose next step is
// setting one up.
func (s *Service) canSetUp(actor Actor) error {
	if actor.ID() == 0 || (actor.pending != nil && actor.pending.Stage != db.StageSetup) {
		return ErrNotSignedIn
	}
	return nil
}

// ErrNotSignedIn: the action needs a signed-in contact (or a sign-in at another stage).
var ErrNotSignedIn = errors.New("not signed in")
