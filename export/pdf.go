package export

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
	"sync"

	"github.com/johnfercher/maroto/v2"
	"github.com/johnfercher/maroto/v2/pkg/components/row"
	"github.com/johnfercher/maroto/v2/pkg/components/text"
	"github.com/johnfercher/maroto/v2/pkg/config"
	"github.com/johnfercher/maroto/v2/pkg/consts/border"
	"github.com/johnfercher/maroto/v2/pkg/consts/breakline"
	"github.com/johnfercher/maroto/v2/pkg/consts/fontstyle"
	"github.com/johnfercher/maroto/v2/pkg/consts/orientation"
	"github.com/johnfercher/maroto/v2/pkg/consts/pagesize"
	"github.com/johnfercher/maroto/v2/pkg/core"
	"github.com/johnfercher/maroto/v2/pkg/props"
	"github.com/johnfercher/maroto/v2/pkg/repository"
	"golang.org/x/image/font"
	"golang.org/x/image/font/gofont/gobold"
	"golang.org/x/image/font/gofont/goregular"
	"golang.org/x/image/font/sfnt"
	"golang.org/x/image/math/fixed"

	"portal/db"
)

// MaxPDFRows is the most contacts a PDF export holds. Unlike CSV and Excel, the PDF library
// keeps the whole document in memory until it is written: 10,000 contacts make about 275
// landscape pages (1.4 MB), take under a second, and peak at 100 to 150 MB of Go heap
// (BenchmarkPDF). Larger scopes are told to use Excel or CSV, which stream and have no
// limit; nobody reads a printed list longer than that anyway.
const MaxPDFRows = 10_000

// ErrTooManyForPDF is returned when a scope holds more than MaxPDFRows contacts.
var ErrTooManyForPDF = errors.New("export: too many contacts for a PDF")

// pdfFont is the family the PDF uses: the Go fonts, which ship inside the binary and cover
// Latin (including Ł, Š, Æ, ø, ë), Greek and Cyrillic. Scripts outside those (Chinese,
// Arabic, ...) would need a bigger font; CSV and Excel carry every character regardless.
const pdfFont = "Go"

// pdfColumns are the PDF's columns with their share of the page width (out of pdfGrid).
// Name and status each join two fields of Columns, so that the table fits a landscape page
// in a readable size.
var pdfColumns = []struct {
	title string
	width int
}{
	{"Name", 11}, {"Email", 18}, {"Account", 10}, {"Roles", 8}, {"Status", 9}, {"Two-step verification", 6},
	{"Phone", 7}, {"Job title", 7}, {"Access ends (UTC)", 8}, {"Last login (UTC)", 8}, {"Created (UTC)", 8},
}

const pdfGrid = 100

// pdfTableFontSize is the size of the table's text, in points; pdfPadding is the space on
// each side of a cell's text, in mm; pdfUsableWidth is A4 landscape less the margins, in mm.
const (
	pdfTableFontSize = 7
	pdfPadding       = 1
	pdfUsableWidth   = 297 - 2*10
	// pdfOneLineRow is the height maroto gives a row of one line of table text: the font
	// size in mm plus the padding above and below (pdfCellText's Top and Bottom).
	pdfOneLineRow = pdfTableFontSize*25.4/72 + 1 + 1
)

var (
	pdfGray       = &props.Color{Red: 90, Green: 98, Blue: 108}
	pdfHeaderFill = &props.Color{Red: 228, Green: 233, Blue: 240}
	pdfStripeFill = &props.Color{Red: 246, Green: 248, Blue: 250}
	pdfCellText   = props.Text{Size: pdfTableFontSize, Left: pdfPadding, Right: pdfPadding, Top: 1, Bottom: 1}
	pdfHeaderText = props.Text{Size: 7, Style: fontstyle.Bold, Left: 1, Right: 1, Top: 1.5, Bottom: 1.5}
	pdfHeaderCell = &props.Cell{BackgroundColor: pdfHeaderFill, BorderType: border.Bottom,
		BorderColor: pdfGray, BorderThickness: 0.3}
	pdfStripe = &props.Cell{BackgroundColor: pdfStripeFill}
)

