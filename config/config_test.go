package config

import (
	"io"
	"net/netip"
	"reflect"
	"strings"
	"testing"
	"time"
)

func TestFlagWinsOverEnvironment(t *testing.T) {
	env := map[string]string{
		"PORTAL_ADDR": "127.0.0.1:9000", "PORTAL_DB": "/env.db", "PORTAL_LOCKOUT_THRESHOLD": "7",
		"PORTAL_SMTP_HOST": "smtp.env.example", "PORTAL_SMTP_PORT": "2525", "PORTAL_SMTP_TLS": "none",
		"PORTAL_BASE_URL": "https://portal.example.com/",
	}
	c, rest, err := Parse("serve", []string{"--db", "/flag.db", "--lockout-threshold", "3", "extra"},
		func(k string) string { return env[k] }, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	if c.DBPath != "/flag.db" || c.LockoutThreshold != 3 {
		t.Errorf("flags: db %q threshold %d, want /flag.db and 3", c.DBPath, c.LockoutThreshold)
	}
	if c.Addr != "127.0.0.1:9000" || c.SMTP.Host != "smtp.env.example" || c.SMTP.Port != 2525 || c.SMTP.TLS != "none" {
		t.Errorf("environment not applied: %+v", c)
	}
	if c.BaseURL != "https://portal.example.com" || !c.Secure() {
		t.Errorf("base URL %q secure %v, want https://portal.example.com and true", c.BaseURL, c.Secure())
	}
	if len(rest) != 1 || rest[0] != "extra" {
		t.Errorf("remaining args %v, want [extra]", rest)
	}
}

func TestDefaults(t *testing.T) {
	c, _, err := Parse("serve", nil, func(string) string { return "" }, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	want := Config{Addr: "127.0.0.1:8080", DBPath: "./portal.db", DBPool: 20, BaseURL: "http://127.0.0.1:8080", LockoutThreshold: 10,
		InviteTTL: 7 * 24 * time.Hour, SMTP: SMTP{Port: 587, From: "portal@localhost", TLS: "starttls"},
		Throttles: Throttles{LoginBurst: 20, LoginInterval: 6 * time.Second, LinkBurst: 10, LinkInterval: 30 * time.Second,
			LoginBackoff: 50 * time.Millisecond, LoginBackoffMax: 5 * time.Second},
		SecretsKeyFile: "./portal.db.secrets-key"}
	if !reflect.DeepEqual(c, want) {
		t.Errorf("defaults %+v, want %+v", c, want)
	}
	if c.Secure() {
		t.Error("http base URL reported secure")
	}
}

// The key that seals two-step verification secrets lives beside a SQLite file unless given;
// PostgreSQL is shared by several servers, which must all read the one file the operator gives.
func TestSecretsKeyFile(t *testing.T) {
	env := func(m map[string]string) func(string) string { return func(k string) string { return m[k] } }
	for _, tc := range []struct {
		name    string
		args    []string
		env     map[string]string
		want    string
		problem string
	}{
		{"beside the SQLite file", []string{"--db", "/srv/portal/portal.db"}, nil, "/srv/portal/portal.db.secrets-key", ""},
		{"given by flag", []string{"--db", "/srv/portal.db", "--secrets-key-file", "/etc/portal/key"}, nil, "/etc/portal/key", ""},
		{"given by environment", []string{"--db", "postgres://db.internal/portal"},
			map[string]string{"PORTAL_SECRETS_KEY_FILE": "/etc/portal/key"}, "/etc/portal/key", ""},
		{"missing for PostgreSQL", []string{"--db", "postgresql://db.internal/portal"}, nil, "", "--secrets-key-file: required"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c, _, err := Parse("serve", tc.args, env(tc.env), io.Discard)
			switch {
			case tc.problem != "" && (err == nil || !strings.Contains(err.Error(), tc.problem)):
				t.Fatalf("error %v, want one about %q", err, tc.problem)
			case tc.problem == "" && err != nil:
				t.Fatal(err)
			case c.SecretsKeyFile != tc.want:
				t.Errorf("key file %q, want %q", c.SecretsKeyFile, tc.want)
			}
		})
	}
}

func TestInvalidValues(t *testing.T) {
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"--lockout-threshold", "0"}, "1 to 100"},
		{[]string{"--lockout-threshold", "101"}, "1 to 100"},
		{[]string{"--db", "postgres://db.internal/portal", "--secrets-key-file", "/k", "--db-pool", "3"}, "--db-pool \"3\": want a number from 4 to 1000"},
		{[]string{"--db-pool", "0"}, "--db-pool \"0\": want a number from 1 to 1000"},
		{[]string{"--smtp-port", "99999"}, "smtp-port"},
		{[]string{"--smtp-tls", "ssl"}, "none, starttls or tls"},
		{[]string{"--base-url", "portal.example.com"}, "absolute http or https URL"},
		{[]string{"--addr", "8080"}, "host:port"},
		{[]string{"--addr", "127.0.0.1:80808"}, "port from 0 to 65535"},
		{[]string{"--session-secret", "short"}, "32 characters"},
		{[]string{"--invite-ttl", "5m"}, "invite-ttl"},
		{[]string{"--smtp-from", "nobody"}, "email address"},
		{[]string{"--trusted-proxies", "127.0.0.1/33"}, "trusted-proxies"},
		{[]string{"--trusted-proxies", "proxy.example.com"}, "trusted-proxies"},
		{[]string{"--trusted-proxies", "fe80::1%eth0"}, "trusted-proxies"},
		{[]string{"--login-throttle-burst", "0"}, "login-throttle-burst"},
		{[]string{"--login-throttle-interval", "0s"}, "login-throttle-interval"},
		{[]string{"--link-throttle-burst", "many"}, "link-throttle-burst"},
		{[]string{"--link-throttle-interval", "-1s"}, "link-throttle-interval"},
		{[]string{"--login-backoff", "2m"}, "login-backoff"},
		{[]string{"--login-backoff", "1s", "--login-backoff-max", "500ms"}, "at least --login-backoff"},
	} {
		_, _, err := Parse("serve", tc.args, func(string) string { return "" }, io.Discard)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%v: error %v, want one mentioning %q", tc.args, err, tc.want)
		}
	}
}

