package db

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"
)

// Two-step verification (SPEC 3.11): authenticator apps, passkeys, recovery codes, sign-ins
// waiting for their second step, and the accounts that require it. Secrets arrive here
// sealed (package secrets) and leave sealed: this package never sees one in clear.

// TOTPFactor is a contact's authenticator app.
type TOTPFactor struct {
	ID          int64
	ContactID   int64
	Secret      []byte // sealed
	CreatedAt   time.Time
	ConfirmedAt time.Time // zero: waiting for the first code from the app
	LastStep    int64     // the newest 30-second step whose code was used
}

const totpColumns = `id, contact_id, secret, created_at, confirmed_at, last_step`

func scanTOTP(row rowScanner) (TOTPFactor, error) {
	var f TOTPFactor
	var created int64
	var confirmed sql.NullInt64
	err := row.Scan(&f.ID, &f.ContactID, &f.Secret, &created, &confirmed, &f.LastStep)
	if errors.Is(err, sql.ErrNoRows) {
		return TOTPFactor{}, ErrNotFound
	}
	if err != nil {
		return TOTPFactor{}, err
	}
	f.CreatedAt, f.ConfirmedAt = time.Unix(created, 0).UTC(), timeOrZero(confirmed)
	return f, nil
}

// TOTP reads the contact's authenticator app: the confirmed one, or (confirmed false) the
// one waiting for its first code. ErrNotFound when there is none.
func (t *Tx) TOTP(ctx context.Context, contactID int64, confirmed bool) (TOTPFactor, error) {
	return readTOTP(ctx, t.tx, contactID, confirmed)
}

// TOTP is Tx.TOTP outside a transaction, for the pages that show it.
func (s *Store) TOTP(ctx context.Context, contactID int64, confirmed bool) (TOTPFactor, error) {
	return readTOTP(ctx, s.read, contactID, confirmed)
}

func readTOTP(ctx context.Context, q queryer, contactID int64, confirmed bool) (TOTPFactor, error) {
	where := `confirmed_at IS NULL`
	if confirmed {
		where = `confirmed_at IS NOT NULL`
	}
	f, err := scanTOTP(q.QueryRowContext(ctx, `SELECT `+totpColumns+` FROM totp_factors WHERE contact_id = ? AND `+where, contactID))
	if err != nil && !errors.Is(err, ErrNotFound) {
		return f, fmt.Errorf("store: authenticator app of contact %d: %w", contactID, err)
	}
	return f, err
}

// AddWaitingTOTP stores a new secret for the contact's authenticator app, waiting for its
// first code; a secret that was waiting already is replaced.
func (t *Tx) AddWaitingTOTP(ctx context.Context, contactID int64, sealed []byte) error {
	if _, err := t.tx.ExecContext(ctx, `DELETE FROM totp_factors WHERE contact_id = ? AND confirmed_at IS NULL`, contactID); err != nil {
		return fmt.Errorf("store: new authenticator app of contact %d: %w", contactID, err)
	}
	if _, err := t.tx.ExecContext(ctx, `INSERT INTO totp_factors(contact_id, secret, created_at) VALUES (?, ?, ?)`,
		contactID, sealed, unix(t.now)); err != nil {
		return fmt.Errorf("store: new authenticator app of contact %d: %w", contactID, err)
	}
	return nil
}

// ConfirmTOTP makes the waiting authenticator app id the contact's, with step as its newest
// step used; the app it had before, if any, is removed.
func (t *Tx) ConfirmTOTP(ctx context.Context, contactID, id, step int64) error {
	if _, err := t.tx.ExecContext(ctx, `DELETE FROM totp_factors WHERE contact_id = ? AND confirmed_at IS NOT NULL`, contactID); err != nil {
		return fmt.Errorf("store: confirm authenticator app of contact %d: %w", contactID, err)
	}
	res, err := t.tx.ExecContext(ctx, `UPDATE totp_factors SET confirmed_at = ?, last_step = ?
		WHERE id = ? AND contact_id = ? AND confirmed_at IS NULL`, unix(t.now), step, id, contactID)
	if err != nil {
		return fmt.Errorf("store: confirm authenticator app of contact %d: %w", contactID, err)
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return ErrNotFound
	}
	return nil
}