// PDF writes the rows as an A4 landscape table: a title naming the admin's account and the
// time the export was made, column headers repeated at the top of every page, "Page x of y"
// at the bottom, zebra stripes, compressed. It returns how many contacts it wrote, and
// ErrTooManyForPDF without writing anything when meta.Total or the rows exceed MaxPDFRows.
func PDF(w io.Writer, rows Rows, meta Meta) (int, error) {
	if meta.Total > MaxPDFRows {
		return 0, ErrTooManyForPDF
	}
	m, err := newPDF(meta)
	if err != nil {
		return 0, err
	}
	n := 0
	var reason []byte
	err = rows(func(r *db.ExportRow) error {
		n++
		if n > MaxPDFRows {
			return ErrTooManyForPDF
		}
		status := statusLabel(r.Status)
		if reason = appendLockReason(reason[:0], r); len(reason) > 0 {
			status += ": " + string(reason)
		}
		values := [...]string{
			string(r.FirstName) + " " + string(r.LastName), breakEmail(string(r.Email), pdfColumns[1].width),
			string(r.Account), string(r.Roles),
			status, twoFactorLabel(r.TwoFactor), string(r.Phone), string(r.JobTitle),
			string(appendAccessEnds(nil, r.AccessEnds)), string(appendDate(nil, r.LastLogin)),
			string(appendDate(nil, r.Created)),
		}
		cols := make([]core.Col, len(pdfColumns))
		oneLine := true
		for i, c := range pdfColumns {
			var fits bool
			cols[i], fits = pdfCell(c.width, values[i])
			oneLine = oneLine && fits
		}
		// A row whose cells all fit on one line gets its height given: maroto then skips
		// measuring its ten texts again, which is a fifth of its work.
		line := row.New()
		if oneLine {
			line = row.New(pdfOneLineRow)
		}
		line.Add(cols...)
		if n%2 == 0 {
			line.WithStyle(pdfStripe)
		}
		m.AddRows(line)
		return nil
	})
	if err != nil {
		return n, err
	}
	doc, err := m.Generate()
	if err != nil {
		return n, fmt.Errorf("pdf: %w", err)
	}
	if _, err := w.Write(doc.GetBytes()); err != nil {
		return n, err
	}
	return n, nil
}

// pdfCell is a table cell, and whether its text surely fits on one line. Maroto wraps text
// at spaces only, so a word wider than its column would run into the next one; such a cell
// wraps anywhere instead (with a dash).
func pdfCell(width int, value string) (core.Col, bool) {
	p := pdfCellText
	room := columnRoom(width)
	for word := range strings.FieldsSeq(value) {
		if textWidth(word) > room {
			p.BreakLineStrategy = breakline.DashStrategy
			break
		}
	}
	// 5% to spare: what decides is maroto's own measure, which rounds differently.
	return text.NewCol(width, value, p), textWidth(value) <= 0.95*room
}

// breakEmail lets an email too long for its column wrap after its "@", where a reader
// expects a break, rather than at an arbitrary letter.
func breakEmail(email string, width int) string {
	if textWidth(email) <= columnRoom(width) {
		return email
	}
	if local, domain, ok := strings.Cut(email, "@"); ok {
		return local + "@ " + domain
	}
	return email
}

// columnRoom is the width in mm that text has in a column of width grid units.
func columnRoom(width int) float64 {
	return float64(width)*pdfUsableWidth/pdfGrid - 2*pdfPadding
}

