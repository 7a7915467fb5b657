package config

import (
	"io"
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
	want := Config{Addr: "127.0.0.1:8080", DBPath: "./portal.db", BaseURL: "http://127.0.0.1:8080", LockoutThreshold: 10,
		InviteTTL: 7 * 24 * time.Hour, SMTP: SMTP{Port: 587, From: "portal@localhost", TLS: "starttls"}}
	if c != want {
		t.Errorf("defaults %+v, want %+v", c, want)
	}
	if c.Secure() {
		t.Error("http base URL reported secure")
	}
}

func TestInvalidValues(t *testing.T) {
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"--lockout-threshold", "0"}, "1 to 100"},
		{[]string{"--lockout-threshold", "101"}, "1 to 100"},
		{[]string{"--smtp-port", "99999"}, "smtp-port"},
		{[]string{"--smtp-tls", "ssl"}, "none, starttls or tls"},
		{[]string{"--base-url", "portal.example.com"}, "absolute http or https URL"},
		{[]string{"--addr", "8080"}, "host:port"},
		{[]string{"--session-secret", "short"}, "32 characters"},
		{[]string{"--invite-ttl", "5m"}, "invite-ttl"},
		{[]string{"--smtp-from", "nobody"}, "email address"},
	} {
		_, _, err := Parse("serve", tc.args, func(string) string { return "" }, io.Discard)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%v: error %v, want one mentioning %q", tc.args, err, tc.want)
		}
	}
}
