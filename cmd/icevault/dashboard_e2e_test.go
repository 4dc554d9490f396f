package main

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
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
// checkRefusals: the agent's loopback server answers nobody without the
// session, nobody calling it by another name, and no other origin.
func checkRefusals(t *testing.T, base string) {
	t.Helper()
	for _, tc := range []struct {
		name, host, origin string
		want               int
	}{
		{"no session", "", "", http.StatusUnauthorized},
		{"another host name", "evil.example", "", http.StatusMisdirectedRequest},
		{"another origin", "", "http://evil.example", http.StatusForbidden},
	} {
		for _, path := range []string{"/", "/api/v1/status", "/snapshots"} {
			req, _ := http.NewRequest(http.MethodGet, base+path, nil)
			if tc.host != "" {
				req.Host = tc.host
			}
			if tc.origin != "" {
				req.Header.Set("Origin", tc.origin)
			}
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			if resp.StatusCode != tc.want {
				t.Errorf("%s %s: %s, want %d", tc.name, path, resp.Status, tc.want)
			}
		}
	}
	// A start posted from another site with a stolen-looking form: refused
	// before anything runs.
	req, _ := http.NewRequest(http.MethodPost, base+"/restore/start", strings.NewReader("repo=default"))
	req.Header.Set("Origin", "http://evil.example")
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	if resp, err := http.DefaultClient.Do(req); err != nil || resp.StatusCode != http.StatusForbidden {
		t.Errorf("cross-site POST: %v %v", resp.Status, err)
	}
}

func TestDashboardInBrowser(t *testing.T) {
	br := testenv.RequireBrowser(t)
	clk := clock.NewFake(time.Now())
	srv := startSim(t, sim.Options{Clock: clk, Buckets: []string{"dash-bucket"}, EnforcePolicy: true})
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

	// The real agent serves the dashboard behind its guard and follows the
	// restore job by itself, polling every second.
	c, logs := startAgent(t)
	link, err := c.DashboardLink(t.Context(), "/")
	if err != nil {
		t.Fatal(err)
	}
	u, err := url.Parse(link)
	if err != nil {
		t.Fatal(err)
	}
	base := "http://" + u.Host
	checkRefusals(t, base)

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
	// The browser signs in with the one-time link, as from the tray menu.
	cmd.Env = append(os.Environ(), "ICEVAULT_URL="+base, "ICEVAULT_SCENARIO="+string(scenario),
		"ICEVAULT_TOKEN="+u.Query().Get("login"), "ICEVAULT_TOKEN_NAME=login", "ICEVAULT_TOKEN_MODE=query")
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
	thawed := false
	sc := bufio.NewScanner(out)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		var s browserStep
		if err := json.Unmarshal(sc.Bytes(), &s); err != nil {
			t.Fatalf("the scenario printed %q: %v", sc.Text(), err)
		}
		t.Logf("browser: %s", sc.Text())
		if s.Step == "error" {
			t.Fatalf("in the browser: %s\nstderr: %s\nagent: %s", s.Error, stderr.String(), logs)
		}
		steps[s.Step] = s
		if s.Step != "job" {
			continue
		}
		// Deep Archive thaws on the simulator's clock; the agent's next
		// poll notices, downloads and writes, and the page follows.
		jobStates = append(jobStates, fmt.Sprintf("%s:p%d/t%d/r%d/d%d/f%d", s.Badge, s.Pending, s.Thawing, s.Ready, s.Downloaded, s.FilesRestored))
		if s.Thawing > 0 && !thawed {
			thawed = true
			clk.Advance(13 * time.Hour)
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
	// The page followed the job through its states, by itself (the agent
	// downloads and writes in one step, so "downloading" may flash by).
	if got := strings.Join(jobStates, " "); !strings.HasPrefix(got, "thawing:p0/t1/r0/d0/f0 ") || !strings.HasSuffix(got, "done:p0/t0/r0/d1/f1") {
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
