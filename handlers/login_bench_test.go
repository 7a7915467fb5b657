package handlers_test

import (
	"context"
	"net/http"
	"testing"

	"portal/app"
	"portal/db"
	"portal/portaltest"
)

// BenchmarkLoginRequest is a whole successful login through the Fiber app with production
// argon2id parameters: form parsing, lookup, verification, audit, session. Compare it with
// BenchmarkArgon2idVerify, its baseline: the ratio shows what the request adds to the hash.
func BenchmarkLoginRequest(b *testing.B) {
	env := portaltest.New(b, portaltest.Options{RealHasher: true,
		Args: []string{"--login-throttle-burst", "1000000000", "--login-throttle-interval", "1ns"}})
	acc := env.Account("Northwind Traders", nil)
	c := env.Contact(acc, "Maria", "Anders", "maria@northwind.example", db.RoleContactAdmin)
	br := env.Browser()
	br.Get("/login")
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if resp := br.Login(c.Email, portaltest.Password); resp.StatusCode != http.StatusSeeOther {
			b.Fatalf("login: status %d", resp.StatusCode)
		}
	}
}

// BenchmarkArgon2idVerify is the baseline: one verification with production parameters.
func BenchmarkArgon2idVerify(b *testing.B) {
	h := app.NewHasher()
	phc, _ := h.Hash(context.Background(), portaltest.Password)
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if ok, _, _ := h.Verify(context.Background(), portaltest.Password, phc); !ok {
			b.Fatal("no match")
		}
	}
}
