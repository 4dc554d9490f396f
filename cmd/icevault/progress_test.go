package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/icevault/icevault/internal/backup"
	"github.com/icevault/icevault/internal/scan"
)

// testClock is the progress line's injected time.
type testClock struct{ t time.Time }

func (c *testClock) now() time.Time          { return c.t }
func (c *testClock) advance(d time.Duration) { c.t = c.t.Add(d) }

// newTestProgress is a progress writing to buffers, on a fake clock, for a
// terminal cols wide.
func newTestProgress(jsonOut, live bool, cols int) (*progress, *testClock, *bytes.Buffer, *bytes.Buffer) {
	var out, errb bytes.Buffer
	a := &app{json: jsonOut, stdout: &out, stderr: &errb}
	clk := &testClock{t: time.Date(2026, 12, 3, 12, 0, 0, 0, time.UTC)}
	p := newProgress(a, live)
	p.now, p.start, p.cols = clk.now, clk.t, func() int { return cols }
	return p, clk, &out, &errb
}

// screen plays terminal output the way a terminal shows it: "\r" goes
// back to the start of the row, "\n" to a new row, anything else
// overwrites the cell under the cursor (two, for a wide character). It
// returns the rows, trailing spaces trimmed, and fails if a row is wider
// than cols (it would have wrapped, and "\r" could no longer take it back).
func screen(t *testing.T, s string, cols int) []string {
	t.Helper()
	rows := [][]rune{nil}
	col := 0
	for _, r := range s {
		row := &rows[len(rows)-1]
		switch r {
		case '\r':
			col = 0
		case '\n':
			rows = append(rows, nil)
			col = 0
		default:
			w := cellWidth(r)
			for len(*row) < col+w {
				*row = append(*row, ' ')
			}
			(*row)[col] = r
			for i := 1; i < w; i++ {
				(*row)[col+i] = 0 // the right half of a wide character
			}
			col += w
			if col >= cols {
				t.Errorf("output reaches column %d of a %d-column terminal: %q", col, cols, string(*row))
			}
		}
	}
	out := make([]string, len(rows))
	for i, r := range rows {
		out[i] = strings.TrimRight(strings.ReplaceAll(string(r), "\x00", ""), " ")
	}
	return out
}

func progressEv(files, done, uploaded, packs int64) backup.Event {
	return backup.Event{Kind: backup.EventProgress, Progress: &backup.Progress{Files: files, BytesDone: done, BytesUploaded: uploaded, Packs: packs}}
}

// TestProgressLiveLine drives the status line with synthetic events: the
// percent, files, bytes, rate and ETA it shows, the current path shortened
// to the terminal's width keeping the file's name, a warning printed on a
// line of its own, and nothing left on the screen at stop.
func TestProgressLiveLine(t *testing.T) {
	const cols = 120
	p, clk, out, errb := newTestProgress(false, true, cols)
	p.setTotals(10, 100<<20)
	dir := "/home/someone/" + strings.Repeat("a long folder name/", 8)
	p.event(backup.Event{Kind: backup.EventStart, Snapshot: "s"})
	p.event(backup.Event{Kind: backup.EventFile, Path: dir + "final-name.txt", Size: 5, Changed: true})

	clk.advance(10 * time.Second)
	p.event(progressEv(3, 50<<20, 20<<20, 2))
	rows := screen(t, errb.String(), cols)
	line := rows[len(rows)-1]
	for _, want := range []string{" 50% 3/10 files, 50.0 MiB of 100.0 MiB", ", 5.0 MiB/s", ", ETA 10s", " | 2 packs up (20.0 MiB)", " | …", "/final-name.txt"} {
		if !strings.Contains(line, want) {
			t.Errorf("line %q lacks %q", line, want)
		}
	}
	if !strings.HasSuffix(line, "folder name/final-name.txt") || strings.Contains(line, "/home/someone") {
		t.Errorf("line %q: the path should keep its end and lose its start", line)
	}
	if n := columns(line); n != cols-1 {
		t.Errorf("line is %d columns, want the terminal's %d less one: %q", n, cols, line)
	}
	if len(rows) != 1 {
		t.Errorf("live line spans %d rows: %q", len(rows), rows)
	}

	// The next draw replaces the line in place, at the new rate.
	clk.advance(10 * time.Second)
	p.event(progressEv(8, 80<<20, 60<<20, 5))
	rows = screen(t, errb.String(), cols)
	line = rows[len(rows)-1]
	if len(rows) != 1 || !strings.HasPrefix(line, " 80% 8/10 files, 80.0 MiB of 100.0 MiB, 4.0 MiB/s, ETA 5s | 5 packs up (60.0 MiB)") {
		t.Errorf("after the second draw: %q", rows)
	}

	// A warning takes the line's place, on its own row; a vanished file
	// is only a note, shown with -v.
	p.event(backup.Event{Kind: backup.EventNotice, Notice: &scan.Notice{Path: "docs/x", Kind: scan.PermissionDenied, Err: errors.New("open: permission denied")}})
	p.event(backup.Event{Kind: backup.EventNotice, Notice: &scan.Notice{Path: "docs/gone", Kind: scan.Vanished}})
	rows = screen(t, errb.String(), cols)
	if len(rows) != 2 || rows[0] != "warning: docs/x: permission denied: open: permission denied" || rows[1] != "" {
		t.Errorf("after a warning: %q", rows)
	}
	clk.advance(5 * time.Second)
	p.event(progressEv(10, 100<<20, 90<<20, 6))
	rows = screen(t, errb.String(), cols)
	if len(rows) != 2 || !strings.HasPrefix(rows[1], "100% 10/10 files") || strings.Contains(rows[1], "ETA") {
		t.Errorf("after the last draw: %q", rows)
	}

	p.stop()
	rows = screen(t, errb.String(), cols)
	if len(rows) != 2 || rows[1] != "" || !strings.HasSuffix(errb.String(), "\r") {
		t.Errorf("after stop the screen shows %q; want the status line gone", rows)
	}
	if out.Len() != 0 {
		t.Errorf("the live line wrote to stdout: %q", out)
	}
}

