package export_test

import (
	"bytes"
	"sync"
	"testing"
	"time"

	"portal/db"
	"portal/export"
)

// TestPDFsAtOnce: PDFs made at the same time (two admins exporting at once) share no memory
// they write (the font files once were, and were written into while being subset): under
// -race, as CI runs it, this test fails on such a share. Each comes out whole and the size of
// one made alone; bytes are not compared, since gofpdf writes /ModDate from the clock and
// lists the fonts in map order.
func TestPDFsAtOnce(t *testing.T) {
	meta := export.Meta{Account: "Northwind", GeneratedAt: time.Date(2026, 11, 22, 9, 0, 0, 0, time.UTC), Total: 1}
	write := func() ([]byte, error) {
		var buf bytes.Buffer
		_, err := export.PDF(&buf, func(fn func(*db.ExportRow) error) error {
			return fn(&db.ExportRow{FirstName: []byte("Zoë"), LastName: []byte("Ærø"), Email: []byte("zoe@example.com"),
				Status: []byte(db.StatusActive), Created: meta.GeneratedAt})
		}, meta)
		return buf.Bytes(), err
	}
	alone, err := write()
	if err != nil {
		t.Fatal(err)
	}
	const together = 4
	var wg sync.WaitGroup
	got := make([][]byte, together)
	errs := make([]error, together)
	for i := range together {
		wg.Go(func() { got[i], errs[i] = write() })
	}
	wg.Wait()
	for i := range together {
		if errs[i] != nil {
			t.Fatalf("PDF %d of %d at once: %v", i+1, together, errs[i])
		}
		if pdf := got[i]; len(pdf) != len(alone) || !bytes.HasPrefix(pdf, []byte("%PDF-")) || !bytes.HasSuffix(bytes.TrimSpace(pdf), []byte("%%EOF")) {
			t.Errorf("PDF %d of %d made at once: %d bytes, starting %.8q, want a whole PDF of %d bytes like one made alone",
				i+1, together, len(pdf), pdf, len(alone))
		}
	}
}
