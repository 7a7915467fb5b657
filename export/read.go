package export

import (
	"archive/zip"
	"bytes"
	"cmp"
	"encoding/csv"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"math"
	"path"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/xuri/excelize/v2"
)

// Reading back: Import contacts (SPEC 3.9) takes a CSV or an .xlsx whose header row uses
// the export's column names, so that an export can be edited and imported back. Read turns
// such a file into rows of text; what the text means (an email in scope, a role, a date in
// the future) is for the rules to judge.

// The limits of a file to import (SPEC 3.9).
const (
	MaxImportBytes = 5 << 20
	MaxImportRows  = 10_000
)

// An .xlsx is a zip archive, and a small archive can unpack to gigabytes (a zip bomb). Its
// directory says what each part unpacks to, and the zip reader refuses to unpack a part
// beyond what the directory says, so these are checked before anything is unpacked: a
// workbook of 10,000 contacts unpacks to a few megabytes in 10 to 30 parts.
const (
	maxWorkbookParts    = 200
	maxMergedRanges     = 1000 // each is looked at for every row read (problemTooManyMerges)
	maxWorkbookUnpacked = 64 << 20
)

// maxCellBytes is as much of a cell as an import keeps. Every field's limit is far below
// (the longest, an email, is 254 characters), so a cut cell is still refused as too long;
// without a cut, a few huge cells of a small .xlsx would be stored with the import.
const maxCellBytes = 4096

// Field is a column an import reads.
type Field int

// The fields an import reads, in the order of ImportColumns.
const (
	FieldFirstName Field = iota
	FieldLastName
	FieldEmail
	FieldPhone
	FieldJobTitle
	FieldAccount
	FieldRoles
	FieldAccessEnds
	fieldCount
)

// ImportColumns name the fields as the template's header row does: the export's names.
var ImportColumns = [fieldCount]string{
	"First name", "Last name", "Email", "Phone", "Job title", "Account", "Roles", "Access ends (UTC)",
}

// exportOnly are the export's columns that an import leaves alone without a word: they say
// what the portal keeps by itself (a status changes by Lock and Unlock, not by a file).
var exportOnly = []string{"status", "lock reason", "last login", "created", "locked by", "two-step verification"}

// Sheet is a file to import, read: which fields its header names, the headers it has that
// the import does not read (so that the preview can say they were ignored), and its rows.
type Sheet struct {
	Has     [fieldCount]bool
	Ignored []string
	Rows    []SheetRow
}

// SheetRow is one row of a file to import: its number in the spreadsheet (the header row
// is row 1) and the text of each field (empty when the file has no such column).
type SheetRow struct {
	Line  int
	Cells [fieldCount]string
}

// FileProblem is why a file can't be imported, in words for the person who uploaded it.
type FileProblem string

func (p FileProblem) Error() string { return string(p) }

const (
	problemNotSpreadsheet = FileProblem("This file is neither a CSV file nor an Excel workbook (.xlsx). " +
		"Save your spreadsheet as “CSV UTF-8” or as .xlsx, and upload that.")
	// ProblemTooLarge: the file is over MaxImportBytes.
	ProblemTooLarge = FileProblem("The file is larger than 5 MB. Split it into smaller files, " +
		"or remove the columns the import doesn't read, and upload them one by one.")
	problemTooManyRows = FileProblem("The file has more than 10,000 rows. " +
		"Split it into files of at most 10,000 contacts and upload them one by one.")
	problemWorkbookUnsafe = FileProblem("This .xlsx unpacks to far more than a list of contacts would " +
		"(more than 64 MB, or more than 200 parts), so it was not opened. Save the contacts as “CSV UTF-8” and upload that.")
	problemTooManyMerges = FileProblem("This .xlsx has more than 1,000 merged cells, far more than a list of contacts would. " +
		"Unmerge them, or save the contacts as “CSV UTF-8”, and upload that.")
	problemWorkbookDamaged = FileProblem("This .xlsx can't be opened: it is damaged, protected by a password, " +
		"or not an Excel workbook. Open it in your spreadsheet, save it again as .xlsx or “CSV UTF-8”, and upload that.")
	problemEmpty = FileProblem("The file is empty. Its first row must name the columns, as in the template: " +
		"First name, Last name, Email, and any of Phone, Job title, Account, Roles, Access ends (UTC).")
)