// UseTOTPStep records that the code of step was used with authenticator app id. It reports
// false when that step or a newer one was used already: a code works once, and of two
// requests with the same code exactly one gets true.
func (t *Tx) UseTOTPStep(ctx context.Context, id, step int64) (bool, error) {
	res, err := t.tx.ExecContext(ctx, `UPDATE totp_factors SET last_step = ? WHERE id = ? AND last_step < ?`, step, id, step)
	if err != nil {
		return false, fmt.Errorf("store: use a code of authenticator app %d: %w", id, err)
	}
	n, _ := res.RowsAffected()
	return n == 1, nil
}

// RemoveTOTP removes the contact's authenticator app, confirmed or waiting.
func (t *Tx) RemoveTOTP(ctx context.Context, contactID int64) error {
	if _, err := t.tx.ExecContext(ctx, `DELETE FROM totp_factors WHERE contact_id = ?`, contactID); err != nil {
		return fmt.Errorf("store: remove authenticator app of contact %d: %w", contactID, err)
	}
	return nil
}

// Passkey is one passkey of a contact.
type Passkey struct {
	ID           int64
	ContactID    int64
	RPID         string
	CredentialID []byte
	Name         string
	Record       []byte // the credential record, sealed
	CreatedAt    time.Time
	LastUsedAt   time.Time // zero: never used to sign in
}

// Passkeys lists the contact's passkeys made for relying party rpID (all of them when rpID
// is ""), oldest first.
func (t *Tx) Passkeys(ctx context.Context, contactID int64, rpID string) ([]Passkey, error) {
	return passkeys(ctx, t.tx, contactID, rpID)
}

// Passkeys is Tx.Passkeys outside a transaction.
func (s *Store) Passkeys(ctx context.Context, contactID int64, rpID string) ([]Passkey, error) {
	return passkeys(ctx, s.read, contactID, rpID)
}

type rowsQueryer interface {
	QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error)
}

func passkeys(ctx context.Context, q rowsQueryer, contactID int64, rpID string) ([]Passkey, error) {
	rows, err := q.QueryContext(ctx, `SELECT id, contact_id, rp_id, credential_id, name, record, created_at, last_used_at
		FROM passkeys WHERE contact_id = ? AND (? = '' OR rp_id = ?) ORDER BY created_at, id`, contactID, rpID, rpID)
	if err != nil {
		return nil, fmt.Errorf("store: passkeys of contact %d: %w", contactID, err)
	}
	defer rows.Close()
	var out []Passkey
	for rows.Next() {
		var p Passkey
		var created int64
		var used sql.NullInt64
		if err := rows.Scan(&p.ID, &p.ContactID, &p.RPID, &p.CredentialID, &p.Name, &p.Record, &created, &used); err != nil {
			return nil, fmt.Errorf("store: passkeys of contact %d: %w", contactID, err)
		}
		p.CreatedAt, p.LastUsedAt = time.Unix(created, 0).UTC(), timeOrZero(used)
		out = append(out, p)
	}
	return out, rows.Err()
}

// PasskeyHandle is the contact's WebAuthn user handle, made with newHandle the first time.
func (t *Tx) PasskeyHandle(ctx context.Context, contactID int64, newHandle func() []byte) ([]byte, error) {
	var handle []byte
	err := t.tx.QueryRowContext(ctx, `SELECT handle FROM passkey_users WHERE contact_id = ?`, contactID).Scan(&handle)
	if errors.Is(err, sql.ErrNoRows) {
		handle = newHandle()
		_, err = t.tx.ExecContext(ctx, `INSERT INTO passkey_users(contact_id, handle) VALUES (?, ?)`, contactID, handle)
	}
	if err != nil {
		return nil, fmt.Errorf("store: passkey user handle of contact %d: %w", contactID, err)
	}
	return handle, nil
}

// ErrPasskeyExists: the authenticator's credential is registered already.
var ErrPasskeyExists = errors.New("this passkey is registered already")

