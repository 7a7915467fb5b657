// Package config reads the server's settings from flags and environment variables.
// Every flag has a variable; a flag given on the command line wins over the variable.
package config

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/netip"
	"net/url"
	"strconv"
	"strings"
	"time"
)

// MinDBPool is the fewest connections to PostgreSQL a server may open. Two exports may run at
// once (handlers.MaxConcurrentExports); each holds a connection for its snapshot and needs a
// second one for its audit row, so with fewer they could wait on each other for good.
const MinDBPool = 4

// DefaultInviteTTL is how long a set-your-password link stays valid unless --invite-ttl says.
const DefaultInviteTTL = "168h"

// ParseInviteTTL reads an --invite-ttl (for serve, and for contact add on the command line):
// at least an hour.
func ParseInviteTTL(s string) (time.Duration, error) {
	d, err := time.ParseDuration(strings.TrimSpace(s))
	if err != nil || d < time.Hour {
		return 0, fmt.Errorf("--invite-ttl %q: want a duration of at least 1h, such as 168h", s)
	}
	return d, nil
}

// SecretsKeyFile is the key file that seals two-step verification secrets (for serve, and for
// secrets rotate on the command line): the one given, or DB.secrets-key beside a SQLite
// file. PostgreSQL has no file to stand beside, and every server must use the same key, so
// there it must be given.
func SecretsKeyFile(given, dbPath string) (string, error) {
	given = strings.TrimSpace(given)
	switch {
	case given != "" || dbPath == "":
		return given, nil
	case isPostgres(dbPath):
		return "", errors.New("--secrets-key-file: required with a postgres:// --db, the same file on every server " +
			"(create one with: openssl rand -base64 32 > portal.secrets-key; chmod 600 portal.secrets-key)")
	}
	return dbPath + ".secrets-key", nil
}

// Config is everything `portal serve` and `portal demo` need.
type Config struct {
	Addr   string
	DBPath string // a SQLite file, or a postgres:// URL (with --db-sslmode applied)
	// DBPool is how many connections to PostgreSQL this server opens at most (MinDBPool or
	// more).
	DBPool           int
	BaseURL          string
	SMTP             SMTP
	SessionSecret    string
	LockoutThreshold int
	InviteTTL        time.Duration
	AutoUnlockAfter  time.Duration // 0: automatic locks stay until an admin or a reset lifts them
	// TrustedProxies are the reverse proxies whose X-Forwarded-For is believed; empty: the
	// TCP peer is the client.
	TrustedProxies []netip.Prefix
	Throttles      Throttles
	// SecretsKeyFile holds the key that seals authenticator app secrets and passkeys (package
	// secrets). Beside a SQLite file by default, created on first start; PostgreSQL needs one
	// given, the same file for every server.
	SecretsKeyFile string
}

// Throttles are the limits that slow password guessing. Per client address (an IPv6
// address counts by its /64): LoginBurst sign-ins at once, then one more every
// LoginInterval; LinkBurst and LinkInterval likewise for the forms anyone can post without
// signing in (Forgot password? and setting a password through a link). Per user name:
// each failed sign-in in a row delays the answer to the next attempt on that name, from
// LoginBackoff (0: off) doubling up to LoginBackoffMax.
type Throttles struct {
	LoginBurst      int
	LoginInterval   time.Duration
	LinkBurst       int
	LinkInterval    time.Duration
	LoginBackoff    time.Duration
	LoginBackoffMax time.Duration
}

// SMTP is the relay mail goes through; an empty Host writes mail to the log instead.
type SMTP struct {
	Host     string
	Port     int
	User     string
	Password string
	From     string
	TLS      string // none, starttls or tls
}

// Secure reports whether the portal is served over https (cookies are then Secure).
func (c Config) Secure() bool { return strings.HasPrefix(c.BaseURL, "https://") }

