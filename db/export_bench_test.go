package db_test

// Benchmarks of the exports (package export) against baselines measured in the same run
// (R-PERF):
//
//	go test -tags sqlite_fts5 -run '^$' -bench Export -benchtime 3x ./db/
//
// They live beside the export's query rather than beside the writers: every baseline runs
// that very query (exportQuery, which only db's tests can see, through db.ExportQuery).
//
// CSV is compared with a bare encoding/csv program that runs the same query with a scan
// per row, and with the sqlite3 shell's own -csv output of that query (skipped when sqlite3
// is not installed); Excel with a bare, serial excelize StreamWriter of the same rows; PDF
// with bare maroto writing the same table. On PostgreSQL (postgres/...: the throwaway
// server of db/dbtest, or PORTAL_TEST_POSTGRES) CSV and Excel are also compared with psql's
// \copy (query) to stdout csv, where the server itself writes the CSV. peak-heap-MB is the
// largest Go heap in use seen while an export ran. The database's own memory (SQLite's
// 16 MB page cache per connection, PostgreSQL's server) is outside the Go heap and is the
// same for every contender. The databases are made by demo.Populate, SQLite's once per
// run, PostgreSQL's once per benchmark; -short leaves out the million-contact runs.

import (
	"context"
	"database/sql"
	"encoding/csv"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"runtime/metrics"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/johnfercher/maroto/v2"
	"github.com/johnfercher/maroto/v2/pkg/components/row"
	"github.com/johnfercher/maroto/v2/pkg/components/text"
	"github.com/johnfercher/maroto/v2/pkg/config"
	"github.com/johnfercher/maroto/v2/pkg/consts/fontstyle"
	"github.com/johnfercher/maroto/v2/pkg/consts/orientation"
	"github.com/johnfercher/maroto/v2/pkg/consts/pagesize"
	"github.com/johnfercher/maroto/v2/pkg/core"
	"github.com/johnfercher/maroto/v2/pkg/props"
	"github.com/johnfercher/maroto/v2/pkg/repository"
	"github.com/xuri/excelize/v2"
	"golang.org/x/image/font/gofont/gobold"
	"golang.org/x/image/font/gofont/goregular"

	"portal/db"
	"portal/db/dbtest"
	"portal/demo"
	"portal/export"
)

// benchDB is a populated database of one account with a given number of contacts.
type benchDB struct {
	path  string // the SQLite file, or the PostgreSQL URL
	store *db.Store
	scope db.Scope
	bare  *sql.DB // the baselines' own connection, tuned like the store's read pool
}

var (
	benchMu   sync.Mutex
	benchDBs  = map[string]*benchDB{}
	benchRoot string
	benchPeak = map[string]uint64{} // benchmark name -> largest heap seen
)

func TestMain(m *testing.M) {
	code := dbtest.Main(m) // stops the throwaway PostgreSQL server, if a test started one
	for _, d := range benchDBs {
		d.bare.Close()
		d.store.Close()
	}
	if benchRoot != "" {
		os.RemoveAll(benchRoot)
	}
	os.Exit(code)
}

// exportCase is a database the export benchmarks run on.
type exportCase struct {
	name     string
	postgres bool
	contacts int
}

var exportCases = []exportCase{
	{"contacts=100000", false, 100_000},
	{"contacts=1000000", false, 1_000_000},
	{"postgres/contacts=100000", true, 100_000},
}

// exportDB returns a database of contacts contacts in one account, made on first use: a
// SQLite file kept for the whole run, or a PostgreSQL database kept until owner (the
// benchmark function, not one of its sub-benchmarks' runs) ends.
func exportDB(b *testing.B, owner testing.TB, c exportCase) *benchDB {
	b.Helper()
	if c.contacts >= 1_000_000 && testing.Short() {
		b.Skip("a million contacts: left out with -short")
	}
	benchMu.Lock()
	defer benchMu.Unlock()
	key := c.name
	if c.postgres {
		key = owner.Name() + "/" + c.name
	}
	if d, ok := benchDBs[key]; ok {
		return d
	}
	if benchRoot == "" {
		dir, err := os.MkdirTemp("", "export-bench")
		if err != nil {
			b.Fatal(err)
		}
		benchRoot = dir
	}
	ctx := context.Background()
	path := filepath.Join(benchRoot, fmt.Sprintf("contacts-%d.db", c.contacts))
	driver, source := "sqlite3", "file:"+path+"?_query_only=true&_cache_size=-16000&_busy_timeout=5000"
	if c.postgres {
		path = dbtest.PostgresURL(owner)
		driver, source = "pgx", path
	}
	store, err := db.Open(path)
	if err != nil {
		b.Fatal(err)
	}
	if err := store.Migrate(ctx); err != nil {
		b.Fatal(err)
	}
	pop, err := demo.Populate(ctx, store, demo.Scale{Contacts: c.contacts, Accounts: 1})
	if err != nil {
		b.Fatal(err)
	}
	scope, err := store.ScopeOf(ctx, pop.Root.ID)
	if err != nil {
		b.Fatal(err)
	}
	bare, err := sql.Open(driver, source)
	if err != nil {
		b.Fatal(err)
	}
	d := &benchDB{path: path, store: store, scope: scope, bare: bare}
	benchDBs[key] = d
	if c.postgres {
		// Before the database is dropped (cleanups run last registered first).
		owner.Cleanup(func() {
			benchMu.Lock()
			defer benchMu.Unlock()
			d.bare.Close()
			d.store.Close()
			delete(benchDBs, key)
		})
	}
	return d
}

