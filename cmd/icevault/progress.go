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
		case backup.EventFile:
			p.files++
			if p.files%1000 == 0 {
				_ = p.a.emitJSON(map[string]any{"event": "progress", "files": p.files, "path": ev.Path})
			}
		}
		return
	}
	switch ev.Kind {
	case backup.EventFile:
		p.files++
		p.bytes += ev.Size
		p.current = ev.Path
	case backup.EventUploaded:
		p.uploaded += ev.Size
		p.packs++
	case backup.EventNotice:
		if ev.Notice.Warning() || ev.Notice.Kind == scan.SkippedSpecial || p.a.verbose > 0 {
			p.clear()
			fmt.Fprintf(p.a.stderr, "%s: %s\n", noticeLabel(*ev.Notice), ev.Notice.Error())
		}
	}
	if p.live && time.Since(p.last) > 200*time.Millisecond {
		p.last = time.Now()
		p.draw()
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
	rate := ""
	if elapsed > 0.5 {
		rate = fmt.Sprintf(" %s/s", bytesize(int64(float64(p.bytes)/elapsed)))
	}
	line := fmt.Sprintf("%d files, %s%s, %d packs (%s) up  %s", p.files, bytesize(p.bytes), rate, p.packs, bytesize(p.uploaded), p.current)
	if len(line) > 100 {
		line = line[:60] + "…" + line[len(line)-39:]
	}
	p.clear()
	fmt.Fprint(p.a.stderr, line)
	p.width = len(line)
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