// AddPasskey stores a new passkey and returns its id.
func (t *Tx) AddPasskey(ctx context.Context, p Passkey) (int64, error) {
	var id int64
	err := t.tx.QueryRowContext(ctx, `INSERT INTO passkeys(contact_id, rp_id, credential_id, name, record, created_at)
		VALUES (?, ?, ?, ?, ?, ?) RETURNING id`, p.ContactID, p.RPID, p.CredentialID, p.Name, p.Record, unix(t.now)).Scan(&id)
	if isUniqueViolation(err) {
		return 0, ErrPasskeyExists
	}
	if err != nil {
		return 0, fmt.Errorf("store: add passkey of contact %d: %w", p.ContactID, err)
	}
	return id, nil
}

// UsePasskey stores the passkey's record as a sign-in left it (its signature counter and
// flags) and when it was used.
func (t *Tx) UsePasskey(ctx context.Context, id int64, record []byte) error {
	if _, err := t.tx.ExecContext(ctx, `UPDATE passkeys SET record = ?, last_used_at = ? WHERE id = ?`,
		record, unix(t.now), id); err != nil {
		return fmt.Errorf("store: record use of passkey %d: %w", id, err)
	}
	return nil
}

// RenamePasskey renames passkey id of the contact; ErrNotFound when it has no such passkey.
func (t *Tx) RenamePasskey(ctx context.Context, contactID, id int64, name string) error {
	res, err := t.tx.ExecContext(ctx, `UPDATE passkeys SET name = ? WHERE id = ? AND contact_id = ?`, name, id, contactID)
	if err != nil {
		return fmt.Errorf("store: rename passkey %d: %w", id, err)
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return ErrNotFound
	}
	return nil
}

// RemovePasskey removes passkey id of the contact and returns its name; ErrNotFound when
// the contact has no such passkey.
func (t *Tx) RemovePasskey(ctx context.Context, contactID, id int64) (string, error) {
	var name string
	err := t.tx.QueryRowContext(ctx, `DELETE FROM passkeys WHERE id = ? AND contact_id = ? RETURNING name`, id, contactID).Scan(&name)
	if errors.Is(err, sql.ErrNoRows) {
		return "", ErrNotFound
	}
	if err != nil {
		return "", fmt.Errorf("store: remove passkey %d: %w", id, err)
	}
	return name, nil
}

// Reseal lets fn re-seal every passkey record and authenticator app secret
// (a key rotation): fn gets what is stored and what it was sealed for, and returns the value
// to store, or nil to leave it. It reports how many values it changed.
func (t *Tx) Reseal(ctx context.Context, fn func(sealed []byte, table string, contactID int64) ([]byte, error)) (int, error) {
	changed := 0
	for _, table := range []struct{ name, column string }{{"totp_factors", "secret"}, {"passkeys", "record"}} {
		rows, err := t.tx.QueryContext(ctx, `SELECT id, contact_id, `+table.column+` FROM `+table.name+` ORDER BY id`)
		if err != nil {
			return changed, fmt.Errorf("store: read %s: %w", table.name, err)
		}
		type value struct {
			id, contactID int64
			sealed        []byte
		}
		var values []value
		for rows.Next() {
			var v value
			if err := rows.Scan(&v.id, &v.contactID, &v.sealed); err != nil {
				rows.Close()
				return changed, fmt.Errorf("store: read %s: %w", table.name, err)
			}
			values = append(values, v)
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return changed, fmt.Errorf("store: read %s: %w", table.name, err)
		}
		for _, v := range values {
			resealed, err := fn(v.sealed, table.name, v.contactID)
			if err != nil {
				return changed, fmt.Errorf("store: re-seal %s %d: %w", table.name, v.id, err)
			}
			if resealed == nil {
				continue
			}
			if _, err := t.tx.ExecContext(ctx, `UPDATE `+table.name+` SET `+table.column+` = ? WHERE id = ?`, resealed, v.id); err != nil {
				return changed, fmt.Errorf("store: re-seal %s %d: %w", table.name, v.id, err)
			}
			changed++
		}
	}
	return changed, nil
}

// Passkey ceremonies, as stored.
const (
	CeremonyRegister = "register"
	CeremonyLogin    = "login"
)

