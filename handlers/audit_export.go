package handlers

import (
	"bufio"
	"errors"
	"sort"

	"github.com/gofiber/fiber/v2"

	"portal/components"
	"portal/contacts"
	"portal/db"
	"portal/export"
)

// AuditCSV answers GET /audit/export.csv: Export audit log, the events of the admin's scope
// under the filters of the audit log's page, as CSV. It streams from one read snapshot like
// the contacts export, and shares its slots: each holds a connection of the read pool while
// its client downloads.
func (h *Export) AuditCSV(c *fiber.Ctx, actor contacts.Actor) error {
	_, f, problems := auditFilter(c)
	if len(problems) > 0 {
		return fiber.NewError(fiber.StatusBadRequest, firstProblem(problems)+" Go back to the audit log and correct the filters.")
	}
	filename := "audit-log-" + h.contacts.Now().UTC().Format("2006-01-02") + ".csv"
	if c.Method() == fiber.MethodHead { // a HEAD request reads no events and exports nothing
		setAuditFileHeaders(c, filename)
		return nil
	}

	d, err := h.startDownload(c)
	if err != nil {
		return err
	}
	defer d.end()
	exp, err := h.contacts.BeginAuditExport(d.ctx, actor, f, formatCSV.name)
	if errors.Is(err, db.ErrNotFound) {
		return fiber.NewError(fiber.StatusNotFound, errNoSuchContact)
	}
	if err != nil {
		return err
	}
	d.snapshot = exp
	setAuditFileHeaders(c, filename)
	d.stream(c, func(w *bufio.Writer) {
		n, err := export.AuditCSV(w, exp.Each, components.ActionLabel)
		if err == nil {
			err = w.Flush()
		}
		if err != nil {
			// The response has started: all that is left is to say so in the log.
			h.log.Warn("audit export: stopped", "events", n, "err", err)
		}
	})
	return nil
}

func setAuditFileHeaders(c *fiber.Ctx, filename string) {
	c.Set(fiber.HeaderContentType, formatCSV.contentType)
	c.Set(fiber.HeaderContentDisposition, `attachment; filename="`+filename+`"`)
	c.Set(fiber.HeaderCacheControl, "no-store")
}

// firstProblem is one of the problems of a form, the same one every time.
func firstProblem(problems map[string]string) string {
	fields := make([]string, 0, len(problems))
	for field := range problems {
		fields = append(fields, field)
	}
	sort.Strings(fields)
	return problems[fields[0]]
}