// Flags registers the server flags on fs and returns a function that, after fs.Parse,
// yields the validated Config. Environment variables give the defaults, so a flag on the
// command line wins.
func Flags(fs *flag.FlagSet, getenv func(string) string) func() (Config, error) {
	env := func(name, def string) string {
		if v := getenv(name); v != "" {
			return v
		}
		return def
	}
	addr := fs.String("addr", env("PORTAL_ADDR", "127.0.0.1:8080"), "address to listen on (PORTAL_ADDR)")
	dbPath := fs.String("db", env("PORTAL_DB", "./portal.db"), "SQLite database file, or a postgres:// URL (PORTAL_DB)")
	dbPool := fs.String("db-pool", env("PORTAL_DB_POOL", "20"), "PostgreSQL: connections this server opens at most (PORTAL_DB_POOL)")
	dbSSLMode := fs.String("db-sslmode", env("PORTAL_DB_SSLMODE", ""), "PostgreSQL: sslmode for the connection, such as verify-full; empty keeps the URL's (PORTAL_DB_SSLMODE)")
	baseURL := fs.String("base-url", env("PORTAL_BASE_URL", ""), "public URL links in emails are built from (PORTAL_BASE_URL; default http://ADDR)")
	smtpHost := fs.String("smtp-host", env("PORTAL_SMTP_HOST", ""), "SMTP relay host; empty writes mail to the log (PORTAL_SMTP_HOST)")
	smtpPort := fs.String("smtp-port", env("PORTAL_SMTP_PORT", "587"), "SMTP relay port (PORTAL_SMTP_PORT)")
	smtpUser := fs.String("smtp-user", env("PORTAL_SMTP_USER", ""), "SMTP user; empty: no auth (PORTAL_SMTP_USER)")
	smtpPassword := fs.String("smtp-password", env("PORTAL_SMTP_PASSWORD", ""), "SMTP password (PORTAL_SMTP_PASSWORD)")
	smtpFrom := fs.String("smtp-from", env("PORTAL_SMTP_FROM", "portal@localhost"), "sender address (PORTAL_SMTP_FROM)")
	smtpTLS := fs.String("smtp-tls", env("PORTAL_SMTP_TLS", "starttls"), "none, starttls or tls (PORTAL_SMTP_TLS)")
	secret := fs.String("session-secret", env("PORTAL_SESSION_SECRET", ""), "secret for CSRF tokens; default: generated once and stored in the database (PORTAL_SESSION_SECRET)")
	threshold := fs.String("lockout-threshold", env("PORTAL_LOCKOUT_THRESHOLD", "10"), "failed logins in a row that lock a contact, 1..100 (PORTAL_LOCKOUT_THRESHOLD)")
	inviteTTL := fs.String("invite-ttl", env("PORTAL_INVITE_TTL", DefaultInviteTTL), "how long a set-your-password link stays valid (PORTAL_INVITE_TTL)")
	autoUnlock := fs.String("auto-unlock", env("PORTAL_AUTO_UNLOCK", "0"), "lift automatic locks after this long; 0 keeps them (PORTAL_AUTO_UNLOCK)")
	proxies := fs.String("trusted-proxies", env("PORTAL_TRUSTED_PROXIES", ""), "comma-separated CIDRs of reverse proxies whose X-Forwarded-For is believed; empty: the peer address is the client (PORTAL_TRUSTED_PROXIES)")
	loginBurst := fs.String("login-throttle-burst", env("PORTAL_LOGIN_THROTTLE_BURST", "20"), "sign-ins one client address may try at once (PORTAL_LOGIN_THROTTLE_BURST)")
	loginInterval := fs.String("login-throttle-interval", env("PORTAL_LOGIN_THROTTLE_INTERVAL", "6s"), "then one more sign-in per address every this long (PORTAL_LOGIN_THROTTLE_INTERVAL)")
	linkBurst := fs.String("link-throttle-burst", env("PORTAL_LINK_THROTTLE_BURST", "10"), "Forgot password? and set-password posts one client address may send at once (PORTAL_LINK_THROTTLE_BURST)")
	linkInterval := fs.String("link-throttle-interval", env("PORTAL_LINK_THROTTLE_INTERVAL", "30s"), "then one more per address every this long (PORTAL_LINK_THROTTLE_INTERVAL)")
	backoff := fs.String("login-backoff", env("PORTAL_LOGIN_BACKOFF", "50ms"), "delay of the next sign-in on a user name after one failure, doubled with each further failure in a row; 0 turns it off (PORTAL_LOGIN_BACKOFF)")
	backoffMax := fs.String("login-backoff-max", env("PORTAL_LOGIN_BACKOFF_MAX", "5s"), "longest such delay (PORTAL_LOGIN_BACKOFF_MAX)")
	secretsKey := fs.String("secrets-key-file", env("PORTAL_SECRETS_KEY_FILE", ""), "file with the key that seals two-step verification secrets; default: DB.secrets-key beside a SQLite file, created on first start; required with PostgreSQL (PORTAL_SECRETS_KEY_FILE)")

	return func() (Config, error) {
		c := Config{
			Addr:          strings.TrimSpace(*addr),
			DBPath:        strings.TrimSpace(*dbPath),
			BaseURL:       strings.TrimRight(strings.TrimSpace(*baseURL), "/"),
			SessionSecret: *secret,
			SMTP: SMTP{
				Host: strings.TrimSpace(*smtpHost), User: *smtpUser, Password: *smtpPassword,
				From: strings.TrimSpace(*smtpFrom), TLS: strings.ToLower(strings.TrimSpace(*smtpTLS)),
			},
		}
		var errs []error
		if _, port, err := net.SplitHostPort(c.Addr); err != nil || !validPort(port) {
			errs = append(errs, fmt.Errorf("--addr %q: want host:port, with a port from 0 to 65535", c.Addr))
		}
		if c.DBPath == "" {
			errs = append(errs, errors.New("--db: must not be empty"))
		}
		var err error
		fewest := 1 // SQLite sizes its own pools, and does not use it
		if isPostgres(c.DBPath) {
			fewest = MinDBPool
		}
		if c.DBPool, err = strconv.Atoi(strings.TrimSpace(*dbPool)); err != nil || c.DBPool < fewest || c.DBPool > 1000 {
			errs = append(errs, fmt.Errorf("--db-pool %q: want a number from %d to 1000", *dbPool, fewest))
		}
		if mode := strings.TrimSpace(*dbSSLMode); mode != "" {
			if c.DBPath, err = withSSLMode(c.DBPath, mode); err != nil {
				errs = append(errs, err)
			}
		}
		if c.BaseURL == "" {
			c.BaseURL = "http://" + c.Addr
		}
		if u, err := url.Parse(c.BaseURL); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			errs = append(errs, fmt.Errorf("--base-url %q: want an absolute http or https URL", c.BaseURL))
		}
		port, err := strconv.Atoi(strings.TrimSpace(*smtpPort))
		if err != nil || port < 1 || port > 65535 {
			errs = append(errs, fmt.Errorf("--smtp-port %q: want a port number", *smtpPort))
		}
		c.SMTP.Port = port
		switch c.SMTP.TLS {
		case "none", "starttls", "tls":
		default:
			errs = append(errs, fmt.Errorf("--smtp-tls %q: want none, starttls or tls", *smtpTLS))
		}
		if !strings.Contains(c.SMTP.From, "@") {
			errs = append(errs, fmt.Errorf("--smtp-from %q: want an email address", c.SMTP.From))
		}
		c.LockoutThreshold, err = strconv.Atoi(strings.TrimSpace(*threshold))
		if err != nil || c.LockoutThreshold < 1 || c.LockoutThreshold > 100 {
			errs = append(errs, fmt.Errorf("--lockout-threshold %q: want a number from 1 to 100", *threshold))
		}
		c.InviteTTL, err = ParseInviteTTL(*inviteTTL)
		errs = append(errs, err)
		c.AutoUnlockAfter, err = time.ParseDuration(strings.TrimSpace(*autoUnlock))
		if err != nil || c.AutoUnlockAfter < 0 {
			errs = append(errs, fmt.Errorf("--auto-unlock %q: want a duration such as 30m, or 0 for off", *autoUnlock))
		}
		if c.TrustedProxies, err = parsePrefixes(*proxies); err != nil {
			errs = append(errs, fmt.Errorf("--trusted-proxies %q: %w; want CIDRs such as 127.0.0.1/32,10.0.0.0/8", *proxies, err))
		}
		c.Throttles, err = parseThrottles(*loginBurst, *loginInterval, *linkBurst, *linkInterval, *backoff, *backoffMax)
		errs = append(errs, err)
		c.SecretsKeyFile, err = SecretsKeyFile(*secretsKey, c.DBPath)
		errs = append(errs, err)
		if c.SessionSecret != "" && len(c.SessionSecret) < 32 {
			errs = append(errs, errors.New("--session-secret: use at least 32 characters"))
		}
		return c, errors.Join(errs...)
	}
}

