package handlers

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"regexp"
	"strconv"
	"time"

	"github.com/gofiber/fiber/v2"

	"portal/contacts"
	"portal/db"
	"portal/export"
)

// Export serves the contacts list as a file: every contact in the admin's scope, active and
// locked (SPEC R-EXPORT). Rows flow from one read transaction (one snapshot, on either
// engine) to the response.
type Export struct {
	log      *slog.Logger
	contacts *contacts.Service
	secure   bool // cookies only over https
	// slots bounds concurrent exports. Each one holds a connection of the read pool for as
	// long as its client takes to download, so without a bound a few slow downloads could
	// starve every page of the portal.
	slots chan struct{}
}

// MaxConcurrentExports is how many exports run at once. Each holds a connection for its
// snapshot while it streams: SQLite's read pool has at least 4 (db/sqlite.go), and
// PostgreSQL's pool too (config.MinDBPool), so pages keep at least half.
const MaxConcurrentExports = 2

// maxExportDuration stops an export whose client stalls without disconnecting.
const maxExportDuration = 15 * time.Minute

// NewExport builds the export handlers.
func NewExport(log *slog.Logger, rules *contacts.Service, secure bool) *Export {
	return &Export{log: log, contacts: rules, secure: secure, slots: make(chan struct{}, MaxConcurrentExports)}
}

// exportFormat is one kind of file the contacts list can be exported as.
type exportFormat struct {
	name        string // in the audit log
	extension   string
	contentType string
	write       func(io.Writer, export.Rows, export.Meta) (int, error)
	// buffered formats are built completely before the response starts, so that a failure
	// is an error page rather than a truncated file; only PDF, whose library holds the
	// whole document anyway, and whose size MaxPDFRows bounds.
	buffered bool
	maxRows  int // 0: no limit
}

var (
	formatCSV = exportFormat{
		name: "csv", extension: "csv", contentType: "text/csv; charset=utf-8",
		write: func(w io.Writer, rows export.Rows, _ export.Meta) (int, error) { return export.CSV(w, rows) },
	}
	formatExcel = exportFormat{
		name: "xlsx", extension: "xlsx",
		contentType: "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
		write:       export.Excel,
	}
	formatPDF = exportFormat{
		name: "pdf", extension: "pdf", contentType: "application/pdf",
		write: export.PDF, buffered: true, maxRows: export.MaxPDFRows,
	}
)

// CSV answers GET /contacts/export.csv.
func (h *Export) CSV(c *fiber.Ctx, actor contacts.Actor) error { return h.serve(c, actor, formatCSV) }

// Excel answers GET /contacts/export.xlsx.
func (h *Export) Excel(c *fiber.Ctx, actor contacts.Actor) error {
	return h.serve(c, actor, formatExcel)
}

// PDF answers GET /contacts/export.pdf.
func (h *Export) PDF(c *fiber.Ctx, actor contacts.Actor) error { return h.serve(c, actor, formatPDF) }

func (h *Export) serve(c *fiber.Ctx, actor contacts.Actor, f exportFormat) error {
	filename := fmt.Sprintf("contacts-%s.%s", h.contacts.Now().UTC().Format("2006-01-02"), f.extension)
	if c.Method() == fiber.MethodHead { // a HEAD request reads no contacts and exports nothing
		h.setFileHeaders(c, f, filename)
		return nil
	}

	d, err := h.startDownload(c)
	if err != nil {
		return err
	}
	defer d.end()
	exp, err := h.contacts.BeginExport(d.ctx, actor, f.name, f.maxRows, exportView(c))
	var tooMany *contacts.TooManyRowsError
	var tooManyIDs *contacts.TooManySelectedError
	if errors.As(err, &tooManyIDs) {
		return fiber.NewError(fiber.StatusUnprocessableEntity, fmt.Sprintf("An export of selected contacts takes at most %s of them.",
			export.Thousands(tooManyIDs.Max)))
	}
	if errors.As(err, &tooMany) {
		return fiber.NewError(fiber.StatusUnprocessableEntity, fmt.Sprintf(
			"A PDF can hold at most %s contacts, and you have %s. Use Export Excel or Export CSV instead.",
			export.Thousands(tooMany.Max), export.Thousands(tooMany.Total)))
	}
	if err != nil {
		return err
	}
	d.snapshot = exp
	meta := export.Meta{Account: actor.Scope.Root().Name, GeneratedAt: h.contacts.Now(), Total: exp.Total}

	if f.buffered {
		var buf bytes.Buffer
		if _, err := f.write(&buf, exp.Each, meta); err != nil {
			return err
		}
		h.setFileHeaders(c, f, filename)
		return c.Send(buf.Bytes())
	}

	h.setFileHeaders(c, f, filename)
	d.stream(c, func(w *bufio.Writer) {
		n, err := f.write(w, exp.Each, meta)
		if err == nil {
			err = w.Flush()
		}
		if err != nil {
			// Most often the client went away: the failed write stopped the query. The
			// response has started, so all that is left to do is to say so in the log.
			h.log.Warn("export: stopped", "format", f.name, "rows", n, "of", exp.Total, "err", err)
		}
	})
	return nil
}

