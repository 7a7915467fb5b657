package handlers_test

import (
	"net/http"
	"net/url"
	"slices"
	"testing"
	"time"

	"golang.org/x/crypto/argon2"

	"portal/auth"
	"portal/db"
	"portal/portaltest"
)

// BenchmarkLoginRequest is a whole successful login through the Fiber app with production
// argon2id parameters (the POST: form parsing, CSRF check, lookup, verification, audit row,
// new session), taking turns with its baseline, one bare argon2.IDKey call with the same
// parameters. The ratio is what the request adds to the hash (target ≤ 1.1).
//
//	go test -tags sqlite_fts5 -run '^$' -bench LoginRequest -benchtime 100x ./handlers/
func BenchmarkLoginRequest(b *testing.B) {
	env := portaltest.New(b, portaltest.Options{RealHasher: true,
		Args: []string{"--login-throttle-burst", "1000000000", "--login-throttle-interval", "1ns"}})
	acc := env.Account("Northwind Traders", nil)
	c := env.Contact(acc, "Maria", "Anders", "maria@northwind.example", db.RoleContactAdmin)
	form := url.Values{"email": {c.Email}, "password": {portaltest.Password}}
	p, salt := auth.DefaultParams, make([]byte, auth.DefaultParams.SaltLen)
	inTurns(b, "login", func() time.Duration {
		br := env.Browser()
		br.Get("/login") // the form and its CSRF token, as a browser has them before signing in: not timed
		start := time.Now()
		if resp := br.PostForm("/login", form); resp.StatusCode != http.StatusSeeOther {
			b.Fatalf("login: status %d, want 303", resp.StatusCode)
		}
		return time.Since(start)
	}, "IDKey", func() time.Duration {
		start := time.Now()
		argon2.IDKey([]byte(portaltest.Password), salt, p.Time, p.Memory, p.Threads, p.KeyLen)
		return time.Since(start)
	})
}

// inTurns runs measured and baseline b.N times each, in turns, each first half of the
// time (whichever ran second was measured faster), and reports the medians of the times
// they return and the median of the ratios of the pairs: on a shared machine the noise
// comes in bursts, which fall on both halves of a pair alike.
func inTurns(b *testing.B, name string, measured func() time.Duration, baseName string, baseline func() time.Duration) {
	b.Helper()
	var m, base, ratios []float64
	b.ResetTimer()
	for i := range b.N {
		var dm, db time.Duration
		if i%2 == 0 {
			dm, db = measured(), baseline()
		} else {
			db, dm = baseline(), measured()
		}
		m, base = append(m, dm.Seconds()*1000), append(base, db.Seconds()*1000)
		ratios = append(ratios, dm.Seconds()/db.Seconds())
	}
	b.StopTimer()
	b.ReportMetric(median(m), name+"-p50-ms")
	b.ReportMetric(median(base), baseName+"-p50-ms")
	b.ReportMetric(median(ratios), name+"/"+baseName)
}

func median(x []float64) float64 {
	x = slices.Clone(x)
	slices.Sort(x)
	return x[len(x)/2]
}
