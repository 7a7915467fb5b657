package main

import (
	"errors"
	"flag"
	"fmt"

	"portal/app"
	"portal/config"
	"portal/contacts"
	"portal/db"
	"portal/secrets"
)

// contactReset2FA removes every second factor of the contact whose user name is EMAIL, for
// an organization whose last admin lost them all: the system acts, through the same rules
// as an admin's Reset two-step verification (sessions end, the contact is mailed, audited).
func (c commands) contactReset2FA(args []string) int {
	fs := flag.NewFlagSet("contact reset-2fa", flag.ContinueOnError)
	fs.SetOutput(c.stderr)
	dbPath := c.dbFlag(fs)
	emails, err := parseInterspersed(fs, args)
	if err != nil {
		return c.flagError(err)
	}
	if len(emails) != 1 {
		return c.fail("contact reset-2fa: give exactly one EMAIL (the contact's user name)")
	}
	store, err := c.openStore(*dbPath)
	if err != nil {
		return c.fail("%v", err)
	}
	defer store.Close()
	contact, err := c.rules(store, 0).ResetTwoFactorByEmail(c.ctx, emails[0])
	switch {
	case errors.Is(err, contacts.ErrNotAnEmail):
		return c.fail("contact reset-2fa: %q is not an email address", emails[0])
	case errors.Is(err, db.ErrNotFound):
		return c.fail("contact reset-2fa: no contact has the user name %q", emails[0])
	case errors.Is(err, contacts.ErrNoTwoFactor):
		return c.fail("contact reset-2fa: %s has no two-step verification to reset", contact.Email)
	case err != nil:
		return c.fail("%v", err)
	}
	fmt.Fprintf(c.stdout, "Two-step verification of %s <%s> reset: authenticator app, passkeys and recovery codes removed,\n"+
		"every session ended. An email telling them is queued: the running portal sends it.\n", contact.Name(), contact.Email)
	return 0
}

// secretsRotate seals every stored two-step verification secret again with the first key
// of the key file (docs/OPERATIONS.md, "Rotating the secrets key").
func (c commands) secretsRotate(args []string) int {
	fs := flag.NewFlagSet("secrets rotate", flag.ContinueOnError)
	fs.SetOutput(c.stderr)
	dbPath := c.dbFlag(fs)
	keyFile := fs.String("secrets-key-file", c.getenv("PORTAL_SECRETS_KEY_FILE"),
		"key file, new key first (PORTAL_SECRETS_KEY_FILE; default: DB.secrets-key beside a SQLite file)")
	rest, err := parseInterspersed(fs, args)
	if err != nil {
		return c.flagError(err)
	}
	if len(rest) > 0 {
		return c.fail("secrets rotate: unexpected argument %q", rest[0])
	}
	file, err := config.SecretsKeyFile(*keyFile, *dbPath)
	if err != nil {
		return c.fail("secrets rotate: %v", err)
	}
	keys, err := secrets.Load(file)
	if err != nil {
		return c.fail("secrets rotate: %v", err)
	}
	store, err := c.openStore(*dbPath)
	if err != nil {
		return c.fail("%v", err)
	}
	defer store.Close()
	rules := contacts.New(store, app.NewHasher(), c.logger(), contacts.Settings{Secrets: keys})
	n, err := rules.ResealSecrets(c.ctx)
	if err != nil {
		return c.fail("secrets rotate: %v (nothing was changed; does the key file still hold the old key?)", err)
	}
	fmt.Fprintf(c.stdout, "%d secrets sealed again with key %s. Every secret is now under it: the other keys can go.\n", n, keys.ID())
	return 0
}