// SaveCeremony keeps the state of a passkey ceremony (purpose) of the contact until
// expires, replacing any other of the contact's.
func (t *Tx) SaveCeremony(ctx context.Context, contactID int64, purpose string, data []byte, expires time.Time) error {
	// Dialogs that were never finished are swept on the way.
	if _, err := t.tx.ExecContext(ctx, `DELETE FROM passkey_ceremonies WHERE expires_at < ?`, unix(t.now)); err != nil {
		return fmt.Errorf("store: sweep passkey ceremonies: %w", err)
	}
	_, err := t.tx.ExecContext(ctx, `INSERT INTO passkey_ceremonies(contact_id, purpose, data, expires_at) VALUES (?, ?, ?, ?)
		ON CONFLICT (contact_id) DO UPDATE SET purpose = excluded.purpose, data = excluded.data, expires_at = excluded.expires_at`,
		contactID, purpose, data, unix(expires))
	if err != nil {
		return fmt.Errorf("store: keep passkey ceremony of contact %d: %w", contactID, err)
	}
	return nil
}

// TakeCeremony reads and deletes the contact's passkey ceremony of purpose: a ceremony is
// finished once, whatever its outcome. ErrNotFound when there is none, or it expired.
func (t *Tx) TakeCeremony(ctx context.Context, contactID int64, purpose string) ([]byte, error) {
	var data []byte
	var expires int64
	err := t.tx.QueryRowContext(ctx, `DELETE FROM passkey_ceremonies WHERE contact_id = ? AND purpose = ? RETURNING data, expires_at`,
		contactID, purpose).Scan(&data, &expires)
	if errors.Is(err, sql.ErrNoRows) || (err == nil && expires < unix(t.now)) {
		return nil, ErrNotFound
	}
	if err != nil {
		return nil, fmt.Errorf("store: passkey ceremony of contact %d: %w", contactID, err)
	}
	return data, nil
}

// ReplaceRecoveryCodes stores hashes as the contact's recovery codes; the old ones stop
// working.
func (t *Tx) ReplaceRecoveryCodes(ctx context.Context, contactID int64, hashes [][]byte) error {
	if err := t.RemoveRecoveryCodes(ctx, contactID); err != nil {
		return err
	}
	for _, h := range hashes {
		if _, err := t.tx.ExecContext(ctx, `INSERT INTO recovery_codes(contact_id, code_hash, created_at) VALUES (?, ?, ?)`,
			contactID, h, unix(t.now)); err != nil {
			return fmt.Errorf("store: recovery codes of contact %d: %w", contactID, err)
		}
	}
	return nil
}

// RemoveRecoveryCodes deletes the contact's recovery codes.
func (t *Tx) RemoveRecoveryCodes(ctx context.Context, contactID int64) error {
	if _, err := t.tx.ExecContext(ctx, `DELETE FROM recovery_codes WHERE contact_id = ?`, contactID); err != nil {
		return fmt.Errorf("store: remove recovery codes of contact %d: %w", contactID, err)
	}
	return nil
}

// UseRecoveryCode marks the contact's unused recovery code of hash used. It reports false
// when there is none (wrong, or used already); of two requests with one code, one gets true.
func (t *Tx) UseRecoveryCode(ctx context.Context, contactID int64, hash []byte) (bool, error) {
	res, err := t.tx.ExecContext(ctx, `UPDATE recovery_codes SET used_at = ? WHERE contact_id = ? AND code_hash = ? AND used_at IS NULL`,
		unix(t.now), contactID, hash)
	if err != nil {
		return false, fmt.Errorf("store: use recovery code of contact %d: %w", contactID, err)
	}
	n, _ := res.RowsAffected()
	return n > 0, nil
}

// RecoveryCodesLeft counts the contact's unused recovery codes.
func (t *Tx) RecoveryCodesLeft(ctx context.Context, contactID int64) (int, error) {
	return recoveryCodesLeft(ctx, t.tx, contactID)
}

func recoveryCodesLeft(ctx context.Context, q queryer, contactID int64) (int, error) {
	var n int
	if err := q.QueryRowContext(ctx, `SELECT count(*) FROM recovery_codes WHERE contact_id = ? AND used_at IS NULL`,
		contactID).Scan(&n); err != nil {
		return 0, fmt.Errorf("store: recovery codes of contact %d: %w", contactID, err)
	}
	return n, nil
}

// RecoveryCodesLeft is Tx.RecoveryCodesLeft outside a transaction.
func (s *Store) RecoveryCodesLeft(ctx context.Context, contactID int64) (int, error) {
	return recoveryCodesLeft(ctx, s.read, contactID)
}