// Read reads a CSV file (UTF-8 with or without a byte order mark; comma or semicolon, as a
// spreadsheet set to a language that writes decimal commas saves it; quoted fields; CRLF or
// LF) or an .xlsx workbook (its first sheet), recognised by its content whatever its name.
// The header row's names are compared ignoring case, spaces around them and a "(UTC)";
// required are First name, Last name and Email. Rows with nothing in them are skipped. A
// cell that the export neutralised ("'=1+1", "'+44 …") gets its one leading apostrophe
// back off, so an export imports back as it was. Nothing is ever evaluated: a formula is
// text, in a CSV and in an .xlsx alike (firstSheetFormulas).
// Errors are FileProblems.
func Read(data []byte) (*Sheet, error) {
	switch {
	case len(data) > MaxImportBytes:
		return nil, ProblemTooLarge
	case len(bytes.TrimSpace(bytes.TrimPrefix(data, []byte(byteOrderMark)))) == 0:
		return nil, problemEmpty
	case bytes.HasPrefix(data, []byte("PK\x03\x04")):
		return readWorkbook(data)
	case bytes.HasPrefix(data, []byte("\xD0\xCF\x11\xE0")): // OLE2: Excel 97–2003, or an .xlsx with a password
		return nil, FileProblem("This is an Excel 97–2003 workbook (.xls) or a workbook protected by a password. " +
			"Open it in your spreadsheet, save it as .xlsx (without a password) or “CSV UTF-8”, and upload that.")
	case bytes.HasPrefix(data, []byte("\xFF\xFE")) || bytes.HasPrefix(data, []byte("\xFE\xFF")):
		return nil, FileProblem("This file is saved as “Unicode Text” (UTF-16). Save it as “CSV UTF-8” and upload that.")
	case bytes.IndexByte(data, 0) >= 0: // no text file has NUL bytes: a PDF, an image, a document
		return nil, problemNotSpreadsheet
	}
	return readCSV(bytes.TrimPrefix(data, []byte(byteOrderMark)))
}

func readCSV(data []byte) (*Sheet, error) {
	if !utf8.Valid(data) {
		line := 1 + bytes.Count(data[:firstInvalidUTF8(data)], []byte("\n"))
		return nil, FileProblem(fmt.Sprintf("Line %d of the file is not in UTF-8, the encoding the import reads. "+
			"Save the file as “CSV UTF-8” (in Excel: Save As, then “CSV UTF-8 (Comma delimited)”) and upload that.", line))
	}
	r := csv.NewReader(bytes.NewReader(data))
	r.Comma = separator(data)
	r.FieldsPerRecord = -1 // a spreadsheet leaves out empty cells at the end of a row
	r.ReuseRecord = true
	var b sheetBuilder
	for {
		record, err := r.Read()
		if errors.Is(err, io.EOF) {
			break
		}
		var perr *csv.ParseError
		if errors.As(err, &perr) {
			return nil, FileProblem(fmt.Sprintf("Line %d of the file can't be read as CSV: a quoted cell is not closed, "+
				"or a quote stands inside a cell that is not quoted. Save the file again from your spreadsheet, "+
				"or fix that line, and upload it again.", perr.StartLine))
		}
		if err != nil {
			return nil, fmt.Errorf("read csv: %w", err)
		}
		line, _ := r.FieldPos(0)
		if err := b.add(line, record); err != nil {
			return nil, err
		}
	}
	return b.finish()
}

// separator is the CSV's separator: a semicolon when the header line has more semicolons
// than commas outside quotes (a spreadsheet set to German or French saves so), else comma.
func separator(data []byte) rune {
	commas, semicolons, quoted := 0, 0, false
	for _, c := range data {
		switch {
		case c == '"':
			quoted = !quoted
		case quoted:
		case c == '\n':
			if semicolons > commas {
				return ';'
			}
			return ','
		case c == ',':
			commas++
		case c == ';':
			semicolons++
		}
	}
	if semicolons > commas {
		return ';'
	}
	return ','
}

func firstInvalidUTF8(data []byte) int {
	for i := 0; i < len(data); {
		r, size := utf8.DecodeRune(data[i:])
		if r == utf8.RuneError && size <= 1 {
			return i
		}
		i += size
	}
	return len(data)
}

