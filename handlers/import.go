package handlers

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
	"time"

	"github.com/gofiber/fiber/v2"
	"github.com/valyala/fasthttp"

	"portal/components"
	"portal/contacts"
	"portal/export"
)

// Imports is Import contacts (SPEC 3.9): the upload page and its templates, the preview of
// a pending import, Import N contacts, Cancel import, and the rows left out as a CSV.
type Imports struct {
	contacts *contacts.Service
}

// importPath is where a file is uploaded (POST) and the upload page is (GET).
const importPath = "/contacts/import"

// MaxUploadBody is the largest request body the upload takes: a file of
// export.MaxImportBytes with room for the form around it, and up to a megabyte more, so
// that a file a little too large gets the upload page with its reason rather than a
// connection closed mid-upload. Every other request keeps BodyLimit.
const MaxUploadBody = export.MaxImportBytes + 1<<20

// uploadReadTimeout is how long an upload may take to arrive: 6 MB at 1 Mbit/s.
const uploadReadTimeout = 2 * time.Minute

// requestLimits raises the body limit and the read timeout for the upload alone. fasthttp
// reads a request's body before any handler runs, under the server's one limit; this is
// its hook, called once the headers are in, to choose them per request. Routing ignores
// case and a trailing slash, so the comparison does too.
func requestLimits(h *fasthttp.RequestHeader) fasthttp.RequestConfig {
	if !h.IsPost() {
		return fasthttp.RequestConfig{}
	}
	path, _, _ := strings.Cut(string(h.RequestURI()), "?")
	if strings.EqualFold(strings.TrimSuffix(path, "/"), importPath) {
		return fasthttp.RequestConfig{MaxRequestBodySize: MaxUploadBody, ReadTimeout: uploadReadTimeout}
	}
	return fasthttp.RequestConfig{}
}

// isUpload reports whether c is a request to upload a file to import.
func isUpload(c *fiber.Ctx) bool {
	return c.Method() == fiber.MethodPost && strings.EqualFold(strings.TrimSuffix(c.Path(), "/"), importPath)
}

// Show is the Import contacts page.
func (h *Imports) Show(c *fiber.Ctx, actor contacts.Actor) error {
	return render(c, fiber.StatusOK, components.ImportUploadPage(shell(c, "Import contacts", "my-contacts"),
		components.ImportUploadView{}), nil)
}

// Upload reads the uploaded file into a pending import and shows its preview; a file that
// can't be imported gets the page again with the reason.
func (h *Imports) Upload(c *fiber.Ctx, actor contacts.Actor) error {
	refuse := func(status int, problem string) error {
		return render(c, status, components.ImportUploadPage(shell(c, "Import contacts", "my-contacts"),
			components.ImportUploadView{Problem: problem}), nil)
	}
	file, err := c.FormFile("file")
	if err != nil || file.Size == 0 && file.Filename == "" {
		return refuse(fiber.StatusUnprocessableEntity, "Choose a file to upload: a CSV file or an Excel workbook (.xlsx).")
	}
	if file.Size > export.MaxImportBytes {
		return refuse(fiber.StatusRequestEntityTooLarge, string(export.ProblemTooLarge))
	}
	f, err := file.Open()
	if err != nil {
		return fmt.Errorf("import: open upload: %w", err)
	}
	defer f.Close()
	var data bytes.Buffer
	if _, err := data.ReadFrom(io.LimitReader(f, export.MaxImportBytes+1)); err != nil {
		return fmt.Errorf("import: read upload: %w", err)
	}
	id, err := h.contacts.UploadImport(c.UserContext(), actor, file.Filename, data.Bytes())
	var problem export.FileProblem
	switch {
	case errors.As(err, &problem):
		return refuse(fiber.StatusUnprocessableEntity, string(problem))
	case errors.Is(err, contacts.ErrThrottled):
		return refuse(fiber.StatusTooManyRequests, "Too many attempts. Wait a few minutes, then upload the file again.")
	case err != nil:
		return err
	}
	return redirect(c, importPath+"/"+id)
}

// pendingID reads the :id of a pending import: 32 hex digits, or not found.
func pendingID(c *fiber.Ctx) (string, error) {
	id := c.Params("id")
	if len(id) != 32 || strings.Trim(id, "0123456789abcdef") != "" {
		return "", fiber.ErrNotFound
	}
	return id, nil
}

// gone is the answer for a pending import that was imported, cancelled or abandoned.
func gone(c *fiber.Ctx) error {
	return flashRedirect(c, flashInfo, "That import is no longer waiting: it was imported or cancelled, "+
		"or uploaded more than an hour ago. Upload the file again to see its preview.", importPath)
}

