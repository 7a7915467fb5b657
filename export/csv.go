package export

import (
	"bufio"
	"bytes"
	"io"

	"portal/db"
)

// byteOrderMark starts the CSV so that Excel opens it as UTF-8; without it Excel on
// Windows reads the file in the ANSI code page and shows "ZoÃ«". RFC 4180 readers that
// know UTF-8 (LibreOffice, Numbers, Python's utf-8-sig) skip it.
const byteOrderMark = "\uFEFF"

// CSV writes the rows as RFC 4180 CSV in UTF-8: a header row, CRLF line ends, every field
// quoted with quotes doubled, and every cell that a spreadsheet would run as a formula
// neutralised (NeutralizeCell). Every field is quoted, as OWASP advises, because the reader
// chooses the separator: a spreadsheet set to ";" (German or French Excel, LibreOffice) would
// split an unquoted "Bob;=2*21;x" and run its middle as a formula. It returns how many
// contacts it wrote. Each row is built straight into the output buffer, with no allocation
// per row or field: CSV runs close to the speed of SQLite itself.
func CSV(w io.Writer, rows Rows) (int, error) {
	f, err := startCSV(w, Columns)
	if err != nil {
		return 0, err
	}
	var scratch []byte // the lock reason, which is built from two fields
	err = rows(func(r *db.ExportRow) error {
		line := f.line()
		line = appendCSVCell(line, r.FirstName)
		line = appendCSVCell(append(line, ','), r.LastName)
		line = appendCSVCell(append(line, ','), r.Email)
		line = appendCSVCell(append(line, ','), r.Account)
		line = appendCSVCell(append(line, ','), r.Roles)
		line = appendCSVCell(append(line, ','), []byte(statusLabel(r.Status)))
		scratch = appendLockReason(scratch[:0], r)
		line = appendCSVCell(append(line, ','), scratch)
		line = appendCSVCell(append(line, ','), r.Phone)
		line = appendCSVCell(append(line, ','), r.JobTitle)
		line = append(appendAccessEnds(append(line, ',', '"'), r.AccessEnds), '"')
		line = append(appendDate(append(line, ',', '"'), r.LastLogin), '"')
		line = append(appendDate(append(line, ',', '"'), r.Created), '"')
		line = append(append(append(line, ',', '"'), twoFactorLabel(r.TwoFactor)...), '"') // never empty: see Columns
		return f.row(line)
	})
	return f.end(err)
}

// appendCSVCell appends v as one quoted CSV field, neutralised when formula-like, quotes
// doubled.
func appendCSVCell(dst, v []byte) []byte {
	dst = append(dst, '"')
	if neutralized(v) {
		dst = append(dst, '\'')
	}
	for {
		i := bytes.IndexByte(v, '"')
		if i < 0 {
			break
		}
		dst = append(dst, v[:i+1]...)
		dst = append(dst, '"')
		v = v[i+1:]
	}
	dst = append(dst, v...)
	return append(dst, '"')
}

// csvFile is a CSV file being written: startCSV wrote the byte order mark, so that Excel
// reads UTF-8, and the header row. Each row is built in the buffer's free space (line),
// so that rows cost no allocation, and ended by row.
type csvFile struct {
	bw   *bufio.Writer
	rows int
}

func startCSV(w io.Writer, names []string) (*csvFile, error) {
	bw := bufio.NewWriterSize(w, 64<<10)
	line := append(bw.AvailableBuffer(), byteOrderMark...)
	for i, name := range names {
		if i > 0 {
			line = append(line, ',')
		}
		line = appendCSVCell(line, []byte(name))
	}
	_, err := bw.Write(append(line, '\r', '\n'))
	return &csvFile{bw: bw}, err
}

// line is the buffer's free space, to build the next row in.
func (f *csvFile) line() []byte { return f.bw.AvailableBuffer() }

// row ends line as a row of the file.
func (f *csvFile) row(line []byte) error {
	f.rows++
	_, err := f.bw.Write(append(line, '\r', '\n'))
	return err
}

// end returns how many rows were written, and flushes them unless writing failed (err).
func (f *csvFile) end(err error) (int, error) {
	if err != nil {
		return f.rows, err
	}
	return f.rows, f.bw.Flush()
}
