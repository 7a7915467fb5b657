package handlers

import (
	"bytes"

	"github.com/gofiber/fiber/v2"
	"github.com/valyala/fasthttp"
)

// compressText compresses what the handlers answer as text, pages and HTMX fragments and
// the CSV export, in brotli or gzip as the browser accepts (deflate for a client that takes
// nothing else; a coding it gives q=0 is never used).
//
// At the fastest levels: measured on the demo's All Contacts (BenchmarkPageCompression), a
// page of 15.5 kB takes 3.1 kB in either coding and about 90 µs more than sent plain (a
// third of the page's own time), where fasthttp's default levels (brotli 4, gzip 6) save
// 450 bytes more for three times the cost. Pages are made afresh for every request, so they
// cannot take the time static files take once.
//
// Only text: the Excel and PDF exports are compressed already (a zip, deflate streams), and
// static files are compressed once at their best and never reach this middleware. The CSV
// export streams: fasthttp compresses the stream as it flows, in its own goroutine beside
// the export's, so it keeps to bounded memory; it gets gzip, not brotli (below).
// Error pages (the error handler runs after this) are sent as they are: they are small.
//
// Compressing pages that reflect the request next to a secret is what BREACH reads secrets
// from: see maskCSRF and docs/SECURITY.md for why nothing secret is exposed.
func compressText() fiber.Handler {
	const brotliLevel = 1 // smaller than level 0 for the same time
	compress := fasthttp.CompressHandlerBrotliLevel(func(*fasthttp.RequestCtx) {},
		brotliLevel, fasthttp.CompressBestSpeed)
	// fasthttp flushes a compressed stream after every 4 kB it reads, and brotli at a low
	// level pays for each flush: the demo's CSV of 100,000 contacts (15.3 MB) came to 3.2 MB
	// in brotli and 2.2 MB in gzip, at level 1 both.
	compressStream := fasthttp.CompressHandlerLevel(func(*fasthttp.RequestCtx) {}, fasthttp.CompressBestSpeed)
	return func(c *fiber.Ctx) error {
		if err := c.Next(); err != nil {
			return err
		}
		if !bytes.HasPrefix(c.Response().Header.ContentType(), []byte("text/")) {
			return nil
		}
		// Said of every text answer, compressed or not (fasthttp leaves bodies under 200
		// bytes as they are): the body depends on Accept-Encoding.
		c.Vary(fiber.HeaderAcceptEncoding)
		if c.Response().IsBodyStream() {
			compressStream(c.Context())
		} else {
			compress(c.Context())
		}
		return nil
	}
}
