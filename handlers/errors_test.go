package handlers

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/gofiber/fiber/v2"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/mattn/go-sqlite3"

	"portal/db"
	"portal/throttle"
)

func TestClassifyErrorNeverShowsInternals(t *testing.T) {
	// A PostgreSQL that is down: nothing listens on port 1 of the loopback.
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	conn, unreachable := pgconn.Connect(ctx, "postgres://portal@127.0.0.1:1/portal?sslmode=disable")
	if unreachable == nil {
		conn.Close(ctx)
		t.Fatal("something answers PostgreSQL on 127.0.0.1:1")
	}
	for _, tc := range []struct {
		err        error
		wantStatus int
		wantWords  string
	}{
		{fmt.Errorf("store: contact 42: %w", db.ErrNotFound), 404, "does not exist"},
		{fmt.Errorf("store: lock: %w: database is locked", db.ErrBusy), 503, "busy"},
		{fmt.Errorf("store: create: %w: database or disk is full", db.ErrFull), 507, "storage is full"},
		{fmt.Errorf("store: credentials: %w", sqlite3.Error{Code: sqlite3.ErrBusy}), 503, "busy"},
		{fmt.Errorf("store: credentials: %w", unreachable), 503, "busy"},
		{throttle.ErrNoTurn, 503, "busy"},
		{errors.New("sql: near \"SELEC\": syntax error"), 500, "went wrong on our side"},
		{fiber.NewError(fiber.StatusForbidden, "Only contact admins can manage contacts."), 403, "Only contact admins"},
		{fiber.NewError(fiber.StatusInternalServerError, "secret internal detail"), 500, "went wrong on our side"},
		{fiber.ErrNotFound, 404, "does not exist"},
		{fiber.NewError(fiber.StatusNotFound, "Cannot GET /<script>"), 404, "does not exist"},
	} {
		status, msg := classifyError(tc.err)
		if status != tc.wantStatus || !strings.Contains(msg, tc.wantWords) {
			t.Errorf("classifyError(%v) = %d %q, want %d and a message with %q", tc.err, status, msg, tc.wantStatus, tc.wantWords)
		}
		for _, leak := range []string{"store:", "sql", "database is locked", "secret", "disk is full", "Cannot GET", "127.0.0.1"} {
			if strings.Contains(msg, leak) {
				t.Errorf("classifyError(%v) message %q leaks %q", tc.err, msg, leak)
			}
		}
	}
}

func TestRedactParams(t *testing.T) {
	for _, tc := range []struct {
		pattern, path, want string
		match               bool
	}{
		{"/set-password/:token", "/set-password/Pkhb5nc9FbcLw2eV", "/set-password/:token", true},
		{"/set-password/:token", "/set-password/Pkhb5nc9FbcLw2eV/", "/set-password/:token", true},
		{"/set-password/:token", "/SET-PASSWORD/Pkhb5nc9FbcLw2eV", "/SET-PASSWORD/:token", true},
		{"/set-password/:token", "/set-password/", "", false},
		{"/set-password/:token", "/set-password/a/b", "", false},
		{"/contacts/:id<int>/lock", "/contacts/42/lock", "/contacts/42/lock", true},
		{"/contacts/:id<int>/lock", "/contacts/4x2/lock", "", false},
		{"/contacts/:id<int>", "/contacts/export.csv", "", false},
		{"/static/:file", "/static/app.css", "/static/:file", true},
		{"/login", "/login", "", false}, // no parameters: the path as sent is fine
	} {
		got, ok := redactParams(tc.pattern, tc.path)
		if got != tc.want || ok != tc.match {
			t.Errorf("redactParams(%q, %q) = %q, %v; want %q, %v", tc.pattern, tc.path, got, ok, tc.want, tc.match)
		}
	}
}
