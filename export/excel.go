package export

import (
	"archive/zip"
	"bytes"
	"compress/flate"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"strconv"
	"time"

	"github.com/xuri/excelize/v2"

	"portal/db"
)

// SheetName is the name of the only sheet of the Excel export.
const SheetName = "Contacts"

// columnWidths are in Excel's character units, one per column of Columns: wide enough for
// typical values, so that nobody has to resize before reading.
var columnWidths = []float64{16, 18, 34, 28, 30, 10, 32, 20, 26, 18, 18, 18, 12}

// accessEndsColumn and createdColumn are the first and last date columns (1-based, as
// excelize counts): Access ends, Last login, Created.
const accessEndsColumn, createdColumn = 10, 12

// excelDateFormat shows dates the same in every locale; the cells hold real dates, so
// Excel sorts, filters and reformats them as dates.
const excelDateFormat = "yyyy-mm-dd hh:mm"

// excelBatchRows is how many rows travel together from the reading goroutine to the
// writing one: large enough that handing over costs nothing, small enough to stay bounded.
const excelBatchRows = 256

// Boxed once: an interface holding one of these costs no allocation per row.
var (
	cellActive     any = "Active"
	cellLocked     any = "Locked"
	cellFailedLock any = "Too many failed login attempts"
	cellAdminLock  any = "Locked by an admin"
	cellTwoFactor      = [2]any{twoFactorLabel(false), twoFactorLabel(true)}
)

// Excel writes the rows as an .xlsx workbook with excelize's StreamWriter (the cell-by-cell
// API keeps every cell in memory): one sheet "Contacts", a bold header row that stays in
// view when scrolling, an auto filter over the table, fixed column widths, and dates as
// real Excel dates in UTC. Every text is written as an inline string, never a formula, so
// "=HYPERLINK(...)" in a name is only text. It returns how many contacts it wrote.
//
// Reading and writing overlap: one goroutine reads rows from the database and turns them
// into cell values while this one writes the previous batch, so the export takes about as
// long as the slower of the two, not their sum. The sheet is kept in excelize's temporary
// file beyond 16 MB, and the .xlsx (a zip) is written to w at the end.
func Excel(w io.Writer, rows Rows, meta Meta) (int, error) {
	f := excelize.NewFile()
	defer f.Close() // removes the temporary files
	if err := f.SetSheetName("Sheet1", SheetName); err != nil {
		return 0, fmt.Errorf("excel: %w", err)
	}
	// Not SetDocProps: it writes lastModifiedBy unprefixed in a default namespace, which
	// exceljs (it matches prefixed names) refuses, and keeps its template's 2006-09-16
	// modified date. excelize writes the parts held in Pkg as they are, so the part is
	// stored whole, prefixed the way Excel writes it and dated at the export.
	f.Pkg.Store(docPropsCore, coreProperties(meta))
	sw, err := newExcelSheet(f)
	if err != nil {
		return 0, fmt.Errorf("excel: %w", err)
	}

	n, err := writeExcelRows(sw, rows)
	if err != nil {
		return n, err
	}
	if err := f.AutoFilter(SheetName, "A1:"+lastColumn()+strconv.Itoa(n+1), nil); err != nil {
		return n, fmt.Errorf("excel: %w", err)
	}
	if err := sw.Flush(); err != nil {
		return n, fmt.Errorf("excel: %w", err)
	}
	// File.Write builds the whole .xlsx in a bytes.Buffer before copying it out (tens of
	// megabytes at a million rows). Its zip writer hook lets the archive go straight to w
	// instead; what Write then copies is an empty buffer.
	zw := zip.NewWriter(w)
	zw.RegisterCompressor(zip.Deflate, func(out io.Writer) (io.WriteCloser, error) {
		return flate.NewWriter(out, flate.BestSpeed)
	})
	f.SetZipWriter(func(io.Writer) excelize.ZipWriter { return zw })
	if err := f.Write(io.Discard); err != nil {
		return n, fmt.Errorf("excel: %w", err)
	}
	return n, nil
}

