// Package demo fills a database with a small, realistic organization to try the portal on.
package demo

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"math/big"
	"strings"
	"unicode"
	"unicode/utf8"

	"golang.org/x/text/unicode/norm"

	"portal/auth"
	"portal/db"
)

// AdminEmail is the demo's contact admin.
const AdminEmail = "maria.anders@northwind.example"

// RootAccount is the demo admin's own account, the top of the tree the admin manages.
const RootAccount = "Northwind Traders"

// Tree is the demo's accounts: a company with child organizations, and a second company
// that the demo admin must never see.
var tree = []struct{ name, parent string }{
	{"Northwind Traders", ""},
	{"Northwind Logistics", "Northwind Traders"},
	{"Northwind Logistics Nordic", "Northwind Logistics"},
	{"Northwind Retail", "Northwind Traders"},
	{"Contoso Pharma", ""},
}

var firstNames = []string{"Anna", "Łukasz", "Zoë", "Jürgen", "Søren", "Chloé", "Mateo", "Aiko", "Olga", "Priya",
	"Tomáš", "Inès", "Björn", "Fatima", "Kwame", "Léa", "Nikolai", "Sinéad", "Hiroshi", "Ewa"}
var lastNames = []string{"Kowalski", "Müller", "Ærø", "Dubois", "Novák", "García", "Tanaka", "Ivanova", "Sharma",
	"Škoda", "O'Brien", "Lindqvist", "Mensah", "Haddad", "Nielsen", "Rossi", "Fernández", "Wójcik", "Yamamoto", "Brennan"}
var jobTitles = []string{"IT Manager", "Service Desk Lead", "Procurement", "Network Engineer", "CIO",
	"Operations Analyst", "Security Officer", "Finance Controller", "", "Support Coordinator"}

// ErrNotDemo is returned when the database holds accounts but not the demo's.
var ErrNotDemo = errors.New("this database already holds accounts of its own, so the demo won't add to it; " +
	"run the demo on a database of its own (--db demo.db)")

// Bulk is how many generated contacts Seed adds under the demo company (`portal demo
// --contacts`), spread over how many new accounts.
type Bulk struct {
	Contacts int
	Accounts int
}

// Seed creates the demo organization if the database has no demo admin yet, and adds bulk's
// generated contacts under the demo company (none when bulk.Contacts is 0). Either way it
// sets a fresh random password for the admin and returns it, so the printed login works.
func Seed(ctx context.Context, store *db.Store, hasher *auth.Hasher, bulk Bulk) (email, password string, err error) {
	password, err = Passphrase()
	if err != nil {
		return "", "", err
	}
	hash, err := hasher.Hash(ctx, password)
	if err != nil {
		return "", "", err
	}
	admin, err := store.ContactByEmail(ctx, AdminEmail)
	switch {
	case err == nil:
		// A new password ends the sessions signed in with the old one, as everywhere else.
		err := store.Write(ctx, func(tx *db.Tx) error {
			if err := tx.SetPassword(ctx, admin.ID, hash, false); err != nil {
				return err
			}
			return tx.EndSessions(ctx, admin.ID)
		})
		if err != nil {
			return "", "", err
		}
		// Into a database that holds contacts already: slower, with every index in place.
		added, err := addBulk(ctx, store, bulk, admin.AccountID)
		if err != nil {
			return "", "", err
		}
		return AdminEmail, password, store.Write(ctx, func(tx *db.Tx) error {
			return tx.SetAdminLocker(ctx, added, admin.ID)
		})
	case !errors.Is(err, db.ErrNotFound):
		return "", "", err
	}
	// Never mix demo people, and an admin whose password is printed, into a real portal.
	if n, err := store.AccountCount(ctx); err != nil {
		return "", "", err
	} else if n > 0 {
		return "", "", ErrNotDemo
	}

	ids := map[string]int64{}
	for _, a := range tree {
		acc, err := store.CreateAccount(ctx, a.name, ids[a.parent])
		if err != nil {
			return "", "", fmt.Errorf("demo: %w", err)
		}
		ids[a.name] = acc.ID
	}
	// The generated contacts go in before the demo people, while the contacts table is
	// still empty: only then does the bulk load rebuild the indexes once instead of
	// updating them row by row (a million contacts in under a minute instead of minutes).
	added, err := addBulk(ctx, store, bulk, ids[RootAccount])
	if err != nil {
		return "", "", err
	}
	var adminID int64
	var created []int64 // the Northwind contacts, in creation order
	err = store.Write(ctx, func(tx *db.Tx) error {
		created = nil // a run again (PostgreSQL) starts afresh
		var err error
		adminID, err = tx.CreateContact(ctx, db.NewContact{ContactFields: db.ContactFields{AccountID: ids[RootAccount], FirstName: "Maria", LastName: "Anders", Email: AdminEmail, Phone: "+44 20 7946 0958", JobTitle: "Head of IT Services", Roles: []db.Role{db.RoleContactAdmin}}, PasswordHash: hash})
		if err != nil {
			return err
		}
		if err := tx.SetAdminLocker(ctx, added, adminID); err != nil {
			return err
		}
		accounts := []string{"Northwind Traders", "Northwind Logistics", "Northwind Logistics Nordic", "Northwind Retail"}
		for i := 0; i < 60; i++ {
			first, last := firstNames[i%len(firstNames)], lastNames[(i*7+i/len(lastNames))%len(lastNames)]
			account := accounts[i%len(accounts)]
			if i >= 56 {
				account = "Contoso Pharma"
			}
			var roles []db.Role
			if i%9 == 0 {
				roles = append(roles, db.RoleIncidentContact)
			}
			if i == 5 || i == 56 {
				roles = append(roles, db.RoleContactAdmin)
			}
			id, err := tx.CreateContact(ctx, db.NewContact{ContactFields: db.ContactFields{AccountID: ids[account], FirstName: first, LastName: last, Email: fmt.Sprintf("%s.%s%d@%s.example", ascii(first), ascii(last), i, domain(account)), Phone: fmt.Sprintf("+44 20 7946 %04d", 1000+i*37), JobTitle: jobTitles[i%len(jobTitles)], Roles: roles}, PasswordHash: hash, CreatedByID: adminID})
			if err != nil {
				return err
			}
			if err := tx.Audit(ctx, db.Event{Action: db.ActionContactCreated, ActorID: adminID, TargetID: id,
				AccountID: ids[account], Detail: "demo data"}); err != nil {
				return err
			}
			if account != "Contoso Pharma" {
				created = append(created, id)
			}
		}
		return nil
	})
	if err != nil {
		return "", "", fmt.Errorf("demo: %w", err)
	}
	if err := seedActivity(ctx, store, adminID, created); err != nil {
		return "", "", fmt.Errorf("demo: %w", err)
	}
	return AdminEmail, password, nil
}

