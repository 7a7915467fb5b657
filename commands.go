package main

import (
	"cmp"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"strings"
	"time"

	"portal/app"
	"portal/auth"
	"portal/components"
	"portal/config"
	"portal/contacts"
	"portal/db"
	"portal/demo"
	"portal/validate"
)

// commands holds what every subcommand reads and writes.
type commands struct {
	ctx    context.Context
	stdin  io.Reader
	stdout io.Writer
	stderr io.Writer
	getenv func(string) string
}

// fail prints an error for the operator and returns exit status 1.
func (c commands) fail(format string, args ...any) int {
	fmt.Fprintf(c.stderr, "portal: "+format+"\n", args...)
	return 1
}

func (c commands) logger() *slog.Logger {
	return slog.New(slog.NewTextHandler(c.stderr, &slog.HandlerOptions{Level: slog.LevelInfo}))
}

func (c commands) serve(args []string) int {
	cfg, rest, err := config.Parse("serve", args, c.getenv, c.stderr)
	if err != nil {
		return c.flagError(err)
	}
	if len(rest) > 0 {
		return c.fail("serve: unexpected argument %q", rest[0])
	}
	return c.runServer(cfg, nil)
}

func (c commands) demo(args []string) int {
	fs := flag.NewFlagSet("demo", flag.ContinueOnError)
	fs.SetOutput(c.stderr)
	build := config.Flags(fs, c.getenv)
	bulk := fs.Int("contacts", 0, "also add this many generated contacts under the demo company (load tests)")
	bulkAccounts := fs.Int("accounts", 1, "spread the --contacts over this many new accounts")
	if err := fs.Parse(args); err != nil {
		return c.flagError(err)
	}
	cfg, err := build()
	if err != nil {
		return c.flagError(err)
	}
	if fs.NArg() > 0 {
		return c.fail("demo: unexpected argument %q", fs.Arg(0))
	}
	if *bulk < 0 || *bulk > 10_000_000 || *bulkAccounts < 1 || *bulkAccounts > 1000 {
		return c.fail("demo: --contacts must be 0..10000000 and --accounts 1..1000")
	}
	return c.runServer(cfg, func(a *app.App) error {
		start := time.Now()
		email, password, err := demo.Seed(c.ctx, a.Store(), a.Hasher(), demo.Bulk{Contacts: *bulk, Accounts: *bulkAccounts})
		if err != nil {
			return err
		}
		if *bulk > 0 {
			fmt.Fprintf(c.stdout, "Added %d contacts in %d accounts under %q in %s.\n", *bulk, *bulkAccounts, demo.RootAccount,
				time.Since(start).Round(time.Millisecond))
		}
		fmt.Fprintf(c.stdout, "\nDemo portal: %s\n  User name: %s\n  Password:  %s\n\n", cfg.BaseURL+"/login", email, password)
		return nil
	})
}

// runServer builds the app, runs prepare (the demo's seeding), and serves until a signal.
func (c commands) runServer(cfg config.Config, prepare func(*app.App) error) int {
	log := c.logger()
	a, err := app.New(c.ctx, cfg, log)
	if err != nil {
		return c.fail("%v", err)
	}
	if prepare != nil {
		if err := prepare(a); err != nil {
			a.Close()
			return c.fail("%v", err)
		}
	}
	if err := a.ListenAndServe(c.ctx); err != nil {
		return c.fail("%v", err)
	}
	return 0
}

func (c commands) flagError(err error) int {
	if errors.Is(err, flag.ErrHelp) {
		return 0
	}
	return c.fail("%v", err)
}

// parseInterspersed parses flags that may come before or after positional arguments
// ("account add NAME --parent P" as well as "account add --parent P NAME").
func parseInterspersed(fs *flag.FlagSet, args []string) ([]string, error) {
	var positional []string
	for {
		if err := fs.Parse(args); err != nil {
			return nil, err
		}
		args = fs.Args()
		if len(args) == 0 {
			return positional, nil
		}
		positional = append(positional, args[0])
		args = args[1:]
	}
}

func (c commands) dbFlag(fs *flag.FlagSet) *string {
	def := c.getenv("PORTAL_DB")
	if def == "" {
		def = "./portal.db"
	}
	return fs.String("db", def, "SQLite database file, or a postgres:// URL (PORTAL_DB)")
}

// openStore opens and migrates the database for a shell command.
func (c commands) openStore(path string) (*db.Store, error) {
	store, err := db.Open(path)
	if err != nil {
		return nil, err
	}
	if err := store.Migrate(c.ctx); err != nil {
		store.Close()
		return nil, err
	}
	return store, nil
}