// readWorkbook reads the first sheet of an .xlsx, after its zip directory has shown that
// it unpacks to a sensible size.
func readWorkbook(data []byte) (*Sheet, error) {
	archive, err := zip.NewReader(bytes.NewReader(data), int64(len(data)))
	if err != nil {
		return nil, problemWorkbookDamaged
	}
	if len(archive.File) > maxWorkbookParts {
		return nil, problemWorkbookUnsafe
	}
	var unpacked uint64
	for _, part := range archive.File {
		unpacked += part.UncompressedSize64
		if part.UncompressedSize64 > maxWorkbookUnpacked || unpacked > maxWorkbookUnpacked {
			return nil, problemWorkbookUnsafe
		}
	}
	f, err := excelize.OpenReader(bytes.NewReader(data), excelize.Options{UnzipSizeLimit: maxWorkbookUnpacked})
	if err != nil {
		return nil, problemWorkbookDamaged
	}
	defer f.Close()
	sheets := f.GetSheetList()
	if len(sheets) == 0 {
		return nil, problemWorkbookDamaged
	}
	typed, merged, err := firstSheetCells(archive)
	if errors.Is(err, problemTooManyMerges) {
		return nil, problemTooManyMerges
	}
	if err != nil {
		return nil, problemWorkbookDamaged
	}
	rows, err := f.Rows(sheets[0])
	if err != nil {
		return nil, problemWorkbookDamaged
	}
	defer rows.Close()
	b := sheetBuilder{workbook: true}
	line := 0
	for rows.Next() {
		line++
		// Raw values: a date is its serial number, read as one below whatever format the
		// cell shows it in (m/d/yy in one country, d.m.yy in the next).
		cells, err := rows.Columns(excelize.Options{RawCellValue: true})
		if err != nil {
			return nil, problemWorkbookDamaged
		}
		for column, formula := range typed[line] {
			for len(cells) < column {
				cells = append(cells, "")
			}
			cells[column-1] = formula
		}
		cells = merged.fill(line, cells)
		if err := b.add(line, cells); err != nil {
			return nil, err
		}
	}
	if rows.Error() != nil {
		return nil, problemWorkbookDamaged
	}
	return b.finish()
}

// merges are the merged cells of a sheet. A spreadsheet shows a merged cell's value across
// all of its rows and columns but stores it in the first cell alone; an import takes it for
// every one of them, as the admin sees it (a job title merged over two rows is both rows').
type merges struct {
	ranges []cellRange
	values map[[2]int]string // the first cell's value of each range, once its row is read
}

type cellRange struct{ fromColumn, fromRow, toColumn, toRow int }

// add reads a merged range as the sheet names it ("D2:D3"). Counted as they are read, the
// ranges stop at maxMergedRanges: excelize's own reading of them compares every one with
// every other, which would take hours for a file of a million.
func (m *merges) add(ref string) error {
	if len(m.ranges) == maxMergedRanges {
		return problemTooManyMerges
	}
	from, to, _ := strings.Cut(ref, ":")
	x1, y1, err1 := excelize.CellNameToCoordinates(from)
	x2, y2, err2 := excelize.CellNameToCoordinates(cmp.Or(to, from))
	if err := cmp.Or(err1, err2); err != nil {
		return fmt.Errorf("merged cells %q: %w", ref, err)
	}
	m.ranges = append(m.ranges, cellRange{min(x1, x2), min(y1, y2), max(x1, x2), max(y1, y2)})
	return nil
}

// fill gives the cells of row that lie in a merged range the value of its first cell.
func (m merges) fill(row int, cells []string) []string {
	for _, r := range m.ranges {
		if row < r.fromRow || row > r.toRow {
			continue
		}
		first := [2]int{r.fromColumn, r.fromRow}
		if row == r.fromRow {
			if r.fromColumn <= len(cells) {
				m.values[first] = cells[r.fromColumn-1]
			}
		}
		value := m.values[first]
		for len(cells) < r.toColumn && value != "" {
			cells = append(cells, "")
		}
		for column := r.fromColumn; column <= r.toColumn && column <= len(cells); column++ {
			cells[column-1] = value
		}
	}
	return cells
}