// Preview shows what importing a pending import does, a page of rows at a time, all of
// them or those of one kind (?show=new|update|unchanged|error).
func (h *Imports) Preview(c *fiber.Ctx, actor contacts.Actor) error {
	id, err := pendingID(c)
	if err != nil {
		return err
	}
	p, err := h.contacts.ImportPreview(c.UserContext(), actor, id)
	if errors.Is(err, contacts.ErrNotFound) {
		return gone(c)
	}
	if err != nil {
		return err
	}
	v := components.ImportPreviewView{Preview: p, Page: 1}
	var kind contacts.RowKind
	for _, s := range components.ImportShows {
		if c.Query("show") == s.Value {
			v.Show, kind = s.Value, s.Kind
		}
	}
	var rows []contacts.ImportRow
	for _, r := range p.Rows {
		if kind == 0 || r.Kind == kind {
			rows = append(rows, r)
		}
	}
	v.Pages = max(1, (len(rows)+components.ImportPageSize-1)/components.ImportPageSize)
	if page, err := strconv.Atoi(c.Query("page")); err == nil {
		v.Page = min(max(page, 1), v.Pages)
	}
	v.Rows = rows[min((v.Page-1)*components.ImportPageSize, len(rows)):min(v.Page*components.ImportPageSize, len(rows))]
	return render(c, fiber.StatusOK, components.ImportPreviewPage(shell(c, "Preview of "+p.FileName, "my-contacts"), v), nil)
}

// Commit is Import N contacts.
func (h *Imports) Commit(c *fiber.Ctx, actor contacts.Actor) error {
	id, err := pendingID(c)
	if err != nil {
		return err
	}
	r, err := h.contacts.CommitImport(c.UserContext(), actor, id, bodyValue(c, "version"))
	switch {
	case errors.Is(err, contacts.ErrNotFound):
		return gone(c)
	case errors.Is(err, contacts.ErrImportChanged):
		return flashRedirect(c, flashError, "Contacts changed since this preview was shown, so nothing was imported. "+
			"Check the preview again, then import.", importPath+"/"+id)
	case errors.Is(err, contacts.ErrNothingToImport):
		return flashRedirect(c, flashInfo, "Nothing was imported: every row is unchanged or has an error.", importPath+"/"+id)
	case err != nil:
		return err
	}
	return flashRedirect(c, flashSuccess, importedMessage(r), "/contacts")
}

// importedMessage says what an import did: "37 contacts have been imported: 25 new
// (each was sent an email to set a password) and 12 updated."
func importedMessage(r contacts.ImportResult) string {
	n := r.Created + r.Updated
	head := export.Thousands(n) + " contacts have been imported"
	if n == 1 {
		head = "1 contact has been imported"
	}
	var parts []string
	if r.Created > 0 {
		parts = append(parts, export.Thousands(r.Created)+" new (each was sent an email to set a password)")
	}
	if r.Updated > 0 {
		parts = append(parts, export.Thousands(r.Updated)+" updated")
	}
	return head + ": " + strings.Join(parts, " and ") + "."
}

// Cancel is Cancel import: the pending import is deleted and nothing else changes.
func (h *Imports) Cancel(c *fiber.Ctx, actor contacts.Actor) error {
	id, err := pendingID(c)
	if err != nil {
		return err
	}
	if err := h.contacts.CancelImport(c.UserContext(), actor, id); err != nil {
		return err
	}
	return flashRedirect(c, flashInfo, "The import was cancelled. Nothing was changed.", "/my-contacts")
}

// Rejected downloads the rows of a pending import that have errors, with the reason of
// each, as a CSV to fix and upload again.
func (h *Imports) Rejected(c *fiber.Ctx, actor contacts.Actor) error {
	id, err := pendingID(c)
	if err != nil {
		return err
	}
	p, err := h.contacts.ImportPreview(c.UserContext(), actor, id)
	if errors.Is(err, contacts.ErrNotFound) {
		return gone(c)
	}
	if err != nil {
		return err
	}
	var rows []export.RejectedRow
	for _, r := range p.Rows {
		if r.Kind == contacts.RowError {
			rows = append(rows, export.RejectedRow{Cells: r.Cells, Reason: r.Reason})
		}
	}
	var buf bytes.Buffer
	if err := export.RejectedCSV(&buf, p.Has, rows); err != nil {
		return err
	}
	attachment(c, "text/csv; charset=utf-8", "contacts-not-imported.csv")
	return c.Send(buf.Bytes())
}

// TemplateCSV is Download a template, as CSV.
func (h *Imports) TemplateCSV(c *fiber.Ctx, actor contacts.Actor) error {
	var buf bytes.Buffer
	if err := export.TemplateCSV(&buf); err != nil {
		return err
	}
	attachment(c, "text/csv; charset=utf-8", "contacts-template.csv")
	return c.Send(buf.Bytes())
}

// TemplateExcel is Download a template, as an Excel workbook.
func (h *Imports) TemplateExcel(c *fiber.Ctx, actor contacts.Actor) error {
	var buf bytes.Buffer
	if err := export.TemplateExcel(&buf); err != nil {
		return err
	}
	attachment(c, formatExcel.contentType, "contacts-template.xlsx")
	return c.Send(buf.Bytes())
}

// attachment makes the response a private download named filename.
func attachment(c *fiber.Ctx, contentType, filename string) {
	c.Set(fiber.HeaderContentType, contentType)
	c.Set(fiber.HeaderContentDisposition, `attachment; filename="`+filename+`"`)
	c.Set(fiber.HeaderCacheControl, "no-store")
}
