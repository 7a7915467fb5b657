package export

import (
	"fmt"
	"io"

	"github.com/xuri/excelize/v2"
)

// TemplateCSV writes the file Download a template gives: the header row of an import, in
// UTF-8 with a byte order mark (so that Excel opens it as UTF-8), nothing else.
func TemplateCSV(w io.Writer) error {
	f, err := startCSV(w, ImportColumns[:])
	_, err = f.end(err)
	return err
}

// TemplateExcel writes the workbook Download a template gives: one sheet "Contacts" with
// the header row of an import, bold and frozen, columns wide enough to type into. Phone
// is a text column, so that "+44 20 7946 0958" stays as typed instead of turning into a
// number or a formula; Access ends shows dates as the import reads them.
func TemplateExcel(w io.Writer) error {
	f := excelize.NewFile()
	defer f.Close()
	if err := f.SetSheetName("Sheet1", SheetName); err != nil {
		return fmt.Errorf("excel template: %w", err)
	}
	header, err := f.NewStyle(&excelize.Style{Font: &excelize.Font{Bold: true},
		Fill: excelize.Fill{Type: "pattern", Pattern: 1, Color: []string{"E4E9F0"}}})
	if err != nil {
		return fmt.Errorf("excel template: %w", err)
	}
	text, err := f.NewStyle(&excelize.Style{NumFmt: 49}) // 49: "@", text
	if err != nil {
		return fmt.Errorf("excel template: %w", err)
	}
	dateFormat := excelDateFormat
	date, err := f.NewStyle(&excelize.Style{CustomNumFmt: &dateFormat})
	if err != nil {
		return fmt.Errorf("excel template: %w", err)
	}
	widths := [fieldCount]float64{16, 18, 34, 20, 26, 28, 30, 18}
	for i, name := range ImportColumns {
		col, _ := excelize.ColumnNumberToName(i + 1)
		if err := f.SetColWidth(SheetName, col, col, widths[i]); err != nil {
			return fmt.Errorf("excel template: %w", err)
		}
		style := 0
		switch Field(i) {
		case FieldPhone:
			style = text
		case FieldAccessEnds:
			style = date
		}
		if style != 0 {
			if err := f.SetColStyle(SheetName, col, style); err != nil {
				return fmt.Errorf("excel template: %w", err)
			}
		}
		if err := f.SetCellStr(SheetName, col+"1", name); err != nil {
			return fmt.Errorf("excel template: %w", err)
		}
		if err := f.SetCellStyle(SheetName, col+"1", col+"1", header); err != nil {
			return fmt.Errorf("excel template: %w", err)
		}
	}
	if err := f.SetPanes(SheetName, &excelize.Panes{Freeze: true, YSplit: 1, TopLeftCell: "A2", ActivePane: "bottomLeft"}); err != nil {
		return fmt.Errorf("excel template: %w", err)
	}
	if _, err := f.WriteTo(w); err != nil {
		return fmt.Errorf("excel template: %w", err)
	}
	return nil
}

// RejectedRow is a row an import left out, and why.
type RejectedRow struct {
	Cells  [fieldCount]string
	Reason string
}

// RejectedCSV writes the rows an import left out as a CSV to fix and upload again: the
// columns the uploaded file had that the import reads, then Reason. Like the export it
// quotes every cell and neutralises formula-like ones (which Read takes back off).
func RejectedCSV(w io.Writer, has [fieldCount]bool, rows []RejectedRow) error {
	var names []string
	for i, name := range ImportColumns {
		if has[i] {
			names = append(names, name)
		}
	}
	f, err := startCSV(w, append(names, "Reason"))
	if err != nil {
		return err
	}
	for _, r := range rows {
		line := f.line()
		for i, cell := range r.Cells {
			if has[i] {
				line = append(appendCSVCell(line, []byte(cell)), ',')
			}
		}
		line = appendCSVCell(line, []byte(r.Reason))
		if err := f.row(line); err != nil {
			return err
		}
	}
	_, err = f.end(nil)
	return err
}