func TestTrustedProxies(t *testing.T) {
	env := map[string]string{"PORTAL_TRUSTED_PROXIES": "127.0.0.1/32, 10.1.2.3/8,::1 ,2001:db8::/48,::ffff:192.168.0.0/112,"}
	c, _, err := Parse("serve", nil, func(k string) string { return env[k] }, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, p := range c.TrustedProxies {
		got = append(got, p.String())
	}
	// Masked to the network, a bare address stands for itself, IPv4-mapped becomes IPv4.
	want := []string{"127.0.0.1/32", "10.0.0.0/8", "::1/128", "2001:db8::/48", "192.168.0.0/16"}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("trusted proxies %v, want %v", got, want)
	}
	if !c.TrustedProxies[4].Contains(netip.MustParseAddr("192.168.7.7")) {
		t.Error("192.168.0.0/16 does not contain 192.168.7.7")
	}
	c, _, err = Parse("serve", nil, func(string) string { return "" }, io.Discard)
	if err != nil || len(c.TrustedProxies) != 0 {
		t.Errorf("default trusted proxies %v (err %v), want none: the peer is the client", c.TrustedProxies, err)
	}
}

func TestThrottleFlags(t *testing.T) {
	env := map[string]string{"PORTAL_LOGIN_THROTTLE_BURST": "100", "PORTAL_LINK_THROTTLE_INTERVAL": "1m",
		"PORTAL_LOGIN_BACKOFF": "0"}
	c, _, err := Parse("serve", []string{"--login-throttle-interval", "2s", "--link-throttle-burst", "3",
		"--login-backoff-max", "0"}, func(k string) string { return env[k] }, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	want := Throttles{LoginBurst: 100, LoginInterval: 2 * time.Second, LinkBurst: 3, LinkInterval: time.Minute}
	if c.Throttles != want {
		t.Errorf("throttles %+v, want %+v", c.Throttles, want)
	}
}
