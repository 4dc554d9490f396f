package main

import (
	"fmt"
	"os"
	"strings"
	"sync"
	"time"
	"unicode"

	"golang.org/x/term"

	"github.com/icevault/icevault/internal/backup"
	"github.com/icevault/icevault/internal/scan"
)

// progress renders backup events: a live status line on a terminal, JSON
// lines with --json, warnings always.
type progress struct {
	a    *app
	live bool
	// now and cols are time.Now and the terminal's width, replaced by
	// tests (the line's rate, ETA and --json pacing depend on the time;
	// its length on the width).
	now  func() time.Time
	cols func() int

	mu       sync.Mutex
	files    int64
	bytes    int64
	uploaded int64
	packs    int64
	current  string
	start    time.Time
	last     time.Time
	width    int // columns of the line on screen, for clear
	// totals from backup.Estimate, once it finishes (0 until then)
	totalFiles, totalBytes int64
}

// setTotals records what the whole run will go through, for the ETA.
func (p *progress) setTotals(files, bytes int64) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.totalFiles, p.totalBytes = files, bytes
}

func newProgress(a *app, live bool) *progress {
	return &progress{a: a, live: live, now: time.Now, cols: stderrCols(a), start: time.Now()}
}

// stderrCols asks the terminal for its width at every draw, so the line
// follows a resized window; 80 where it cannot tell.
func stderrCols(a *app) func() int {
	return func() int {
		if f, ok := a.stderr.(*os.File); ok {
			if w, _, err := term.GetSize(int(f.Fd())); err == nil && w > 0 {
				return w
			}
		}
		return 80
	}
}

func (p *progress) event(ev backup.Event) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.a.json {
		switch ev.Kind {
		case backup.EventNotice:
			_ = p.a.emitJSON(map[string]any{"event": "notice", "path": ev.Notice.Path, "kind": ev.Notice.Kind.String(),
				"warning": ev.Notice.Warning(), "error": errString(ev.Notice.Err)})
		case backup.EventUploaded:
			_ = p.a.emitJSON(map[string]any{"event": "uploaded", "key": ev.Pack, "bytes": ev.Size, "resumed": ev.Resumed})
		case backup.EventProgress:
			if now := p.now(); now.Sub(p.last) >= time.Second {
				p.last = now
				_ = p.a.emitJSON(map[string]any{"event": "progress", "files": ev.Progress.Files, "bytes_done": ev.Progress.BytesDone,
					"bytes_uploaded": ev.Progress.BytesUploaded, "packs": ev.Progress.Packs, "total_files": p.totalFiles, "total_bytes": p.totalBytes})
			}
		}
		return
	}
	switch ev.Kind {
	case backup.EventFile:
		p.current = ev.Path
	case backup.EventProgress:
		p.files, p.bytes, p.uploaded, p.packs = ev.Progress.Files, ev.Progress.BytesDone, ev.Progress.BytesUploaded, ev.Progress.Packs
		if p.live {
			p.draw()
		}
	case backup.EventNotice:
		if ev.Notice.Warning() || ev.Notice.Kind == scan.SkippedSpecial || p.a.verbose > 0 {
			p.clear()
			fmt.Fprintf(p.a.stderr, "%s: %s\n", noticeLabel(*ev.Notice), ev.Notice.Error())
		}
	}
}

func noticeLabel(n scan.Notice) string {
	if n.Warning() {
		return "warning"
	}
	return "note"
}

func errString(err error) string {
	if err == nil {
		return ""
	}
	return err.Error()
}