// UpdateTwoFactor sets the contact's two_factor flag from its factors (a confirmed
// authenticator app or a passkey) and returns it. Every change of factors calls it in its
// transaction, so that the flag All Contacts reads is never out of step.
func (t *Tx) UpdateTwoFactor(ctx context.Context, contactID int64) (bool, error) {
	var on bool
	err := t.tx.QueryRowContext(ctx, `
		UPDATE contacts SET two_factor =
			(EXISTS (SELECT 1 FROM totp_factors f WHERE f.contact_id = contacts.id AND f.confirmed_at IS NOT NULL)
			 OR EXISTS (SELECT 1 FROM passkeys p WHERE p.contact_id = contacts.id))
		WHERE id = ? RETURNING two_factor`, contactID).Scan(&on)
	if errors.Is(err, sql.ErrNoRows) {
		return false, ErrNotFound
	}
	if err != nil {
		return false, fmt.Errorf("store: two-step verification of contact %d: %w", contactID, err)
	}
	return on, nil
}

// RemoveFactors removes every second factor of the contact: authenticator app, passkeys,
// recovery codes, passkey ceremony and sign-ins waiting for a second step.
func (t *Tx) RemoveFactors(ctx context.Context, contactID int64) error {
	for _, table := range []string{"totp_factors", "passkeys", "recovery_codes", "passkey_ceremonies", "pending_signins"} {
		if _, err := t.tx.ExecContext(ctx, `DELETE FROM `+table+` WHERE contact_id = ?`, contactID); err != nil {
			return fmt.Errorf("store: remove %s of contact %d: %w", table, contactID, err)
		}
	}
	_, err := t.UpdateTwoFactor(ctx, contactID)
	return err
}

// Stages of a pending sign-in, as stored.
const (
	StageVerify   = "verify"   // the second step: a code, a passkey or a recovery code
	StageSetup    = "setup"    // the organization requires a second factor the contact has not set up
	StagePassword = "password" // the password is too short for a password alone
)

// PendingSignIn is a sign-in between the password and the rest.
type PendingSignIn struct {
	IDHash    []byte
	ContactID int64
	Stage     string
	Next      string
	CreatedAt time.Time
	ExpiresAt time.Time
}

// CreatePendingSignIn stores p; sign-ins that expired are swept on the way.
func (t *Tx) CreatePendingSignIn(ctx context.Context, p PendingSignIn) error {
	if _, err := t.tx.ExecContext(ctx, `DELETE FROM pending_signins WHERE expires_at <= ?`, unix(t.now)); err != nil {
		return fmt.Errorf("store: sweep pending sign-ins: %w", err)
	}
	_, err := t.tx.ExecContext(ctx, `INSERT INTO pending_signins(id_hash, contact_id, stage, next, created_at, expires_at)
		VALUES (?, ?, ?, ?, ?, ?)`, p.IDHash, p.ContactID, p.Stage, p.Next, unix(t.now), unix(p.ExpiresAt))
	if err != nil {
		return fmt.Errorf("store: pending sign-in of contact %d: %w", p.ContactID, err)
	}
	return nil
}

// PendingSignIn reads the pending sign-in of idHash with its contact, which must still be
// active with a password. ErrNotFound when there is none; an expired one is returned as it
// is (the caller tells the person why it ended).
func (s *Store) PendingSignIn(ctx context.Context, idHash []byte) (PendingSignIn, Contact, error) {
	var p PendingSignIn
	var created, expires int64
	c, err := scanContact(s.read.QueryRowContext(ctx, `SELECT `+contactColumns+`, p.id_hash, p.stage, p.next, p.created_at, p.expires_at
		FROM pending_signins p JOIN contacts c ON c.id = p.contact_id JOIN accounts a ON a.id = c.account_id
		WHERE p.id_hash = ? AND c.status = 'active' AND c.password_hash <> ''`, idHash),
		&p.IDHash, &p.Stage, &p.Next, &created, &expires)
	if errors.Is(err, sql.ErrNoRows) {
		return PendingSignIn{}, Contact{}, ErrNotFound
	}
	if err != nil {
		return PendingSignIn{}, Contact{}, fmt.Errorf("store: pending sign-in: %w", err)
	}
	p.ContactID = c.ID
	p.CreatedAt, p.ExpiresAt = time.Unix(created, 0).UTC(), time.Unix(expires, 0).UTC()
	return p, c, nil
}