// newExcelSheet prepares the sheet's layout and writes the header row. Everything that
// shapes columns must come before the first row in a stream.
func newExcelSheet(f *excelize.File) (*excelize.StreamWriter, error) {
	header, err := f.NewStyle(&excelize.Style{
		Font:      &excelize.Font{Bold: true},
		Fill:      excelize.Fill{Type: "pattern", Pattern: 1, Color: []string{"E4E9F0"}},
		Border:    []excelize.Border{{Type: "bottom", Color: "8A96A3", Style: 1}},
		Alignment: &excelize.Alignment{Vertical: "center"},
	})
	if err != nil {
		return nil, err
	}
	dateFormat := excelDateFormat
	date, err := f.NewStyle(&excelize.Style{CustomNumFmt: &dateFormat, Alignment: &excelize.Alignment{Horizontal: "left"}})
	if err != nil {
		return nil, err
	}
	sw, err := f.NewStreamWriter(SheetName)
	if err != nil {
		return nil, err
	}
	// The date columns carry the date style, so each date cell needs only its number.
	if err := sw.SetColStyle(accessEndsColumn, createdColumn, date); err != nil {
		return nil, err
	}
	// Excel wants <col> elements in ascending order and calls the file damaged otherwise;
	// excelize puts each new column before the ones it has, so they are given last first
	// (after the style). A test reads the order back, in case excelize changes its ways.
	for i := len(columnWidths) - 1; i >= 0; i-- {
		if err := sw.SetColWidth(i+1, i+1, columnWidths[i]); err != nil {
			return nil, err
		}
	}
	if err := sw.SetPanes(&excelize.Panes{
		Freeze: true, YSplit: 1, TopLeftCell: "A2", ActivePane: "bottomLeft",
		Selection: []excelize.Selection{{SQRef: "A2", ActiveCell: "A2", Pane: "bottomLeft"}},
	}); err != nil {
		return nil, err
	}
	cells := make([]any, len(Columns))
	for i, name := range Columns {
		cells[i] = excelize.Cell{StyleID: header, Value: name}
	}
	if err := sw.SetRow("A1", cells, excelize.RowOpts{Height: 20}); err != nil {
		return nil, err
	}
	return sw, nil
}

// excelBatch is a run of rows on their way from the reader to the writer: the cells of
// row i are cells[i*len(Columns):(i+1)*len(Columns)].
type excelBatch struct {
	cells []any
	rows  int
}

// errExcelWriterStopped tells the reading goroutine that nobody takes its rows any more.
var errExcelWriterStopped = errors.New("excel: writer stopped")

// writeExcelRows runs the reader goroutine and writes what it sends; it returns how many
// rows it wrote. Batches circulate between a free list and the writer, so at most
// excelBatches batches exist, whatever the number of contacts.
func writeExcelRows(sw *excelize.StreamWriter, rows Rows) (int, error) {
	const excelBatches = 4
	free := make(chan *excelBatch, excelBatches)
	full := make(chan *excelBatch, excelBatches)
	stop := make(chan struct{})
	for range excelBatches {
		free <- &excelBatch{cells: make([]any, excelBatchRows*len(Columns))}
	}

	readErr := make(chan error, 1)
	go func() {
		defer close(full)
		var b *excelBatch
		err := rows(func(r *db.ExportRow) error {
			if b == nil {
				select {
				case b = <-free:
					b.rows = 0
				case <-stop:
					return errExcelWriterStopped
				}
			}
			excelCells(b.cells[b.rows*len(Columns):(b.rows+1)*len(Columns)], r)
			b.rows++
			if b.rows == excelBatchRows {
				full <- b // never blocks: there are only excelBatches batches
				b = nil
			}
			return nil
		})
		if b != nil && b.rows > 0 {
			full <- b
		}
		readErr <- err
	}()

	n := 0
	var writeErr error
	for b := range full {
		if writeErr == nil {
			for i := 0; i < b.rows && writeErr == nil; i++ {
				writeErr = sw.SetRow("A"+strconv.Itoa(n+2), b.cells[i*len(Columns):(i+1)*len(Columns)])
				if writeErr == nil {
					n++
				}
			}
			if writeErr != nil {
				close(stop)
			}
		}
		free <- b
	}
	if err := <-readErr; err != nil && !errors.Is(err, errExcelWriterStopped) {
		return n, err
	}
	if writeErr != nil {
		return n, fmt.Errorf("excel: %w", writeErr)
	}
	return n, nil
}