// TestProgressLineFits: whatever the terminal's width and the path, the
// line stays on one row: the path gives way first (and is not shown in
// less than 10 columns), then the counters; a path's control characters
// and invalid bytes cannot reach the terminal; wide characters count as
// two columns.
func TestProgressLineFits(t *testing.T) {
	for _, tc := range []struct {
		name, path string
		cols       int
		want       []string // substrings of the line
		not        []string
	}{
		{"short path fits whole", "/home/x/a.txt", 120, []string{"| /home/x/a.txt"}, []string{"…"}},
		{"narrow: no room for the path", "/home/x/a.txt", 90, []string{"packs up"}, []string{"/home", "| …"}},
		{"very narrow: counters cut", "/home/x/a.txt", 20, []string{"…"}, []string{"/home"}},
		{"control characters and invalid bytes", "/tmp/evil\n\x1b[2Jname\xff.txt", 120,
			[]string{"| /tmp/evil??[2Jname?.txt"}, []string{"\n", "\x1b"}},
		{"wide characters", "/home/x/" + strings.Repeat("写真", 40) + "/夏.jpg", 120, []string{"夏.jpg", "| …"}, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p, clk, _, errb := newTestProgress(false, true, tc.cols)
			p.setTotals(1000, 5<<30)
			p.event(backup.Event{Kind: backup.EventFile, Path: tc.path})
			clk.advance(3 * time.Second)
			p.event(progressEv(17, 300<<20, 100<<20, 1))
			rows := screen(t, errb.String(), tc.cols)
			line := rows[len(rows)-1]
			if len(rows) != 1 || columns(line) > tc.cols-1 {
				t.Fatalf("%d-column line %q on a %d-column terminal", columns(line), line, tc.cols)
			}
			for _, w := range tc.want {
				if !strings.Contains(line, w) {
					t.Errorf("line %q lacks %q", line, w)
				}
			}
			for _, w := range tc.not {
				if strings.Contains(errb.String(), w) {
					t.Errorf("output %q has %q", errb.String(), w)
				}
			}
			p.stop()
			if rows := screen(t, errb.String(), tc.cols); rows[len(rows)-1] != "" {
				t.Errorf("after stop: %q", rows)
			}
		})
	}
}