// firstSheetCells reads the formulas of the workbook's first sheet, as typed ("=1+1"),
// by row and column (from 1) of the cell that holds them: an import keeps a formula as text, as it does a CSV's, and
// never takes the value a spreadsheet computed from it (a name or an email made by a
// formula is refused or stored as the formula's text, so the admin sees it in the preview).
// The later cells of a formula filled down (a shared formula) keep no text of their own:
// they are read as the value the spreadsheet stored. It reads the sheet's merged cells too.
// The sheet is streamed, never held whole; its size was checked from the zip directory.
func firstSheetCells(archive *zip.Reader) (map[int]map[int]string, merges, error) {
	merged := merges{values: map[[2]int]string{}}
	var workbook struct {
		Sheets []struct {
			RID string `xml:"http://schemas.openxmlformats.org/officeDocument/2006/relationships id,attr"`
		} `xml:"sheets>sheet"`
	}
	var rels struct {
		Relationships []struct {
			ID     string `xml:"Id,attr"`
			Target string `xml:"Target,attr"`
		} `xml:"Relationship"`
	}
	if err := decodePart(archive, "xl/workbook.xml", &workbook); err != nil || len(workbook.Sheets) == 0 {
		return nil, merged, fmt.Errorf("workbook: %w", cmp.Or(err, errors.New("no sheet")))
	}
	if err := decodePart(archive, "xl/_rels/workbook.xml.rels", &rels); err != nil {
		return nil, merged, fmt.Errorf("workbook relationships: %w", err)
	}
	part := ""
	for _, r := range rels.Relationships {
		if r.ID == workbook.Sheets[0].RID {
			part = path.Clean(path.Join("xl", r.Target))
			if strings.HasPrefix(r.Target, "/") {
				part = strings.TrimPrefix(path.Clean(r.Target), "/")
			}
		}
	}
	sheet, err := archive.Open(part)
	if err != nil {
		return nil, merged, fmt.Errorf("first sheet %q: %w", part, err)
	}
	defer sheet.Close()
	var cell struct {
		Ref     string `xml:"r,attr"`
		Formula *struct {
			Text string `xml:",chardata"`
		} `xml:"f"`
	}
	out := map[int]map[int]string{}
	dec := xml.NewDecoder(sheet)
	for {
		token, err := dec.Token()
		if errors.Is(err, io.EOF) {
			return out, merged, nil
		}
		if err != nil {
			return nil, merged, fmt.Errorf("first sheet: %w", err)
		}
		start, ok := token.(xml.StartElement)
		if ok && start.Name.Local == "mergeCell" {
			for _, a := range start.Attr {
				if a.Name.Local == "ref" {
					if err := merged.add(a.Value); err != nil {
						return nil, merged, err
					}
				}
			}
			continue
		}
		if !ok || start.Name.Local != "c" {
			continue
		}
		cell.Ref, cell.Formula = "", nil
		if err := dec.DecodeElement(&cell, &start); err != nil {
			return nil, merged, fmt.Errorf("first sheet: %w", err)
		}
		if cell.Formula == nil || strings.TrimSpace(cell.Formula.Text) == "" {
			continue
		}
		column, row, err := excelize.CellNameToCoordinates(cell.Ref)
		if err != nil {
			return nil, merged, fmt.Errorf("first sheet: cell %q: %w", cell.Ref, err)
		}
		if out[row] == nil {
			out[row] = map[int]string{}
		}
		out[row][column] = "=" + cell.Formula.Text
	}
}

// decodePart decodes the XML part name of archive into v.
func decodePart(archive *zip.Reader, name string, v any) error {
	part, err := archive.Open(name)
	if err != nil {
		return err
	}
	defer part.Close()
	return xml.NewDecoder(part).Decode(v)
}

// sheetBuilder collects the rows of a file: the first row with anything in it is the
// header, the rest are contacts.
type sheetBuilder struct {
	sheet    Sheet
	columns  []Field // the field of each column of the file; -1: not read
	header   bool
	workbook bool // an .xlsx: cells of Access ends may be serial dates, and only its first sheet is read
	rows     int
}

func (b *sheetBuilder) add(line int, cells []string) error {
	if blank(cells) {
		return nil
	}
	if !b.header {
		b.header = true
		return b.readHeader(cells)
	}
	b.rows++
	if b.rows > MaxImportRows {
		return problemTooManyRows
	}
	row := SheetRow{Line: line}
	for i, cell := range cells {
		if i >= len(b.columns) || b.columns[i] < 0 {
			continue
		}
		row.Cells[b.columns[i]] = Unneutralize(cut(cell))
	}
	b.sheet.Rows = append(b.sheet.Rows, row)
	return nil
}

