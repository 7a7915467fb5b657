package components

import (
	"fmt"
	"net/url"
	"strings"

	"github.com/a-h/templ"

	"portal/contacts"
	"portal/export"
)

// ImportUploadView is the Import contacts page: the file to upload and, after a refused
// upload, why.
type ImportUploadView struct {
	Problem string
}

// ImportPreviewView is the preview of a pending import: its counts, one page of its rows
// (of the kind Show picks: "" for all), and the pages.
type ImportPreviewView struct {
	Preview contacts.ImportPreview
	Show    string // "", "new", "update", "unchanged", "error"
	Page    int    // from 1
	Pages   int
	Rows    []contacts.ImportRow
	Reauth  ReauthView // asked for when the import changes roles
}

// ImportShows are the filters of a preview, with the words of their tabs.
var ImportShows = []struct {
	Value string
	Label string
	Kind  contacts.RowKind
}{
	{"", "All rows", 0},
	{"new", "New", contacts.RowNew},
	{"update", "Update", contacts.RowUpdate},
	{"unchanged", "Unchanged", contacts.RowUnchanged},
	{"error", "Errors", contacts.RowError},
}

// ImportPageSize is how many rows a page of a preview shows.
const ImportPageSize = 100

func (v ImportPreviewView) count(kind contacts.RowKind) int {
	p := v.Preview
	switch kind {
	case contacts.RowNew:
		return p.New
	case contacts.RowUpdate:
		return p.Updated
	case contacts.RowUnchanged:
		return p.Unchanged
	case contacts.RowError:
		return p.Errors
	}
	return len(p.Rows)
}

func (v ImportPreviewView) path() string { return "/contacts/import/" + v.Preview.ID }

// pageURL is the preview showing show at page.
func (v ImportPreviewView) pageURL(show string, page int) templ.SafeURL {
	q := url.Values{}
	if show != "" {
		q.Set("show", show)
	}
	if page > 1 {
		q.Set("page", fmt.Sprint(page))
	}
	if len(q) == 0 {
		return templ.SafeURL(v.path())
	}
	return templ.SafeURL(v.path() + "?" + q.Encode())
}

func rowKindLabel(k contacts.RowKind) string {
	switch k {
	case contacts.RowNew:
		return "New"
	case contacts.RowUpdate:
		return "Update"
	case contacts.RowUnchanged:
		return "Unchanged"
	}
	return "Error"
}

func rowKindClass(k contacts.RowKind) string {
	switch k {
	case contacts.RowNew:
		return "badge badge-active"
	case contacts.RowUpdate:
		return "badge badge-role"
	case contacts.RowError:
		return "badge badge-locked"
	}
	return "badge"
}

// rowName is how a preview row names its contact: the name it will have, else what the
// file says.
func rowName(r contacts.ImportRow) string {
	if r.Name != "" {
		return r.Name
	}
	return strings.TrimSpace(r.Cells[export.FieldFirstName] + " " + r.Cells[export.FieldLastName])
}

// ignoredColumns names the columns the import did not read: "Notes" or "“Notes”, “Team”".
func ignoredColumns(names []string) string {
	quoted := make([]string, len(names))
	for i, n := range names {
		quoted[i] = "“" + n + "”"
	}
	return strings.Join(quoted, ", ")
}

func thousands(n int) string { return export.Thousands(n) }

// fileDescribedBy ties the file field to its hint, and to the refusal when there is one.
func fileDescribedBy(problem string) string {
	if problem != "" {
		return "import-file-hint import-problem-text"
	}
	return "import-file-hint"
}

// orAll names the filter "" as the tests and tabs know it.
func orAll(show string) string {
	if show == "" {
		return "all"
	}
	return show
}