// peakHeap runs fn and reports the largest Go heap in use (live objects and garbage not
// yet collected) sampled every half millisecond while it, or an earlier run of the same
// benchmark, ran.
func peakHeap(b *testing.B, fn func()) {
	b.Helper()
	// Twice: the first collection only moves what sync.Pools hold (excelize pools the
	// buffer of a whole workbook) to their victim caches; the second frees it.
	runtime.GC()
	runtime.GC()
	sample := []metrics.Sample{{Name: "/memory/classes/heap/objects:bytes"}}
	var peak atomic.Uint64
	read := func() {
		metrics.Read(sample)
		if v := sample[0].Value.Uint64(); v > peak.Load() {
			peak.Store(v)
		}
	}
	done := make(chan struct{})
	stopped := make(chan struct{})
	go func() {
		defer close(stopped)
		t := time.NewTicker(500 * time.Microsecond)
		defer t.Stop()
		for {
			select {
			case <-done:
				return
			case <-t.C:
				read()
			}
		}
	}()
	fn()
	read()
	close(done)
	<-stopped
	benchPeak[b.Name()] = max(benchPeak[b.Name()], peak.Load())
	b.ReportMetric(float64(benchPeak[b.Name()])/1e6, "peak-heap-MB")
}

// runExport runs one export of d with write, the way the handler does: a snapshot, then
// the rows through the writer.
func runExport(b *testing.B, d *benchDB, write func(io.Writer, export.Rows, export.Meta) (int, error), contacts int) {
	b.Helper()
	exp, err := d.store.BeginExport(context.Background(), d.scope, db.ExportView{})
	if err != nil {
		b.Fatal(err)
	}
	defer exp.Close()
	meta := export.Meta{Account: d.scope.Root().Name, GeneratedAt: time.Now(), Total: exp.Total}
	n, err := write(io.Discard, exp.Each, meta)
	if err != nil {
		b.Fatal(err)
	}
	if n != contacts {
		b.Fatalf("exported %d contacts, want %d", n, contacts)
	}
}

func writeCSV(w io.Writer, rows export.Rows, _ export.Meta) (int, error) { return export.CSV(w, rows) }

// timed runs fn and returns how long it took.
func timed(fn func()) time.Duration {
	start := time.Now()
	fn()
	return time.Since(start)
}

// compare reports the export's time as ns/op and each baseline's time and the export's
// ratio to it as extra metrics. The contenders take turns within every iteration, so that
// they share whatever else the machine is doing at the time, and who goes first alternates,
// so that neither always runs on a cache the other warmed or in a load spike it met.
type compare struct {
	b         *testing.B
	baselines map[string]time.Duration
	names     []string
	turns     int
}

// turn runs one iteration: the export and the baselines, in alternating order.
func (c *compare) turn(export, baselines func()) {
	c.turns++
	if c.turns%2 == 0 {
		baselines()
		export()
		return
	}
	export()
	baselines()
}

func newCompare(b *testing.B) *compare { return &compare{b: b, baselines: map[string]time.Duration{}} }

// baseline runs fn with the timer stopped and adds its time to name's.
func (c *compare) baseline(name string, fn func()) {
	c.b.StopTimer()
	if _, ok := c.baselines[name]; !ok {
		c.names = append(c.names, name)
	}
	c.baselines[name] += timed(fn)
	c.b.StartTimer()
}

func (c *compare) report() {
	export := float64(c.b.Elapsed()) / float64(c.b.N)
	for _, name := range c.names {
		per := float64(c.baselines[name]) / float64(c.b.N)
		c.b.ReportMetric(per/1e6, name+"-ms")
		c.b.ReportMetric(export/per, "x-"+name)
	}
}

