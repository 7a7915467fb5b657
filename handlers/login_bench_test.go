package handlers_test

import (
	"net/http"
	"net/url"
	"slices"
	"testing"
	"time"

	"golang.org/x/crypto/argon2"

	"portal/app"
	"portal/auth"
	"portal/db"
	"portal/portaltest"
	"portal/throttle"
)

// BenchmarkLoginRequest is a whole successful login through the Fiber app with production
// argon2id parameters (the POST: form parsing, CSRF check, lookup, verification, audit row,
// new session), taking turns with its baseline, one bare argon2.IDKey call with the same
// parameters, so that a shared machine's noise falls on both alike. It reports both medians
// and their ratio: what the request adds to the hash (target ≤ 1.1).
//
//	go test -tags sqlite_fts5 -run '^$' -bench LoginRequest -benchtime 100x ./handlers/
func BenchmarkLoginRequest(b *testing.B) {
	env := portaltest.New(b, portaltest.Options{RealHasher: true, AppOptions: []app.Option{
		app.WithLoginLimiter(throttle.New(1<<30, 1, 10, nil))}})
	acc := env.Account("Northwind Traders", nil)
	c := env.Contact(acc, "Maria", "Anders", "maria@northwind.example", db.RoleContactAdmin)
	form := url.Values{"email": {c.Email}, "password": {portaltest.Password}}
	p, salt := auth.DefaultParams, make([]byte, auth.DefaultParams.SaltLen)
	var login, bare []time.Duration
	signIn := func() {
		br := env.Browser()
		br.Get("/login") // the form and its CSRF token, as a browser has them before signing in
		start := time.Now()
		if resp := br.PostForm("/login", form); resp.StatusCode != http.StatusSeeOther {
			b.Fatalf("login: status %d, want 303", resp.StatusCode)
		}
		login = append(login, time.Since(start))
	}
	hash := func() {
		start := time.Now()
		argon2.IDKey([]byte(portaltest.Password), salt, p.Time, p.Memory, p.Threads, p.KeyLen)
		bare = append(bare, time.Since(start))
	}
	b.ResetTimer()
	for i := range b.N {
		// Each goes first half of the time: whichever ran second was measured faster.
		if i%2 == 0 {
			signIn()
			hash()
		} else {
			hash()
			signIn()
		}
	}
	b.StopTimer()
	l, k := medianOf(login), medianOf(bare)
	b.ReportMetric(float64(l.Microseconds())/1000, "login-p50-ms")
	b.ReportMetric(float64(k.Microseconds())/1000, "IDKey-p50-ms")
	b.ReportMetric(float64(l)/float64(k), "login/IDKey")
}

func medianOf(d []time.Duration) time.Duration {
	d = slices.Clone(d)
	slices.Sort(d)
	return d[len(d)/2]
}