// textWidth is the width in mm of s in the table's font, from the Go font's own glyph
// advances, so that the decisions above agree with how the PDF lays the text out.
func textWidth(s string) float64 {
	advances := goRegularAdvances()
	em := 0.0
	for _, r := range s {
		if int(r) < len(advances) {
			em += advances[r]
		} else {
			em += 0.6 // outside Latin Extended-A/B: a generous average
		}
	}
	const mmPerPoint = 25.4 / 72
	return em * pdfTableFontSize * mmPerPoint
}

// goRegularAdvances holds the advance width, in ems, of every rune below U+0250 (Latin
// up to Extended-B) in Go Regular, read from the font once.
var goRegularAdvances = sync.OnceValue(func() []float64 {
	advances := make([]float64, 0x250)
	f, err := sfnt.Parse(goregular.TTF)
	if err != nil {
		panic(fmt.Sprintf("pdf: the embedded Go font does not parse: %v", err)) // cannot happen: it is compiled in
	}
	var buf sfnt.Buffer
	unitsPerEm := f.UnitsPerEm()
	for r := range advances {
		advances[r] = 0.6
		i, err := f.GlyphIndex(&buf, rune(r))
		if err != nil || i == 0 {
			continue
		}
		adv, err := f.GlyphAdvance(&buf, i, fixed.I(int(unitsPerEm)), font.HintingNone)
		if err == nil {
			advances[r] = float64(adv) / 64 / float64(unitsPerEm)
		}
	}
	return advances
})

// newPDF sets up the document: page, fonts, metadata, and the header every page repeats.
// Each document gets its own copy of the font files: gofpdf writes checksums into the bytes
// it is given while it subsets a font, so two PDFs made at once from the shared
// goregular.TTF would write into the same memory (a data race the race detector caught).
func newPDF(meta Meta) (core.Maroto, error) {
	fonts, err := repository.New().
		AddUTF8FontFromBytes(pdfFont, fontstyle.Normal, bytes.Clone(goregular.TTF)).
		AddUTF8FontFromBytes(pdfFont, fontstyle.Bold, bytes.Clone(gobold.TTF)).
		Load()
	if err != nil {
		return nil, fmt.Errorf("pdf: fonts: %w", err)
	}
	title := "Contacts of " + meta.Account
	generated := meta.GeneratedAt.UTC()
	cfg := config.NewBuilder().
		WithPageSize(pagesize.A4).
		WithOrientation(orientation.Horizontal).
		WithLeftMargin(10).WithTopMargin(10).WithRightMargin(10).WithBottomMargin(10).
		WithMaxGridSize(pdfGrid).
		WithCustomFonts(fonts).
		WithDefaultFont(&props.Font{Family: pdfFont, Size: 7}).
		WithPageNumber(props.PageNumber{Pattern: "Page {current} of {total}", Place: props.Bottom, Size: 7, Color: pdfGray}).
		WithCompression(true).
		WithTitle(title, true).
		WithAuthor("Customer Support Portal", true).
		WithCreationDate(generated).
		Build()
	m := maroto.New(cfg)

	headers := make([]core.Col, len(pdfColumns))
	for i, c := range pdfColumns {
		headers[i] = text.NewCol(c.width, c.title, pdfHeaderText).WithStyle(pdfHeaderCell)
	}
	subtitle := fmt.Sprintf("Generated %s UTC · %s contacts, active and locked, of %s and its child organizations",
		generated.Format(dateLayout), Thousands(meta.Total), meta.Account)
	err = m.RegisterHeader(
		text.NewRow(8, title, props.Text{Size: 13, Style: fontstyle.Bold}),
		text.NewRow(7, subtitle, props.Text{Size: 8, Color: pdfGray}),
		row.New().Add(headers...),
	)
	if err != nil {
		return nil, fmt.Errorf("pdf: header: %w", err)
	}
	return m, nil
}

// Thousands writes n with thousands separators (12,345), as the PDF's title and the
// messages about its limit show counts.
func Thousands(n int) string {
	s := strconv.Itoa(n)
	for i := len(s) - 3; i > 0; i -= 3 {
		s = s[:i] + "," + s[i:]
	}
	return s
}
