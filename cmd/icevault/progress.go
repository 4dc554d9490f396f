package main

import (
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/icevault/icevault/internal/backup"
	"github.com/icevault/icevault/internal/scan"
)

// progress renders backup events: a live status line on a terminal, JSON
// lines with --json, warnings always.
type progress struct {
	a    *app
	live bool

	mu       sync.Mutex
	files    int64
	bytes    int64
	uploaded int64
	packs    int64
	current  string
	start    time.Time
	last     time.Time
	width    int
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
	return &progress{a: a, live: live, start: time.Now()}
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
			if time.Since(p.last) >= time.Second {
				p.last = time.Now()
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

func (p *progress) draw() {
	elapsed := time.Since(p.start).Seconds()
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
	if room := 110 - b.Len(); room > 10 && p.current != "" {
		cur := p.current
		if len(cur) > room {
			cur = "…" + cur[len(cur)-room+1:]
		}
		b.WriteString(" | " + cur)
	}
	p.clear()
	fmt.Fprint(p.a.stderr, b.String())
	p.width = len(b.String())
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