func (b *sheetBuilder) readHeader(cells []string) error {
	b.columns = make([]Field, len(cells))
	for i, cell := range cells {
		b.columns[i] = -1
		name := headerKey(cell)
		field, known := fieldNamed(name)
		switch {
		case known && b.sheet.Has[field]:
			return FileProblem(fmt.Sprintf("The file has two %s columns. Keep one, and upload the file again.",
				ImportColumns[field]))
		case known:
			b.sheet.Has[field] = true
			b.columns[i] = field
		case name != "" && !isExportOnly(name):
			b.sheet.Ignored = append(b.sheet.Ignored, cut(strings.TrimSpace(cell)))
		}
	}
	var missing []string
	for _, f := range []Field{FieldFirstName, FieldLastName, FieldEmail} {
		if !b.sheet.Has[f] {
			missing = append(missing, ImportColumns[f])
		}
	}
	if len(missing) > 0 {
		row := "The file's first row"
		if b.workbook {
			row = "The first row of the workbook's first sheet (the only one read)"
		}
		columns := missing[len(missing)-1] + " column"
		if len(missing) > 1 {
			columns = strings.Join(missing[:len(missing)-1], ", ") + " and " + missing[len(missing)-1] + " columns"
		}
		return FileProblem(fmt.Sprintf("%s has no %s. The first row must name the columns, "+
			"as in the template: First name, Last name, Email, and any of Phone, Job title, Account, Roles, Access ends (UTC).",
			row, columns))
	}
	return nil
}

func (b *sheetBuilder) finish() (*Sheet, error) {
	if !b.header {
		return nil, problemEmpty
	}
	if b.workbook && b.sheet.Has[FieldAccessEnds] {
		for i := range b.sheet.Rows {
			cell := &b.sheet.Rows[i].Cells[FieldAccessEnds]
			*cell = serialDate(*cell)
		}
	}
	return &b.sheet, nil
}

// headerKey is a header cell as it is compared: trimmed, lower case, inner spaces single,
// without a trailing "(UTC)" (every time is UTC) or the byte order mark of a CSV saved
// twice.
func headerKey(cell string) string {
	s := strings.ToLower(strings.Join(strings.Fields(strings.TrimPrefix(cell, byteOrderMark)), " "))
	return strings.TrimSpace(strings.TrimSuffix(s, "(utc)"))
}

func fieldNamed(key string) (Field, bool) {
	for f, name := range ImportColumns {
		if headerKey(name) == key {
			return Field(f), true
		}
	}
	return 0, false
}

func isExportOnly(key string) bool {
	for _, name := range exportOnly {
		if name == key {
			return true
		}
	}
	return false
}

func blank(cells []string) bool {
	for _, c := range cells {
		if strings.TrimSpace(c) != "" {
			return false
		}
	}
	return true
}

// cut keeps at most maxCellBytes of s, on a character boundary.
func cut(s string) string {
	if len(s) <= maxCellBytes {
		return s
	}
	n := maxCellBytes
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return s[:n]
}

// Unneutralize takes off the one leading apostrophe that NeutralizeCell puts before a
// value a spreadsheet could run as a formula: "'+44 20 7946 0958" is "+44 20 7946 0958"
// again. Any other apostrophe is the value's own and stays ("'Tis").
func Unneutralize(s string) string {
	if len(s) > 1 && s[0] == '\'' && neutralized(s[1:]) {
		return s[1:]
	}
	return s
}

// serialDate turns an Excel serial date (days since 1899-12-30, with the time of day as
// the fraction) into the text an import reads, to the nearest second; other text stays.
func serialDate(cell string) string {
	days, err := strconv.ParseFloat(strings.TrimSpace(cell), 64)
	if err != nil || days < 1 || days > 2958465 || math.IsNaN(days) { // 1900-01-01 to 9999-12-31
		return cell
	}
	seconds := math.Round((days - 25569) * 86400)
	t := time.Unix(int64(seconds), 0).UTC()
	return string(appendAccessEnds(nil, t))
}