// parsePrefixes reads comma-separated CIDRs; a bare address stands for itself alone.
// IPv4-mapped IPv6 prefixes become IPv4 ones, as peer addresses are compared in that form.
func parsePrefixes(list string) ([]netip.Prefix, error) {
	var out []netip.Prefix
	for _, field := range strings.Split(list, ",") {
		field = strings.TrimSpace(field)
		if field == "" {
			continue
		}
		p, err := netip.ParsePrefix(field)
		if err != nil {
			addr, aerr := netip.ParseAddr(field)
			if aerr != nil || addr.Zone() != "" {
				return nil, fmt.Errorf("%q is not a CIDR", field)
			}
			p = netip.PrefixFrom(addr, addr.BitLen())
		}
		if p.Addr().Is4In6() && p.Bits() >= 96 {
			p = netip.PrefixFrom(p.Addr().Unmap(), p.Bits()-96)
		}
		out = append(out, p.Masked())
	}
	return out, nil
}

func parseThrottles(loginBurst, loginInterval, linkBurst, linkInterval, backoff, backoffMax string) (Throttles, error) {
	var t Throttles
	var errs []error
	burst := func(flag, v string) int {
		n, err := strconv.Atoi(strings.TrimSpace(v))
		if err != nil || n < 1 {
			errs = append(errs, fmt.Errorf("--%s %q: want a whole number of at least 1", flag, v))
		}
		return n
	}
	duration := func(flag, v string, least, most time.Duration) time.Duration {
		d, err := time.ParseDuration(strings.TrimSpace(v))
		if err != nil || d < least || d > most {
			errs = append(errs, fmt.Errorf("--%s %q: want a duration from %v to %v", flag, v, least, most))
		}
		return d
	}
	t.LoginBurst = burst("login-throttle-burst", loginBurst)
	t.LoginInterval = duration("login-throttle-interval", loginInterval, time.Nanosecond, 24*time.Hour)
	t.LinkBurst = burst("link-throttle-burst", linkBurst)
	t.LinkInterval = duration("link-throttle-interval", linkInterval, time.Nanosecond, 24*time.Hour)
	t.LoginBackoff = duration("login-backoff", backoff, 0, time.Minute)
	t.LoginBackoffMax = duration("login-backoff-max", backoffMax, 0, time.Minute)
	if t.LoginBackoffMax < t.LoginBackoff {
		errs = append(errs, fmt.Errorf("--login-backoff-max %q: want at least --login-backoff (%s)", backoffMax, backoff))
	}
	return t, errors.Join(errs...)
}