// draw replaces the status line. The line stays within one row of the
// terminal (a wrapped line cannot be taken back with a carriage return):
// the current path gives way first, keeping its end (the file's name), then
// the counters.
func (p *progress) draw() {
	elapsed := p.now().Sub(p.start).Seconds()
	var b strings.Builder
	if p.totalBytes > 0 {
		fmt.Fprintf(&b, "%3.0f%% %d/%d files, %s of %s", min(float64(p.bytes)/float64(p.totalBytes)*100, 100),
			p.files, p.totalFiles, bytesize(p.bytes), bytesize(p.totalBytes))
	} else {
		fmt.Fprintf(&b, "%d files, %s", p.files, bytesize(p.bytes))
	}
	if elapsed > 1 && p.bytes > 0 {
		rate := float64(p.bytes) / elapsed
		fmt.Fprintf(&b, ", %s/s", bytesize(int64(rate)))
		if p.totalBytes > p.bytes {
			fmt.Fprintf(&b, ", ETA %s", time.Duration(float64(p.totalBytes-p.bytes)/rate*float64(time.Second)).Round(time.Second))
		}
	}
	fmt.Fprintf(&b, " | %d packs up (%s)", p.packs, bytesize(p.uploaded))
	// The last column stays free: writing into it leaves some terminals
	// waiting to wrap.
	maxw := max(p.cols()-1, 1)
	line := fitLeft(b.String(), maxw)
	const sep = " | "
	if room := maxw - columns(line) - len(sep); room >= 10 && p.current != "" {
		line += sep + fitRight(printable(p.current), room)
	}
	p.clear()
	fmt.Fprint(p.a.stderr, line)
	p.width = columns(line)
}

// printable replaces what a terminal would act on instead of showing
// (newlines, escapes: a file name may hold any byte but '/' and NUL) and
// bytes that are not UTF-8, so one path cannot move the cursor or break
// the line.
func printable(s string) string {
	return strings.Map(func(r rune) rune {
		if !unicode.IsPrint(r) {
			return '?'
		}
		return r
	}, strings.ToValidUTF8(s, "?"))
}

// cellWidth is how many terminal columns r takes: 0 for combining marks,
// 2 for the wide East Asian scripts and emoji, 1 otherwise (the common
// ranges, not all of Unicode's East Asian Width table).
func cellWidth(r rune) int {
	switch {
	case unicode.Is(unicode.Mn, r) || unicode.Is(unicode.Me, r):
		return 0
	case r >= 0x1100 && r <= 0x115f, r >= 0x2e80 && r <= 0xa4cf && r != 0x303f, r >= 0xac00 && r <= 0xd7a3,
		r >= 0xf900 && r <= 0xfaff, r >= 0xfe30 && r <= 0xfe4f, r >= 0xff00 && r <= 0xff60, r >= 0xffe0 && r <= 0xffe6,
		r >= 0x1f300 && r <= 0x1f64f, r >= 0x1f900 && r <= 0x1f9ff, r >= 0x20000 && r <= 0x3fffd:
		return 2
	}
	return 1
}

// columns is how many terminal columns s takes.
func columns(s string) int {
	n := 0
	for _, r := range s {
		n += cellWidth(r)
	}
	return n
}

// fitRight shortens s to at most n columns, keeping its end.
func fitRight(s string, n int) string {
	if columns(s) <= n {
		return s
	}
	r := []rune(s)
	w, i := 1, len(r) // 1: the "…"
	for i > 0 && w+cellWidth(r[i-1]) <= n {
		i--
		w += cellWidth(r[i])
	}
	return "…" + string(r[i:])
}

// fitLeft shortens s to at most n columns, keeping its start.
func fitLeft(s string, n int) string {
	if columns(s) <= n {
		return s
	}
	r := []rune(s)
	w, i := 1, 0
	for i < len(r) && w+cellWidth(r[i]) <= n {
		w += cellWidth(r[i])
		i++
	}
	return string(r[:i]) + "…"
}

func (p *progress) clear() {
	if p.live && p.width > 0 {
		fmt.Fprint(p.a.stderr, "\r"+strings.Repeat(" ", p.width)+"\r")
		p.width = 0
	}
}

func (p *progress) stop() {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.clear()
}