func (c commands) accountAdd(args []string) int {
	fs := flag.NewFlagSet("account add", flag.ContinueOnError)
	fs.SetOutput(c.stderr)
	dbPath := c.dbFlag(fs)
	parent := fs.String("parent", "", "name of the parent account")
	names, err := parseInterspersed(fs, args)
	if err != nil {
		return c.flagError(err)
	}
	if len(names) != 1 || strings.TrimSpace(names[0]) == "" {
		return c.fail("account add: give exactly one account NAME (quote names with spaces)")
	}
	store, err := c.openStore(*dbPath)
	if err != nil {
		return c.fail("%v", err)
	}
	defer store.Close()
	a, err := c.rules(store, 0).CreateAccount(c.ctx, names[0], *parent)
	var unknown *contacts.UnknownAccountError
	var problem validate.Problem
	switch {
	case errors.As(err, &unknown):
		return c.fail("account add: parent account %q does not exist", unknown.Name)
	case errors.Is(err, db.ErrAccountExists):
		return c.fail("account add: an account named %q already exists", names[0])
	case errors.As(err, &problem):
		return c.fail("account add: %v", problem)
	case err != nil:
		return c.fail("%v", err)
	}
	fmt.Fprintf(c.stdout, "Account %q created (id %d).\n", a.Name, a.ID)
	return 0
}

// rules are the portal's rules over store, for commands that act as the system.
func (c commands) rules(store *db.Store, inviteTTL time.Duration) *contacts.Service {
	return contacts.New(store, app.NewHasher(), c.logger(), contacts.Settings{InviteTTL: inviteTTL})
}

// roleFlags collects repeated --role flags.
type roleFlags []db.Role

func (r *roleFlags) String() string { return fmt.Sprint(*r) }
func (r *roleFlags) Set(s string) error {
	role, ok := db.ParseRole(s)
	if !ok {
		return fmt.Errorf("unknown role %q: use contact-admin or incident-contact", s)
	}
	*r = append(*r, role)
	return nil
}

// contactAdd creates a contact as the system acting in the named account, under the same
// rules as Create contact on the web. Only here can a password be given (from standard
// input); without one the set-your-password mail is queued.
func (c commands) contactAdd(args []string) int {
	fs := flag.NewFlagSet("contact add", flag.ContinueOnError)
	fs.SetOutput(c.stderr)
	dbPath := c.dbFlag(fs)
	account := fs.String("account", "", "name of the contact's account (required)")
	var f db.ContactFields
	fs.StringVar(&f.Email, "email", "", "email address, also the user name (required)")
	fs.StringVar(&f.FirstName, "first", "", "first name (required)")
	fs.StringVar(&f.LastName, "last", "", "last name (required)")
	fs.StringVar(&f.Phone, "phone", "", "phone number")
	fs.StringVar(&f.JobTitle, "job-title", "", "job title")
	passwordStdin := fs.Bool("password-stdin", false, "read the password from standard input instead of sending a set-your-password email")
	ttlFlag := fs.String("invite-ttl", cmp.Or(c.getenv("PORTAL_INVITE_TTL"), config.DefaultInviteTTL),
		"how long the set-your-password link stays valid (PORTAL_INVITE_TTL)")
	var roles roleFlags
	fs.Var(&roles, "role", "contact-admin or incident-contact (repeat for both)")
	rest, err := parseInterspersed(fs, args)
	if err != nil {
		return c.flagError(err)
	}
	if len(rest) > 0 {
		return c.fail("contact add: unexpected argument %q", rest[0])
	}
	f.Roles = roles
	var problems []string
	if *account == "" {
		problems = append(problems, "--account is required")
	}
	inviteTTL, err := config.ParseInviteTTL(*ttlFlag)
	if err != nil {
		problems = append(problems, err.Error()+".")
	}
	if len(problems) > 0 {
		return c.fail("contact add: %s", strings.Join(problems, " "))
	}
	password := ""
	if *passwordStdin {
		raw, err := io.ReadAll(io.LimitReader(c.stdin, 4096))
		if err != nil {
			return c.fail("contact add: read password: %v", err)
		}
		if password = strings.TrimRight(string(raw), "\r\n"); password == "" {
			return c.fail("contact add: password refused: standard input held no password")
		}
		if strings.ContainsAny(password, "\r\n") {
			// A password field holds one line: a password with a line break in it could never be typed to sign in.
			return c.fail("contact add: password refused: standard input held more than one line; give the password on one line")
		}
	}

	store, err := c.openStore(*dbPath)
	if err != nil {
		return c.fail("%v", err)
	}
	defer store.Close()
	rules := c.rules(store, inviteTTL)
	sc, err := rules.AccountScope(c.ctx, *account)
	var unknown *contacts.UnknownAccountError
	if errors.As(err, &unknown) {
		return c.fail("contact add: account %q does not exist (create it with: portal account add)", unknown.Name)
	}
	if err != nil {
		return c.fail("%v", err)
	}
	f.AccountID = sc.Root().ID
	created, err := rules.Create(c.ctx, contacts.System(sc), f, password)
	var fields contacts.FieldErrors
	var taken *contacts.EmailTakenError
	var policy *auth.PolicyError
	switch {
	case errors.As(err, &fields):
		return c.fail("contact add: %v", fields)
	case errors.As(err, &taken):
		return c.fail("contact add: a contact with the email %q already exists", f.Email)
	case errors.As(err, &policy):
		return c.fail("contact add: password refused: %s", policy.Reason)
	case err != nil:
		return c.fail("%v", err)
	}
	fmt.Fprintf(c.stdout, "Contact %s <%s> created in %q (id %d).\n", created.Name(), created.Email, sc.Root().Name, created.ID)
	if !created.HasPassword {
		fmt.Fprintf(c.stdout, "A set-your-password email (link valid %s) is queued: the running portal sends it,\n"+
			"or writes it to its log when no SMTP host is configured.\n", components.Duration(inviteTTL))
	}
	return 0
}