// Parse is Flags on a fresh flag set for a command named name: it parses args and returns
// the validated Config and the remaining arguments.
func Parse(name string, args []string, getenv func(string) string, stderr io.Writer) (Config, []string, error) {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(stderr)
	build := Flags(fs, getenv)
	if err := fs.Parse(args); err != nil {
		return Config{}, nil, err
	}
	c, err := build()
	return c, fs.Args(), err
}

// withSSLMode sets the sslmode of a PostgreSQL URL.
func withSSLMode(dsn, mode string) (string, error) {
	switch mode {
	case "disable", "allow", "prefer", "require", "verify-ca", "verify-full":
	default:
		return "", fmt.Errorf("--db-sslmode %q: want disable, allow, prefer, require, verify-ca or verify-full", mode)
	}
	if !strings.HasPrefix(dsn, "postgres://") && !strings.HasPrefix(dsn, "postgresql://") {
		return "", errors.New("--db-sslmode: only for a postgres:// --db")
	}
	u, err := url.Parse(dsn)
	if err != nil {
		return "", errors.New("--db: the postgres:// URL does not parse")
	}
	q := u.Query()
	q.Set("sslmode", mode)
	u.RawQuery = q.Encode()
	return u.String(), nil
}

// validPort reports whether port is a port number (0: any free port).
func validPort(port string) bool {
	_, err := strconv.ParseUint(port, 10, 16)
	return err == nil
}

// isPostgres reports whether the --db value is a PostgreSQL URL: db.IsPostgres's test, kept
// here so that reading flags needs none of the database packages (nor cgo).
func isPostgres(dbPath string) bool {
	return strings.HasPrefix(dbPath, "postgres://") || strings.HasPrefix(dbPath, "postgresql://")
}