func BenchmarkExportCSV(b *testing.B) {
	owner := b
	for _, ec := range exportCases {
		b.Run(ec.name, func(b *testing.B) {
			d := exportDB(b, owner, ec)
			sqlite3, psql := "", ""
			if ec.postgres {
				psql = psqlPath(b)
			} else {
				sqlite3 = sqlite3Shell(b)
			}
			c := newCompare(b)
			b.ResetTimer()
			for b.Loop() {
				c.turn(func() { peakHeap(b, func() { runExport(b, d, writeCSV, ec.contacts) }) }, func() {
					c.baseline("bare-encoding-csv", func() {
						if n := bareCSV(b, d); n != ec.contacts {
							b.Fatalf("bare CSV wrote %d rows, want %d", n, ec.contacts)
						}
					})
					if sqlite3 != "" {
						c.baseline("sqlite3-csv", func() { sqlite3CSV(b, sqlite3, d) })
					}
					if psql != "" {
						c.baseline("psql-copy-csv", func() { psqlCSV(b, psql, d) })
					}
				})
			}
			c.report()
		})
	}
}

// sqlite3Shell is the sqlite3 shell, or "" (logged) when it is not installed or too old for
// the export's query: an ordered aggregate, string_agg(... ORDER BY ...), needs SQLite 3.44,
// and Debian 12's shell is 3.40 (the store's own SQLite is compiled in, and newer).
func sqlite3Shell(b *testing.B) string {
	sqlite3, err := exec.LookPath("sqlite3")
	if err != nil {
		b.Log("sqlite3 shell not installed (apt-get install sqlite3): no comparison with it")
		return ""
	}
	if out, err := exec.Command(sqlite3, ":memory:", `SELECT string_agg('a', ',' ORDER BY 1)`).CombinedOutput(); err != nil {
		b.Logf("the sqlite3 shell cannot run the export's ordered string_agg (SQLite 3.44 or later needed): "+
			"no comparison with it (%v: %s)", err, strings.TrimSpace(string(out)))
		return ""
	}
	return sqlite3
}

// sqlite3CSV runs the export's query in the sqlite3 shell with -csv, with the same page
// cache as the store's connections, writing to /dev/null.
func sqlite3CSV(b *testing.B, sqlite3 string, d *benchDB) {
	devNull, err := os.OpenFile(os.DevNull, os.O_WRONLY, 0)
	if err != nil {
		b.Fatal(err)
	}
	defer devNull.Close()
	cmd := exec.Command(sqlite3, "-readonly", "-csv", "-header", "-cmd", "PRAGMA cache_size=-16000",
		d.path, db.ExportQuery(d.scope))
	cmd.Stdout = devNull // an *os.File: the shell writes to it directly, no pipe through Go
	cmd.Stderr = os.Stderr
	if err := cmd.Run(); err != nil {
		b.Fatal(err)
	}
}

// psqlPath is PostgreSQL's own psql: Debian's /usr/bin/psql is a Perl wrapper that would
// add its start-up to every run of the baseline.
func psqlPath(b *testing.B) string {
	if _, err := os.Stat("/usr/lib/postgresql/15/bin/psql"); err == nil {
		return "/usr/lib/postgresql/15/bin/psql"
	}
	psql, err := exec.LookPath("psql")
	if err != nil {
		b.Fatal("psql is not installed: it is the baseline of the PostgreSQL export")
	}
	return psql
}

// psqlCSV runs the export's query through psql's \copy ... to stdout csv, writing to
// /dev/null: PostgreSQL formats the CSV itself, psql only passes it on.
func psqlCSV(b *testing.B, psql string, d *benchDB) {
	devNull, err := os.OpenFile(os.DevNull, os.O_WRONLY, 0)
	if err != nil {
		b.Fatal(err)
	}
	defer devNull.Close()
	query := strings.Join(strings.Fields(db.ExportQuery(d.scope)), " ") // \copy takes one line
	cmd := exec.Command(psql, "-X", "-q", "-v", "ON_ERROR_STOP=1", "-d", d.path,
		"-c", `\copy (`+query+`) to stdout with (format csv, header)`)
	cmd.Stdout = devNull
	cmd.Stderr = os.Stderr
	if err := cmd.Run(); err != nil {
		b.Fatal(err)
	}
}