// addBulk adds bulk's generated contacts under the account rootID, in new accounts named
// after the run ("Northwind Bulk 1", then 2 on the next run of the demo on the same
// database, ...), and returns those accounts' ids.
func addBulk(ctx context.Context, store *db.Store, bulk Bulk, rootID int64) ([]int64, error) {
	if bulk.Contacts == 0 {
		return nil, nil
	}
	for run := 1; ; run++ {
		prefix := fmt.Sprintf("Northwind Bulk %d", run)
		if _, err := store.AccountByName(ctx, prefix); err == nil {
			continue
		} else if !errors.Is(err, db.ErrNotFound) {
			return nil, fmt.Errorf("demo: %w", err)
		}
		pop, err := Populate(ctx, store, Scale{Contacts: bulk.Contacts, Accounts: bulk.Accounts, Parent: rootID, Prefix: prefix})
		if err != nil {
			return nil, err
		}
		ids := make([]int64, len(pop.Accounts))
		for i, a := range pop.Accounts {
			ids[i] = a.ID
		}
		return ids, nil
	}
}

// seedActivity makes the demo look lived in, through the same writes the portal makes (so
// the history shows them): some contacts logged in, a few locked by the admin, and one
// locked automatically after ten wrong passwords.
func seedActivity(ctx context.Context, store *db.Store, adminID int64, contacts []int64) error {
	return store.Write(ctx, func(tx *db.Tx) error {
		for i, id := range contacts {
			c, err := tx.ContactByID(ctx, id)
			if err != nil {
				return err
			}
			if i%3 == 0 {
				if err := tx.RecordLoginSuccess(ctx, id, c.AccountID, "", "192.0.2.10"); err != nil {
					return err
				}
			}
			switch i {
			case 7, 19, 33:
				if _, err := tx.LockContact(ctx, id, adminID); err != nil {
					return err
				}
				if err := tx.Audit(ctx, db.Event{Action: db.ActionContactLocked, ActorID: adminID, TargetID: id,
					AccountID: c.AccountID, RemoteIP: "192.0.2.10"}); err != nil {
					return err
				}
			case 44:
				const threshold = 10
				for range threshold {
					if _, err := tx.RecordLoginFailure(ctx, id, threshold, "198.51.100.7", "wrong password"); err != nil {
						return err
					}
				}
			}
		}
		return nil
	})
}

func domain(account string) string {
	if strings.HasPrefix(account, "Contoso") {
		return "contoso"
	}
	return "northwind"
}

var undecomposed = strings.NewReplacer("Ł", "L", "ł", "l", "Ø", "O", "ø", "o", "Æ", "Ae", "æ", "ae", "ß", "ss",
	"Đ", "D", "đ", "d")

// ascii folds a name into an email-friendly local part: accents dropped (Zoë → zoe), the
// letters Unicode does not decompose spelled out (Ł → l, Æ → ae), anything else removed.
func ascii(s string) string {
	s = undecomposed.Replace(s)
	var b strings.Builder
	for _, r := range norm.NFD.String(s) {
		switch {
		case r < utf8.RuneSelf && (unicode.IsLetter(r) || unicode.IsDigit(r) || r == '.' || r == '-' || r == ' '):
			b.WriteRune(unicode.ToLower(r))
		}
	}
	return b.String()
}

var words = []string{"amber", "birch", "canyon", "delta", "ember", "fjord", "granite", "harbor", "island",
	"juniper", "kestrel", "lantern", "meadow", "nebula", "orchid", "pebble", "quartz", "raven", "summit",
	"timber", "umber", "violet", "willow", "zephyr", "copper", "maple", "river", "falcon", "glacier", "cedar"}

// Passphrase is four random words and a number: long, easy to type, never blocklisted.
func Passphrase() (string, error) {
	parts := make([]string, 0, 5)
	for i := 0; i < 4; i++ {
		n, err := rand.Int(rand.Reader, big.NewInt(int64(len(words))))
		if err != nil {
			return "", err
		}
		parts = append(parts, words[n.Int64()])
	}
	n, err := rand.Int(rand.Reader, big.NewInt(90))
	if err != nil {
		return "", err
	}
	parts = append(parts, fmt.Sprint(10+n.Int64()))
	return strings.Join(parts, "-"), nil
}
