package main

import (
	"bytes"
	"database/sql"
	"fmt"
	"net"

	"github.com/gofiber/fiber/v2"
	_ "github.com/mattn/go-sqlite3"
)

// serveBaseline is the load test's yardstick: a minimal Fiber + templ + SQLite server that
// answers the first page of All Contacts for one account with one indexed query. The portal
// does the same work plus sessions, scope, counts, CSRF and its layout.
func serveBaseline(dbPath, addr string, accountID int64) error {
	conn, err := sql.Open("sqlite3", "file:"+dbPath+"?_query_only=true&_busy_timeout=5000")
	if err != nil {
		return err
	}
	conn.SetMaxOpenConns(8)
	conn.SetMaxIdleConns(8)
	// The account's name is read once; joining accounts in the page query leads SQLite's
	// planner to sort the whole account, which would make the yardstick unfairly slow.
	var accountName string
	if err := conn.QueryRow(`SELECT name FROM accounts WHERE id = ?`, accountID).Scan(&accountName); err != nil {
		return err
	}
	stmt, err := conn.Prepare(`
		SELECT first_name || ' ' || last_name, email
		FROM contacts
		WHERE account_id = ? AND status = 'active'
		ORDER BY name_key, id LIMIT 25`)
	if err != nil {
		return err
	}
	app := fiber.New(fiber.Config{DisableStartupMessage: true})
	app.Get("/", func(c *fiber.Ctx) error {
		rows, err := stmt.QueryContext(c.UserContext(), accountID)
		if err != nil {
			return err
		}
		defer rows.Close()
		var page []baselineRow
		for rows.Next() {
			r := baselineRow{Account: accountName}
			if err := rows.Scan(&r.Name, &r.Email); err != nil {
				return err
			}
			page = append(page, r)
		}
		if err := rows.Err(); err != nil {
			return err
		}
		var buf bytes.Buffer
		if err := baselinePage(page).Render(c.UserContext(), &buf); err != nil {
			return err
		}
		c.Set(fiber.HeaderContentType, fiber.MIMETextHTMLCharsetUTF8)
		return c.Send(buf.Bytes())
	})
	app.Get("/healthz", func(c *fiber.Ctx) error { return c.SendString("ok") })
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return fmt.Errorf("baseline: %w", err)
	}
	return app.Listener(ln)
}