// bareCSV is the straightforward program: the same query, a Scan into strings per row,
// encoding/csv. No neutralising, no labels.
func bareCSV(b *testing.B, d *benchDB) int {
	rows, err := d.bare.Query(db.ExportQuery(d.scope))
	if err != nil {
		b.Fatal(err)
	}
	defer rows.Close()
	w := csv.NewWriter(io.Discard)
	w.UseCRLF = true
	if err := w.Write(export.Columns); err != nil {
		b.Fatal(err)
	}
	var roles, lockedBy sql.NullString
	var lastLogin, created int64
	var accessEnds sql.NullInt64
	var twoFactor bool
	record := make([]string, len(export.Columns))
	n := 0
	for rows.Next() {
		if err := rows.Scan(&record[0], &record[1], &record[2], &record[3], &roles, &record[5], &record[6],
			&lockedBy, &record[7], &record[8], &lastLogin, &created, &accessEnds, &twoFactor); err != nil {
			b.Fatal(err)
		}
		record[4] = roles.String
		record[9] = ""
		if lastLogin != 0 {
			record[9] = time.Unix(lastLogin, 0).UTC().Format("2006-01-02 15:04")
		}
		record[10] = time.Unix(created, 0).UTC().Format("2006-01-02 15:04")
		record[11] = ""
		if accessEnds.Valid {
			record[11] = time.Unix(accessEnds.Int64, 0).UTC().Format("2006-01-02 15:04")
		}
		record[12] = onOff(twoFactor)
		if err := w.Write(record); err != nil {
			b.Fatal(err)
		}
		n++
	}
	if err := rows.Err(); err != nil {
		b.Fatal(err)
	}
	w.Flush()
	return n
}

func BenchmarkExportExcel(b *testing.B) {
	owner := b
	for _, ec := range exportCases {
		b.Run(ec.name, func(b *testing.B) {
			d := exportDB(b, owner, ec)
			psql := ""
			if ec.postgres {
				psql = psqlPath(b)
			}
			c := newCompare(b)
			b.ResetTimer()
			for b.Loop() {
				c.turn(func() { peakHeap(b, func() { runExport(b, d, export.Excel, ec.contacts) }) }, func() {
					c.baseline("bare-streamwriter", func() {
						if n := bareExcel(b, d); n != ec.contacts {
							b.Fatalf("bare Excel wrote %d rows, want %d", n, ec.contacts)
						}
					})
					if psql != "" {
						c.baseline("psql-copy-csv", func() { psqlCSV(b, psql, d) })
					}
				})
			}
			c.report()
		})
	}
}

// onOff is the two-step verification column as the exports word it.
func onOff(twoFactor bool) string {
	if twoFactor {
		return "On"
	}
	return "Off"
}

// bareExcel is excelize's StreamWriter used the plain way, in one goroutine: the same
// query and rows, dates as real dates, no header styling, frozen pane or filter.
func bareExcel(b *testing.B, d *benchDB) int {
	f := excelize.NewFile()
	defer f.Close()
	sw, err := f.NewStreamWriter("Sheet1")
	if err != nil {
		b.Fatal(err)
	}
	dateFormat := "yyyy-mm-dd hh:mm"
	date, err := f.NewStyle(&excelize.Style{CustomNumFmt: &dateFormat})
	if err != nil {
		b.Fatal(err)
	}
	header := make([]any, len(export.Columns))
	for i, c := range export.Columns {
		header[i] = c
	}
	if err := sw.SetRow("A1", header); err != nil {
		b.Fatal(err)
	}
	rows, err := d.bare.Query(db.ExportQuery(d.scope))
	if err != nil {
		b.Fatal(err)
	}
	defer rows.Close()
	var first, last, email, account, status, reason, phone, job string
	var roles, lockedBy sql.NullString
	var lastLogin, created int64
	var accessEnds sql.NullInt64
	var twoFactor bool
	n := 0
	for rows.Next() {
		if err := rows.Scan(&first, &last, &email, &account, &roles, &status, &reason, &lockedBy, &phone, &job,
			&lastLogin, &created, &accessEnds, &twoFactor); err != nil {
			b.Fatal(err)
		}
		var login, ends any
		if lastLogin != 0 {
			login = excelize.Cell{StyleID: date, Value: time.Unix(lastLogin, 0).UTC()}
		}
		if accessEnds.Valid {
			ends = excelize.Cell{StyleID: date, Value: time.Unix(accessEnds.Int64, 0).UTC()}
		}
		n++
		err := sw.SetRow("A"+strconv.Itoa(n+1), []any{first, last, email, account, roles.String, status, reason,
			phone, job, login, excelize.Cell{StyleID: date, Value: time.Unix(created, 0).UTC()}, ends, onOff(twoFactor)})
		if err != nil {
			b.Fatal(err)
		}
	}
	if err := rows.Err(); err != nil {
		b.Fatal(err)
	}
	if err := sw.Flush(); err != nil {
		b.Fatal(err)
	}
	if err := f.Write(io.Discard); err != nil {
		b.Fatal(err)
	}
	return n
}