// exportView reads which contacts the export takes: the ticked ids (Export selected), a
// section under a search (the current view), or, with neither, every contact.
func exportView(c *fiber.Ctx) db.ExportView {
	var v db.ExportView
	switch c.Query("section") {
	case "active":
		v.Status = db.StatusActive
	case "locked":
		v.Status = db.StatusLocked
	}
	if v.Status != "" {
		v.Search = searchInput(c.Query("q"))
	}
	for _, raw := range c.Context().QueryArgs().PeekMulti("id") {
		if v.IDs == nil {
			v.IDs = []int64{} // asked for a selection: none that parses exports nobody
		}
		if id, err := strconv.ParseInt(string(raw), 10, 64); err == nil && id > 0 {
			v.IDs = append(v.IDs, id)
		}
	}
	return v
}

func (h *Export) setFileHeaders(c *fiber.Ctx, f exportFormat, filename string) {
	c.Set(fiber.HeaderContentType, f.contentType)
	c.Set(fiber.HeaderContentDisposition, `attachment; filename="`+filename+`"`)
	c.Set(fiber.HeaderCacheControl, "no-store")
	// The export menu's script waits for this cookie to know that the download has begun
	// (app.js): it carries back the random token the link was given, nothing else.
	if token := c.Query("ready"); readyToken.MatchString(token) {
		c.Cookie(&fiber.Cookie{Name: "export_ready", Value: token, Path: "/contacts", MaxAge: 60,
			Secure: h.secure, SameSite: fiber.CookieSameSiteStrictMode})
	}
}

// readyToken is what the export menu's script sends: 24 hex digits.
var readyToken = regexp.MustCompile(`^[0-9a-f]{24}$`)

// download is what one export holds while it runs: a slot, a context of its own (the
// download outlives the request's handler) and, once open, the snapshot it reads. Whoever
// finishes the export lets them go: the handler when it ends before the body (end), else
// the body writer when the client has it all (stream).
type download struct {
	ctx       context.Context
	cancel    context.CancelFunc
	slots     chan struct{}
	snapshot  interface{ Close() error }
	log       *slog.Logger
	streaming bool
}

// startDownload takes an export slot, or answers 503 ("busy right now, try again in a
// moment") when every slot is taken.
func (h *Export) startDownload(c *fiber.Ctx) (*download, error) {
	select {
	case h.slots <- struct{}{}:
	default:
		return nil, fiber.ErrServiceUnavailable
	}
	ctx, cancel := context.WithTimeout(context.WithoutCancel(c.UserContext()), maxExportDuration)
	return &download{ctx: ctx, cancel: cancel, slots: h.slots, log: h.log}, nil
}

// end lets the download go, unless the body writer has it.
func (d *download) end() {
	if !d.streaming {
		d.release()
	}
}

// stream hands the download to the body writer: write runs while the client reads, then
// the download goes.
func (d *download) stream(c *fiber.Ctx, write func(*bufio.Writer)) {
	d.streaming = true
	c.Context().SetBodyStreamWriter(func(w *bufio.Writer) {
		defer d.release()
		write(w)
	})
}

func (d *download) release() {
	if d.snapshot != nil {
		if err := d.snapshot.Close(); err != nil {
			d.log.Error("export: end snapshot", "err", err)
		}
	}
	d.cancel()
	<-d.slots
}