// excelCells fills the cells of one row. Text is copied (the row's bytes are reused);
// empty fields stay nil, which excelize skips, so the sheet holds no empty cells.
func excelCells(cells []any, r *db.ExportRow) {
	cells[0] = textCell(r.FirstName)
	cells[1] = textCell(r.LastName)
	cells[2] = textCell(r.Email)
	cells[3] = textCell(r.Account)
	cells[4] = textCell(r.Roles)
	switch string(r.Status) {
	case db.StatusActive:
		cells[5] = cellActive
	case db.StatusLocked:
		cells[5] = cellLocked
	default:
		cells[5] = textCell(r.Status)
	}
	switch {
	case len(r.LockReason) == 0:
		cells[6] = nil
	case string(r.LockReason) == db.LockedByFailedLogins:
		cells[6] = cellFailedLock
	case string(r.LockReason) == db.LockedByAdmin && len(r.LockedBy) == 0:
		cells[6] = cellAdminLock
	default:
		cells[6] = string(appendLockReason(nil, r))
	}
	cells[7] = textCell(r.Phone)
	cells[8] = textCell(r.JobTitle)
	cells[9] = excelDate(r.AccessEnds)
	cells[10] = excelDate(r.LastLogin)
	cells[11] = excelDate(r.Created)
	if r.TwoFactor {
		cells[12] = cellTwoFactor[1]
	} else {
		cells[12] = cellTwoFactor[0]
	}
}

// textCell is a text cell, or nil for an empty one. A cell of a workbook can't run as a
// formula, so nothing is neutralised; but a value that starts with an apostrophe before a
// formula's first character ("'=1") gets one more, as in the CSV, because the import takes
// one such apostrophe off whatever the file (a CSV opened in a spreadsheet and saved as
// .xlsx keeps the CSV's apostrophes as text).
func textCell(b []byte) any {
	if len(b) == 0 {
		return nil
	}
	if b[0] == '\'' && neutralized(b) {
		return "'" + string(b)
	}
	return string(b)
}

// excelDate is t as an Excel serial date (days since 1899-12-30, the 1900 date system),
// or nil for the zero time. Computing it here, on the reading side, keeps the writer lean.
//
// The serial is rounded up to 10 decimals (under 9 µs): excelize writes a number with at
// most 15 significant digits and cuts the rest off, and a time on the minute, whose serial
// has endless decimals (17:30 is .7291666…), then landed a hair before it, which LibreOffice
// shows as 17:29. Rounded up, it lands a hair after, which every reader shows as 17:30.
func excelDate(t time.Time) any {
	if t.IsZero() {
		return nil
	}
	const perDay, epoch = 86400, 25569 * 86400 // 1970-01-01 is day 25569
	days, secs := (t.Unix()+epoch)/perDay, (t.Unix()+epoch)%perDay
	tenBillionths := (secs*1e10 + perDay - 1) / perDay // the day's fraction, rounded up
	if days >= 900_000 || secs < 0 {
		// After the year 4364 or before 1900: beyond exact float arithmetic.
		return float64(t.Unix())/perDay + 25569
	}
	// Exact in a float64 below 2^53, and one division rounds it to the double nearest the
	// decimal, whose shortest form is that decimal.
	return float64(days*1e10+tenBillionths) / 1e10
}

// docPropsCore is the package part that holds the workbook's core properties (OPC,
// ECMA-376 part 2), named by the package relationships of every new excelize file.
const docPropsCore = "docProps/core.xml"

// coreProperties is the docProps/core.xml of an export: its title, its creator, and the
// export time as both created and modified, each element with the prefix Excel gives it.
func coreProperties(meta Meta) []byte {
	at := meta.GeneratedAt.UTC().Format(time.RFC3339)
	var b bytes.Buffer
	b.WriteString(xml.Header)
	b.WriteString(`<cp:coreProperties xmlns:cp="http://schemas.openxmlformats.org/package/2006/metadata/core-properties"` +
		` xmlns:dc="http://purl.org/dc/elements/1.1/" xmlns:dcterms="http://purl.org/dc/terms/"` +
		` xmlns:dcmitype="http://purl.org/dc/dcmitype/" xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance">`)
	b.WriteString("<dc:title>")
	xml.EscapeText(&b, []byte("Contacts of "+meta.Account)) // writing to a bytes.Buffer cannot fail
	b.WriteString("</dc:title><dc:creator>Customer Support Portal</dc:creator>")
	b.WriteString(`<dcterms:created xsi:type="dcterms:W3CDTF">` + at + `</dcterms:created>`)
	b.WriteString(`<dcterms:modified xsi:type="dcterms:W3CDTF">` + at + `</dcterms:modified>`)
	b.WriteString("</cp:coreProperties>")
	return b.Bytes()
}

func lastColumn() string {
	name, _ := excelize.ColumnNumberToName(len(Columns))
	return name
}