func BenchmarkExportPDF(b *testing.B) {
	const contacts = 10_000
	d := exportDB(b, b, exportCase{name: "contacts=10000", contacts: contacts})
	c := newCompare(b)
	b.ResetTimer()
	for b.Loop() {
		c.turn(func() { peakHeap(b, func() { runExport(b, d, export.PDF, contacts) }) }, func() {
			c.baseline("bare-maroto", func() {
				if n := barePDF(b, d); n != contacts {
					b.Fatalf("bare PDF wrote %d rows, want %d", n, contacts)
				}
			})
		})
	}
	c.report()
}

// barePDF is maroto used the plain way: the same query and page setup (A4 landscape, Go
// fonts, compression, a header repeated on every page, page numbers), one auto-height row
// of ten text columns per contact, no stripes or wrapping decisions.
func barePDF(b *testing.B, d *benchDB) int {
	fonts, err := repository.New().
		AddUTF8FontFromBytes("Go", fontstyle.Normal, goregular.TTF).
		AddUTF8FontFromBytes("Go", fontstyle.Bold, gobold.TTF).
		Load()
	if err != nil {
		b.Fatal(err)
	}
	cfg := config.NewBuilder().
		WithPageSize(pagesize.A4).WithOrientation(orientation.Horizontal).
		WithLeftMargin(10).WithTopMargin(10).WithRightMargin(10).WithBottomMargin(10).
		WithMaxGridSize(100).WithCustomFonts(fonts).WithDefaultFont(&props.Font{Family: "Go", Size: 7}).
		WithPageNumber(props.PageNumber{Pattern: "Page {current} of {total}", Place: props.Bottom, Size: 7}).
		WithCompression(true).Build()
	m := maroto.New(cfg)
	widths := []int{11, 19, 11, 8, 9, 8, 7, 9, 9, 9}
	titles := []string{"Name", "Email", "Account", "Roles", "Status", "Phone", "Job title", "Last login (UTC)", "Created (UTC)",
		"Access ends (UTC)"}
	header := make([]core.Col, len(titles))
	for i, t := range titles {
		header[i] = text.NewCol(widths[i], t, props.Text{Size: 7, Style: fontstyle.Bold})
	}
	if err := m.RegisterHeader(text.NewRow(8, "Contacts", props.Text{Size: 13, Style: fontstyle.Bold}),
		row.New().Add(header...)); err != nil {
		b.Fatal(err)
	}

	rows, err := d.bare.Query(db.ExportQuery(d.scope))
	if err != nil {
		b.Fatal(err)
	}
	defer rows.Close()
	var first, last, email, account, status, reason, phone, job string
	var roles, lockedBy sql.NullString
	var lastLogin, created int64
	var accessEnds sql.NullInt64
	var twoFactor bool
	n := 0
	cell := props.Text{Size: 7, Left: 1, Right: 1, Top: 1, Bottom: 1}
	for rows.Next() {
		if err := rows.Scan(&first, &last, &email, &account, &roles, &status, &reason, &lockedBy, &phone, &job,
			&lastLogin, &created, &accessEnds, &twoFactor); err != nil {
			b.Fatal(err)
		}
		login, ends := "", ""
		if lastLogin != 0 {
			login = time.Unix(lastLogin, 0).UTC().Format("2006-01-02 15:04")
		}
		if accessEnds.Valid {
			ends = time.Unix(accessEnds.Int64, 0).UTC().Format("2006-01-02 15:04")
		}
		values := []string{first + " " + last, email, account, roles.String, status + " " + reason + " " + onOff(twoFactor), phone, job,
			login, time.Unix(created, 0).UTC().Format("2006-01-02 15:04"), ends}
		cols := make([]core.Col, len(values))
		for i, v := range values {
			cols[i] = text.NewCol(widths[i], v, cell)
		}
		m.AddRows(row.New().Add(cols...))
		n++
	}
	if err := rows.Err(); err != nil {
		b.Fatal(err)
	}
	doc, err := m.Generate()
	if err != nil {
		b.Fatal(err)
	}
	if _, err := io.Discard.Write(doc.GetBytes()); err != nil {
		b.Fatal(err)
	}
	return n
}
