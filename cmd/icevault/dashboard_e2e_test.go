package main

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/icevault/icevault/internal/clock"
	"github.com/icevault/icevault/internal/cost"
	"github.com/icevault/icevault/internal/dashboard"
	"github.com/icevault/icevault/internal/sim"
	"github.com/icevault/icevault/internal/testenv"
	"github.com/icevault/icevault/internal/testrepo"
)

// browserStep is one line the scenario script (internal/dashboard/e2e/
// scenario.mjs) prints; each step fills some of the fields.
type browserStep struct {
	Step, Error string
	// overview
	State, StateText, CSP string
	Repos                 []struct {
		Name  string
		Cells []string
	}
	// storage
	StoredNow, MonthlyNow string
	Charts                int
	// browse
	Listed []struct {
		Path, Type string
		Cells      []string
	}
	Ticked string
	// quote (files is also the job's "restored / all")
	Files, Packs, Total, ReadyBy, Standard, Bulk string
	Paths                                        []string
	// started, job, done
	Job                                 int64
	URL                                 string
	Pending, Thawing, Ready, Downloaded int
	FilesRestored                       int
	Badge                               string
	Reloaded                            bool
	Problems                            []string
}

// TestDashboardInBrowser is the dashboard end to end, in Debian's headless
// Chromium: back up a folder with the CLI, then in the browser open the
// overview, browse the snapshot down to a file, tick it, get the quote,
// start the restore, and watch the jobs page follow the job through the
// thaw — while this test moves the simulator's clock and runs the steps
// `icevault restore status` and `resume` run — to done; then the restored
// file must equal the original, byte for byte.
func TestDashboardInBrowser(t *testing.T) {
	br := testenv.RequireBrowser(t)
	clk := clock.NewFake(time.Now())
	srv, err := sim.Start(sim.Options{Clock: clk, Buckets: []string{"dash-bucket"}, EnforcePolicy: true})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { srv.Close() })
	dir := cliEnv(t, sim.DefaultAccessKey, sim.DefaultSecretKey)
	src := filepath.Join(dir, "src")
	letter := filepath.Join(src, "docs", "taxes", "letter.txt")
	testrepo.WriteFile(t, letter, []byte("dear archive, please keep this for a long time"))
	testrepo.WriteFile(t, filepath.Join(src, "docs", "taxes", "2026.pdf"), testrepo.Random(300<<10))
	testrepo.WriteFile(t, filepath.Join(src, "photos", "big.raw"), testrepo.Random(2<<20))
	mustRun(t, "init", "--bucket", "dash-bucket", "--region", "us-east-1", "--endpoint", srv.URL, "--source", src, "--pack-size-mib", "8")
	mustRun(t, "backup")

	a := &app{stdin: strings.NewReader(""), stdout: io.Discard, stderr: io.Discard}
	backend := newDashboardBackend(a, nil)
	target := filepath.Join(dir, "restored")
	web := httptest.NewServer(dashboard.New(backend, dashboard.Options{Refresh: 300 * time.Millisecond, DefaultTarget: target}))
	t.Cleanup(web.Close)

	// What the quote must say: the backend's own numbers for this request.
	want, err := backend.Quote(t.Context(), "default", dashboard.RestoreRequest{Snapshot: "latest", Paths: []string{letter}, Tier: "standard", Days: 2, Target: target})
	if err != nil {
		t.Fatal(err)
	}
	if want.Files != 1 || want.Packs != 1 {
		t.Fatalf("backend quote for one small file: %+v", want)
	}

	shots := os.Getenv("ICEVAULT_E2E_SCREENSHOTS") // a folder, to look at the pages
	scenario, _ := json.Marshal(map[string]any{"file": letter, "tier": "standard", "days": 2, "target": target,
		"timeoutMs": 60000, "screenshots": shots})
	cmd := exec.CommandContext(t.Context(), br.Node, "scenario.mjs")
	cmd.Dir = br.Dir
	cmd.Env = append(os.Environ(), "ICEVAULT_URL="+web.URL, "ICEVAULT_SCENARIO="+string(scenario))
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })

	steps := map[string]browserStep{}
	var jobStates []string
	sc := bufio.NewScanner(out)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		var s browserStep
		if err := json.Unmarshal(sc.Bytes(), &s); err != nil {
			t.Fatalf("the scenario printed %q: %v", sc.Text(), err)
		}
		t.Logf("browser: %s", sc.Text())
		if s.Step == "error" {
			t.Fatalf("in the browser: %s\nstderr: %s", s.Error, stderr.String())
		}
		steps[s.Step] = s
		if s.Step != "job" {
			continue
		}
		// Drive the job as the agent will: the thaw finishes on the
		// simulator's clock, a poll notices, a step downloads and writes.
		jobStates = append(jobStates, fmt.Sprintf("%s:p%d/t%d/r%d/d%d/f%d", s.Badge, s.Pending, s.Thawing, s.Ready, s.Downloaded, s.FilesRestored))
		switch {
		case s.Thawing > 0:
			clk.Advance(13 * time.Hour)
			mustRun(t, "restore", "status", fmt.Sprint(s.Job))
		case s.Ready > 0:
			mustRun(t, "restore", "resume", fmt.Sprint(s.Job))
		}
	}
	if err := cmd.Wait(); err != nil {
		t.Fatalf("scenario: %v\nstderr: %s", err, stderr.String())
	}

	ov := steps["overview"]
	if ov.State != "idle" || ov.CSP != dashboard.CSP || len(ov.Repos) != 1 || ov.Repos[0].Name != "default" ||
		!strings.Contains(strings.Join(ov.Repos[0].Cells, " "), "3 files") {
		t.Errorf("overview: %+v", ov)
	}
	usage, err := backend.Usage(t.Context(), "default")
	if err != nil {
		t.Fatal(err)
	}
	if st := steps["storage"]; len(usage.Points) != 2 || st.StoredNow != bytesize(usage.Points[1].Bytes) || st.Charts != 2 {
		t.Errorf("storage page %+v; the backend's %+v", st, usage)
	}
	browse := steps["browse"]
	if len(browse.Listed) != 2 || browse.Listed[0].Path != filepath.Join(src, "docs", "taxes", "2026.pdf") ||
		browse.Listed[0].Cells[1] != "300.0 KiB" || browse.Ticked != "1 item ticked" {
		t.Errorf("the folder as the browser showed it: %+v", browse)
	}
	q := steps["quote"]
	std := want.Tiers[0]
	dollars := func(v float64) string {
		if v > 0 && v < 0.00005 {
			return "< $0.0001"
		}
		return cost.Dollars(v)
	}
	if q.Files != "1 file, 46 B" || q.Packs != fmt.Sprintf("1 pack, %s", bytesize(want.PackBytes)) ||
		q.Total != dollars(std.Total) || q.Standard != dollars(std.Total) || q.Bulk != dollars(want.Tiers[1].Total) ||
		len(q.Paths) != 1 || q.Paths[0] != letter || q.ReadyBy == "" {
		t.Errorf("quote in the browser %+v; the backend's %+v", q, want)
	}
	started := steps["started"]
	if started.Job != 1 || !strings.HasPrefix(started.URL, "/jobs?") {
		t.Errorf("started: %+v", started)
	}
	done := steps["done"]
	if done.Job != 1 || done.Reloaded || len(done.Problems) > 0 {
		t.Errorf("done: %+v", done)
	}
	// The page followed the job through its states, by itself.
	if got := strings.Join(jobStates, " "); !strings.HasPrefix(got, "thawing:p0/t1/r0/d0/f0 ") || !strings.Contains(got, "downloading:p0/t0/r1/d0/f0") ||
		!strings.HasSuffix(got, "done:p0/t0/r0/d1/f1") {
		t.Errorf("job states seen in the browser: %s", got)
	}
	restored, err := os.ReadFile(filepath.Join(target, letter))
	if err != nil {
		t.Fatal(err)
	}
	original, _ := os.ReadFile(letter)
	if !bytes.Equal(restored, original) {
		t.Fatalf("restored %q, backed up %q", restored, original)
	}
}