// TestProgressLineWithoutTotals: before the estimate is in, the line shows
// counts and the rate, but no percent and no ETA; in the first second, no
// rate either.
func TestProgressLineWithoutTotals(t *testing.T) {
	p, clk, _, errb := newTestProgress(false, true, 80)
	clk.advance(500 * time.Millisecond)
	p.event(progressEv(4, 3<<20, 0, 0))
	rows := screen(t, errb.String(), 80)
	if got := rows[len(rows)-1]; got != "4 files, 3.0 MiB | 0 packs up (0 B)" {
		t.Errorf("in the first second: %q", got)
	}
	clk.advance(1500 * time.Millisecond)
	p.event(progressEv(9, 6<<20, 1<<20, 1))
	rows = screen(t, errb.String(), 80)
	if got := rows[len(rows)-1]; got != "9 files, 6.0 MiB, 3.0 MiB/s | 1 packs up (1.0 MiB)" {
		t.Errorf("after two seconds: %q", got)
	}
}

// TestProgressNotATerminal: with stderr not a terminal (and no --json),
// nothing but warnings and notes is written: no status line, no carriage
// returns.
func TestProgressNotATerminal(t *testing.T) {
	p, clk, out, errb := newTestProgress(false, false, 80)
	p.setTotals(2, 100)
	p.event(backup.Event{Kind: backup.EventFile, Path: "/a"})
	clk.advance(2 * time.Second)
	p.event(progressEv(1, 50, 0, 0))
	p.event(backup.Event{Kind: backup.EventNotice, Notice: &scan.Notice{Path: "fifo", Kind: scan.SkippedSpecial}})
	p.stop()
	if errb.String() != "note: fifo: skipped special file\n" || out.Len() != 0 {
		t.Errorf("stderr %q, stdout %q", errb, out)
	}
}

// TestProgressJSON: with --json, notices, confirmed packs and progress (at
// most once a second) are JSON lines on stdout; file events are not; the
// terminal gets nothing.
func TestProgressJSON(t *testing.T) {
	p, clk, out, errb := newTestProgress(true, false, 80)
	p.setTotals(7, 7000)
	p.event(backup.Event{Kind: backup.EventStart, Snapshot: "s"})
	p.event(backup.Event{Kind: backup.EventFile, Path: "/src/a", Size: 10, Changed: true})
	p.event(backup.Event{Kind: backup.EventNotice, Notice: &scan.Notice{Path: "x/y", Kind: scan.ReadError, Err: errors.New("changed while being read twice")}})
	p.event(backup.Event{Kind: backup.EventNotice, Notice: &scan.Notice{Path: "x/gone", Kind: scan.Vanished}})
	p.event(backup.Event{Kind: backup.EventUploaded, Pack: "icevault/data/ab/cd", Size: 1234, Resumed: true})
	p.event(progressEv(1, 100, 50, 1))
	clk.advance(500 * time.Millisecond)
	p.event(progressEv(2, 200, 50, 1)) // too soon: dropped
	clk.advance(600 * time.Millisecond)
	p.event(progressEv(3, 300, 1284, 2))
	p.event(backup.Event{Kind: backup.EventDone, Summary: &backup.Summary{}})
	p.stop()

	if errb.Len() != 0 {
		t.Errorf("--json wrote to stderr: %q", errb)
	}
	want := []map[string]any{
		{"event": "notice", "path": "x/y", "kind": "read error", "warning": true, "error": "changed while being read twice"},
		{"event": "notice", "path": "x/gone", "kind": "vanished", "warning": false, "error": ""},
		{"event": "uploaded", "key": "icevault/data/ab/cd", "bytes": 1234.0, "resumed": true},
		{"event": "progress", "files": 1.0, "bytes_done": 100.0, "bytes_uploaded": 50.0, "packs": 1.0, "total_files": 7.0, "total_bytes": 7000.0},
		{"event": "progress", "files": 3.0, "bytes_done": 300.0, "bytes_uploaded": 1284.0, "packs": 2.0, "total_files": 7.0, "total_bytes": 7000.0},
	}
	lines := strings.Split(strings.TrimSuffix(out.String(), "\n"), "\n")
	if len(lines) != len(want) {
		t.Fatalf("%d JSON lines, want %d:\n%s", len(lines), len(want), out)
	}
	for i, l := range lines {
		var got map[string]any
		if err := json.Unmarshal([]byte(l), &got); err != nil {
			t.Fatalf("line %d is not JSON: %q", i, l)
		}
		if len(got) != len(want[i]) {
			t.Errorf("line %d: %v, want %v", i, got, want[i])
		}
		for k, v := range want[i] {
			if got[k] != v {
				t.Errorf("line %d: %s = %v, want %v", i, k, got[k], v)
			}
		}
	}
}