func (c commands) backup(args []string) int {
	fs := flag.NewFlagSet("backup", flag.ContinueOnError)
	fs.SetOutput(c.stderr)
	dbPath := c.dbFlag(fs)
	files, err := parseInterspersed(fs, args)
	if err != nil {
		return c.flagError(err)
	}
	if len(files) != 1 {
		return c.fail("backup: give exactly one FILE to write")
	}
	if _, err := os.Stat(files[0]); err == nil {
		return c.fail("backup: %s already exists; choose a new file name", files[0])
	}
	if db.IsPostgres(*dbPath) {
		return c.fail("backup: %v", db.ErrBackupPostgres)
	}
	if _, err := os.Stat(*dbPath); err != nil {
		return c.fail("backup: database %s: %v", *dbPath, err)
	}
	store, err := db.Open(*dbPath)
	if err != nil {
		return c.fail("%v", err)
	}
	defer store.Close()
	if err := store.Backup(c.ctx, files[0]); err != nil {
		return c.fail("%v", err)
	}
	fmt.Fprintf(c.stdout, "Backup written to %s.\n", files[0])
	return 0
}

// copyDB moves a stopped installation from its SQLite file into an empty PostgreSQL
// database (db.Copy), and prints each table's rows and checksum as read back from both.
func (c commands) copyDB(args []string) int {
	fs := flag.NewFlagSet("copy", flag.ContinueOnError)
	fs.SetOutput(c.stderr)
	from := fs.String("from", "", "the installation's SQLite database file (required)")
	to := fs.String("to", "", "the PostgreSQL database to copy into, an empty one: postgres://user:password@host/name?sslmode=verify-full (required)")
	rest, err := parseInterspersed(fs, args)
	if err != nil {
		return c.flagError(err)
	}
	switch {
	case len(rest) > 0:
		return c.fail("copy: unexpected argument %q", rest[0])
	case *from == "" || *to == "":
		return c.fail("copy: give --from FILE and --to postgres://...")
	case db.IsPostgres(*from):
		return c.fail("copy: --from is the SQLite database file; copying between PostgreSQL databases is pg_dump's work")
	case !db.IsPostgres(*to):
		return c.fail("copy: --to must be a postgres:// or postgresql:// URL")
	}
	if _, err := os.Stat(*from); err != nil {
		return c.fail("copy: database %s: %v", *from, err)
	}
	start := time.Now()
	// Both are brought to this version's schema first: the tables must match column for column.
	source, err := c.openStore(*from)
	if err != nil {
		return c.fail("%v", err)
	}
	defer source.Close()
	target, err := db.Open(*to, db.WithPoolSize(4))
	if err != nil {
		return c.fail("%v", err)
	}
	defer target.Close()
	if err := target.Migrate(c.ctx); err != nil {
		return c.fail("%v", err)
	}
	fmt.Fprintf(c.stdout, "Copying %s into %s ...\n", *from, db.RedactDSN(*to))
	report, err := db.Copy(c.ctx, source, target, c.stdout)
	if errors.Is(err, db.ErrTargetNotEmpty) {
		return c.fail("copy: %v", err)
	}
	if len(report) > 0 {
		fmt.Fprintf(c.stdout, "\n%-24s %10s %10s  %-16s  %-16s\n", "table", "SQLite", "PostgreSQL", "SHA-256 SQLite", "SHA-256 Postgres")
		for _, r := range report {
			verdict := "same"
			if !r.Same() {
				verdict = "DIFFERENT"
			}
			fmt.Fprintf(c.stdout, "%-24s %10d %10d  %.16s  %.16s  %s\n", r.Table, r.SourceRows, r.TargetRows, r.SourceSum, r.TargetSum, verdict)
		}
	}
	if err != nil {
		return c.fail("copy: %v; do not start the portal on the copy", err)
	}
	fmt.Fprintf(c.stdout, "\nEvery table arrived as it is in %s (%s). Start the portal with --db %s\n",
		*from, time.Since(start).Round(time.Millisecond), db.RedactDSN(*to))
	return 0
}