// EndPendingSignIn deletes the pending sign-in of idHash. It reports false when it was gone
// already: of two requests finishing one sign-in, one gets true.
func (t *Tx) EndPendingSignIn(ctx context.Context, idHash []byte) (bool, error) {
	res, err := t.tx.ExecContext(ctx, `DELETE FROM pending_signins WHERE id_hash = ?`, idHash)
	if err != nil {
		return false, fmt.Errorf("store: end pending sign-in: %w", err)
	}
	n, _ := res.RowsAffected()
	return n > 0, nil
}

// Requirement is an account's requirement of two-step verification, which holds for it and
// every account below it.
type Requirement struct {
	AccountID   int64
	AccountName string
	ByName      string // "First Last" of the admin who set it ("" when the admin is gone)
	At          time.Time
}

// TwoFactorRequirement is the requirement that holds for accountID: its own, or the nearest
// one of an account above it. ok is false when none does.
func (s *Store) TwoFactorRequirement(ctx context.Context, accountID int64) (Requirement, bool, error) {
	return twoFactorRequirement(ctx, s.read, accountID)
}

// TwoFactorRequirement is Store.TwoFactorRequirement inside tx.
func (t *Tx) TwoFactorRequirement(ctx context.Context, accountID int64) (Requirement, bool, error) {
	return twoFactorRequirement(ctx, t.tx, accountID)
}

func twoFactorRequirement(ctx context.Context, q queryer, accountID int64) (Requirement, bool, error) {
	var r Requirement
	var at int64
	err := q.QueryRowContext(ctx, `
		WITH RECURSIVE above(id, depth) AS (
			SELECT CAST(? AS BIGINT), 0
			UNION ALL
			SELECT a.parent_id, above.depth + 1 FROM accounts a JOIN above ON a.id = above.id WHERE a.parent_id IS NOT NULL
		)
		SELECT q.account_id, a.name, coalesce((SELECT c.first_name || ' ' || c.last_name FROM contacts c WHERE c.id = q.required_by), ''),
			q.required_at
		FROM above JOIN two_factor_requirements q ON q.account_id = above.id JOIN accounts a ON a.id = q.account_id
		ORDER BY above.depth LIMIT 1`, accountID).Scan(&r.AccountID, &r.AccountName, &r.ByName, &at)
	if errors.Is(err, sql.ErrNoRows) {
		return Requirement{}, false, nil
	}
	if err != nil {
		return Requirement{}, false, fmt.Errorf("store: two-step requirement of account %d: %w", accountID, err)
	}
	r.At = time.Unix(at, 0).UTC()
	return r, true, nil
}

// SetTwoFactorRequired makes accountID require two-step verification (by the admin by), or
// stop requiring it. It reports whether anything changed.
func (t *Tx) SetTwoFactorRequired(ctx context.Context, accountID, by int64, required bool) (bool, error) {
	var res sql.Result
	var err error
	if required {
		res, err = t.tx.ExecContext(ctx, `INSERT INTO two_factor_requirements(account_id, required_by, required_at) VALUES (?, ?, ?)
			ON CONFLICT (account_id) DO NOTHING`, accountID, nullID(by), unix(t.now))
	} else {
		res, err = t.tx.ExecContext(ctx, `DELETE FROM two_factor_requirements WHERE account_id = ?`, accountID)
	}
	if err != nil {
		return false, fmt.Errorf("store: two-step requirement of account %d: %w", accountID, err)
	}
	n, _ := res.RowsAffected()
	return n > 0, nil
}

// TwoFactorCounts counts the active contacts of sc with and without two-step verification.
func (s *Store) TwoFactorCounts(ctx context.Context, sc Scope) (with, without int, err error) {
	err = s.read.QueryRowContext(ctx, `SELECT coalesce(sum(CASE WHEN two_factor THEN 1 ELSE 0 END), 0),
			coalesce(sum(CASE WHEN two_factor THEN 0 ELSE 1 END), 0)
		FROM contacts WHERE status = 'active' AND account_id IN `+sc.inList()).Scan(&with, &without)
	if err != nil {
		return 0, 0, fmt.Errorf("store: two-step verification counts: %w", err)
	}
	return with, without, nil
}
