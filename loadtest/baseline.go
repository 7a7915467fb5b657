package main

import (
	"bytes"
	"database/sql"
	"fmt"
	"net"
	"strings"
	"time"

	"github.com/gofiber/fiber/v2"
	_ "github.com/jackc/pgx/v5/stdlib"
	_ "github.com/mattn/go-sqlite3"

	"portal/components"
	"portal/db"
)

// serveBaseline is the load test's yardstick: a minimal Fiber + templ server on the same
// database (SQLite, or PostgreSQL for a postgres:// dsn) that answers the same first page of
// All Contacts, rendered by the portal's own components, with the least work that page
// needs: one indexed query for the 25 rows (with their roles) and one for the section
// counts. No session, no CSRF check, no scope, no security headers: the signed-in admin is
// read once at start and the page's CSRF token is a constant. The portal's All Contacts does
// the same work plus all of those.
func serveBaseline(dsn, addr, adminEmail string) error {
	driver, source, roles := "sqlite3", "file:"+dsn+"?_query_only=true&_busy_timeout=5000", "group_concat(role, ',')"
	if db.IsPostgres(dsn) {
		driver, source, roles = "pgx", dsn, "string_agg(role, ',')"
	}
	conn, err := sql.Open(driver, source)
	if err != nil {
		return err
	}
	conn.SetMaxOpenConns(8)
	conn.SetMaxIdleConns(8)
	admin := db.Contact{Email: adminEmail, Roles: []db.Role{db.RoleContactAdmin}, Status: db.StatusActive}
	if err := conn.QueryRow(`
		SELECT c.id, c.first_name, c.last_name, c.account_id, a.name
		FROM contacts c JOIN accounts a ON a.id = c.account_id WHERE c.email = $1`, adminEmail).
		Scan(&admin.ID, &admin.FirstName, &admin.LastName, &admin.AccountID, &admin.AccountName); err != nil {
		return fmt.Errorf("baseline: admin %s: %w", adminEmail, err)
	}
	// $1 is a placeholder both SQLite and PostgreSQL read.
	page, err := conn.Prepare(`
		SELECT id, first_name, last_name, email, last_login_at,
			coalesce((SELECT ` + roles + ` FROM contact_roles r WHERE r.contact_id = c.id), '')
		FROM contacts c
		WHERE account_id = $1 AND status = 'active'
		ORDER BY name_key, id LIMIT 26`)
	if err != nil {
		return err
	}
	counts, err := conn.Prepare(`SELECT status, n FROM contact_counts WHERE account_id = $1`)
	if err != nil {
		return err
	}
	web := fiber.New(fiber.Config{DisableStartupMessage: true})
	web.Get("/", func(c *fiber.Ctx) error {
		ctx := c.UserContext()
		v := components.ListView{Section: db.StatusActive, Sort: db.SortName}
		rows, err := page.QueryContext(ctx, admin.AccountID)
		if err != nil {
			return err
		}
		defer rows.Close()
		for rows.Next() {
			r := db.ListRow{AccountID: admin.AccountID, AccountName: admin.AccountName, Status: db.StatusActive}
			var lastLogin int64
			var roles string
			if err := rows.Scan(&r.ID, &r.FirstName, &r.LastName, &r.Email, &lastLogin, &roles); err != nil {
				return err
			}
			if lastLogin > 0 {
				r.LastLoginAt = time.Unix(lastLogin, 0).UTC()
			}
			for _, role := range strings.Split(roles, ",") {
				if role != "" {
					r.Roles = append(r.Roles, db.Role(role))
				}
			}
			v.Page.Rows = append(v.Page.Rows, r)
		}
		if err := rows.Err(); err != nil {
			return err
		}
		if len(v.Page.Rows) > 25 {
			v.Page.Rows = v.Page.Rows[:25]
			v.Page.NextID = v.Page.Rows[24].ID
		}
		crows, err := counts.QueryContext(ctx, admin.AccountID)
		if err != nil {
			return err
		}
		defer crows.Close()
		for crows.Next() {
			var status string
			var n int
			if err := crows.Scan(&status, &n); err != nil {
				return err
			}
			if status == db.StatusLocked {
				v.Page.Counts.Locked = n
			} else {
				v.Page.Counts.Active = n
			}
		}
		if err := crows.Err(); err != nil {
			return err
		}
		var buf bytes.Buffer
		shell := components.Shell{Title: "All Contacts", User: &admin, Current: "my-contacts"}
		if err := components.AllContactsPage(shell, v).Render(components.WithCSRF(ctx, baselineCSRF), &buf); err != nil {
			return err
		}
		c.Set(fiber.HeaderContentType, fiber.MIMETextHTMLCharsetUTF8)
		return c.Send(buf.Bytes())
	})
	web.Get("/healthz", func(c *fiber.Ctx) error { return c.SendString("ok") })
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return fmt.Errorf("baseline: %w", err)
	}
	return web.Listener(ln)
}

// baselineCSRF stands in for the portal's masked CSRF token: the same length, so the page
// is as long.
var baselineCSRF = strings.Repeat("x", 86)
