package main

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/icevault/icevault/internal/clock"
	"github.com/icevault/icevault/internal/restore"
	"github.com/icevault/icevault/internal/sim"
	"github.com/icevault/icevault/internal/testrepo"
)

// cliSim starts the simulator on clk and points a fresh CLI environment at
// it; it returns the simulator and the environment's folder.
func cliSim(t *testing.T, clk clock.Clock) (*sim.Running, string) {
	t.Helper()
	srv := startSim(t, sim.Options{Clock: clk, Buckets: []string{"cli-bucket"}, EnforcePolicy: true})
	dir := cliEnv(t, sim.DefaultAccessKey, sim.DefaultSecretKey)
	t.Setenv(timeScaleEnv, "")
	return srv, dir
}

// scaledSim is cliSim on a clock running factor times faster than the
// wall clock, shared by the simulator and (through ICEVAULT_TIME_SCALE)
// the CLI: --wait goes through a real thaw in seconds.
func scaledSim(t *testing.T, factor float64) (*sim.Running, *clock.Scaled, string) {
	t.Helper()
	clk := clock.NewScaled(factor)
	srv, dir := cliSim(t, clk)
	t.Setenv(timeScaleEnv, fmt.Sprint(factor))
	return srv, clk, dir
}

func initCLIRepo(t *testing.T, srv *sim.Running, src string) {
	t.Helper()
	mustRun(t, "init", "--bucket", "cli-bucket", "--region", "us-east-1", "--endpoint", srv.URL, "--source", src, "--pack-size-mib", "8")
}

// ops counts the simulator's requests of op whose key passes keep.
func ops(srv *sim.Running, op string, keep func(key string) bool) int {
	n := 0
	for _, r := range srv.Requests() {
		if r.Op == op && (keep == nil || keep(r.Key)) {
			n++
		}
	}
	return n
}

// partialFixture: folder a (one big file) backed up first, folder b (25
// small files) second, so each has packs of its own. Job 1 restores a;
// job 2, started six hours later, everything. Seven hours after that, a's
// packs have thawed (13 h) and b's have not (7 h): job 2 is half done.
type partialFixture struct {
	srv              *sim.Running
	clk              *clock.Fake
	src, t1, t2      string
	aPacks, bPacks   map[string]bool
	bigFile, bFolder string
}

func newPartial(t *testing.T) *partialFixture {
	t.Helper()
	clk := clock.NewFake(time.Now())
	srv, dir := cliSim(t, clk)
	f := &partialFixture{srv: srv, clk: clk, src: filepath.Join(dir, "src"), t1: filepath.Join(dir, "r1"), t2: filepath.Join(dir, "r2"),
		aPacks: map[string]bool{}, bPacks: map[string]bool{}}
	f.bigFile, f.bFolder = filepath.Join(f.src, "a", "one.raw"), filepath.Join(f.src, "b")
	testrepo.WriteFile(t, f.bigFile, testrepo.Random(3<<20))
	initCLIRepo(t, srv, f.src)
	mustRun(t, "backup")
	dataKeys := func(into map[string]bool, skip map[string]bool) {
		for _, r := range srv.Requests() {
			if r.Op == "PutObject" && strings.Contains(r.Key, "/data/") && !skip[r.Key] {
				into[r.Key] = true
			}
		}
	}
	dataKeys(f.aPacks, nil)
	for i := range 25 {
		testrepo.WriteFile(t, filepath.Join(f.bFolder, fmt.Sprintf("f%02d.txt", i)), testrepo.Random(1000+i))
	}
	mustRun(t, "backup")
	dataKeys(f.bPacks, f.aPacks)
	if len(f.aPacks) == 0 || len(f.bPacks) == 0 {
		t.Fatalf("packs: a %v, b %v", f.aPacks, f.bPacks)
	}

	mustRun(t, "restore", "latest", filepath.Join(f.src, "a"), "--to", f.t1, "--yes", "--tier", "standard")
	clk.Advance(6 * time.Hour)
	mustRun(t, "restore", "latest", "--to", f.t2, "--yes", "--tier", "standard")
	clk.Advance(7 * time.Hour)
	return f
}

// TestCLIRestoreStatusBytesAndAllJobs: with two active jobs and no JOB,
// `restore status` shows both, one line each, with bytes at each stage,
// in text and in --json.
func TestCLIRestoreStatusBytesAndAllJobs(t *testing.T) {
	f := newPartial(t)
	out := mustRun(t, "restore", "status")
	lines := strings.Split(strings.TrimSpace(out), "\n")
	var job1, job2 string
	for _, l := range lines {
		switch {
		case strings.HasPrefix(l, "Restore job 1:"):
			job1 = l
		case strings.HasPrefix(l, "Restore job 2:"):
			job2 = l
		}
	}
	// Job 1's packs have thawed; job 2 waits for b's too.
	if !strings.Contains(job1, "0 packs thawing (0 B)") || !strings.Contains(job1, fmt.Sprintf("%d ready (", len(f.aPacks))) ||
		!strings.Contains(job1, "MiB)") {
		t.Fatalf("job 1's line: %q\n%s", job1, out)
	}
	if !strings.Contains(job2, fmt.Sprintf("%d packs thawing (", len(f.bPacks))) || !strings.Contains(job2, "0 downloaded (0 B)") {
		t.Fatalf("job 2's line: %q\n%s", job2, out)
	}

	byJob := map[float64]map[string]any{}
	for _, ev := range jsonLines(t, mustRun(t, "restore", "status", "--json")) {
		if ev["event"] == "status" {
			byJob[ev["job"].(float64)] = ev
		}
	}
	if len(byJob) != 2 {
		t.Fatalf("--json status of %d jobs, want 2: %v", len(byJob), byJob)
	}
	if j1 := byJob[1]; j1["bytes_ready"].(float64) < 3<<20 || j1["bytes_thawing"].(float64) != 0 || j1["bytes_downloaded"].(float64) != 0 {
		t.Fatalf("job 1: %v", j1)
	}
	if j2 := byJob[2]; j2["bytes_thawing"].(float64) <= 0 || j2["bytes_ready"].(float64) < 3<<20 || j2["kind"] != "restore" {
		t.Fatalf("job 2: %v", j2)
	}

	// Once job 1 has downloaded, its bytes show as downloaded... until
	// it is done and its downloads are gone.
	mustRun(t, "restore", "resume", "1")
	if out := mustRun(t, "restore", "status", "1"); !strings.Contains(out, "Restore job 1 done") {
		t.Fatalf("status of a finished job: %s", out)
	}
	if out := mustRun(t, "restore", "status"); strings.Contains(out, "Restore job 1") || !strings.Contains(out, "Restore job 2:") {
		t.Fatalf("status lists the finished job among the active ones: %s", out)
	}
}

// TestCLIPartialRestoreSaysWhatWaits: a resume that ends with files still
// waiting names them (the first 20 and a count; all with -v or --json) and
// the packs they wait for, with where each pack stands.
func TestCLIPartialRestoreSaysWhatWaits(t *testing.T) {
	f := newPartial(t)
	out, stderr, code := runCLI(t, "restore", "resume", "2")
	if code != exitNotReady {
		t.Fatalf("partial resume: exit %d, want %d\n%s%s", code, exitNotReady, out, stderr)
	}
	if !strings.Contains(out, fmt.Sprintf("Not restored yet: 25 files, waiting for %d packs:", len(f.bPacks))) {
		t.Fatalf("partial resume: %s", out)
	}
	for k := range f.bPacks {
		if !strings.Contains(out, k) || !strings.Contains(out, "thawing") {
			t.Fatalf("pack %s (thawing) not named: %s", k, out)
		}
	}
	listed := func(out string) int {
		return strings.Count(out, filepath.Join(f.t2, f.bFolder)+string(filepath.Separator))
	}
	if n := listed(out); n != 20 || !strings.Contains(out, "and 5 more") {
		t.Fatalf("%d waiting files listed, want the first 20 and a count: %s", n, out)
	}
	// What is done is done: a's file is written.
	want, _ := os.ReadFile(f.bigFile)
	if got, err := os.ReadFile(filepath.Join(f.t2, f.bigFile)); err != nil || !bytes.Equal(got, want) {
		t.Fatalf("a's file in the partial restore: %v", err)
	}
	if _, err := os.Stat(filepath.Join(f.t2, f.bFolder, "f00.txt")); !os.IsNotExist(err) {
		t.Fatalf("a waiting file exists: %v", err)
	}

	out, _, _ = runCLI(t, "restore", "resume", "2", "-v")
	if n := listed(out); n != 25 || strings.Contains(out, "more") {
		t.Fatalf("-v lists %d waiting files, want all 25: %s", n, out)
	}
	out, _, _ = runCLI(t, "restore", "resume", "2", "--json")
	var waiting map[string]any
	for _, ev := range jsonLines(t, out) {
		if ev["event"] == "waiting" {
			waiting = ev
		}
	}
	if waiting == nil || waiting["waiting_files"].(float64) != 25 || len(waiting["files"].([]any)) != 25 {
		t.Fatalf("--json waiting: %v", waiting)
	}
	for _, w := range waiting["files"].([]any) {
		w := w.(map[string]any)
		for _, k := range w["packs"].([]any) {
			if !f.bPacks[k.(string)] {
				t.Fatalf("%v waits for %v, which is not one of b's packs", w["path"], k)
			}
		}
	}
	for _, p := range waiting["packs"].([]any) {
		if p := p.(map[string]any); p["state"] != "thawing" || !f.bPacks[p["key"].(string)] {
			t.Fatalf("waiting for pack %v", p)
		}
	}

	f.clk.Advance(6 * time.Hour)
	if out := mustRun(t, "restore", "resume", "2"); !strings.Contains(out, "done") || strings.Contains(out, "Not restored yet") {
		t.Fatalf("resume after the rest thawed: %s", out)
	}
	testrepo.SameTree(t, f.src, filepath.Join(f.t2, f.src))
}

// TestCLIRestoreCancel: cancelling a half-done job keeps the files it
// wrote, removes its downloads, and sends no request for it any more.
func TestCLIRestoreCancel(t *testing.T) {
	f := newPartial(t)
	mustRun(t, "restore", "resume", "1")
	runCLI(t, "restore", "resume", "2") // partial: a written, b waiting
	spool := filepath.Join(os.Getenv("XDG_CONFIG_HOME"), "icevault", "repos", "default", "spool")
	if ents, err := os.ReadDir(restore.JobDir(spool, 2)); err != nil || len(ents) == 0 {
		t.Fatalf("job 2 has no downloads to remove (%v): is the spool at %s?", err, spool)
	}
	want, _ := os.ReadFile(f.bigFile)

	if out := mustRun(t, "restore", "cancel", "2"); !strings.Contains(out, "cancelled") {
		t.Fatalf("cancel: %s", out)
	}
	before := f.srv.Counts()
	if _, err := os.Stat(restore.JobDir(spool, 2)); !os.IsNotExist(err) {
		t.Fatalf("the cancelled job's downloads are still there: %v", err)
	}
	if got, err := os.ReadFile(filepath.Join(f.t2, f.bigFile)); err != nil || !bytes.Equal(got, want) {
		t.Fatalf("a file the cancelled job wrote is gone or changed: %v", err)
	}
	var state any
	for _, j := range jsonLines(t, mustRun(t, "restore", "list", "--json")) {
		if j["ID"].(float64) == 2 {
			state = j["State"]
		}
	}
	if state != "cancelled" {
		t.Fatalf("job 2 is %v after cancel", state)
	}

	// The thaw it asked for finishes; nobody follows it.
	f.clk.Advance(48 * time.Hour)
	if _, stderr, code := runCLI(t, "restore", "resume", "2"); code != exitUsage || !strings.Contains(stderr, "cancelled") {
		t.Fatalf("resume of a cancelled job: exit %d, %s", code, stderr)
	}
	if _, _, code := runCLI(t, "restore", "status"); code != exitUsage {
		t.Fatalf("status with no active job: exit %d", code)
	}
	if _, _, code := runCLI(t, "restore", "resume"); code != exitUsage {
		t.Fatalf("resume with no active job: exit %d", code)
	}
	for op, n := range f.srv.Counts() {
		if n != before[op] {
			t.Errorf("%d %s sent after the job was cancelled", n-before[op], op)
		}
	}
	if _, err := os.Stat(filepath.Join(f.t2, f.bFolder)); !os.IsNotExist(err) {
		t.Fatalf("the cancelled job wrote b after all: %v", err)
	}
}

// TestCLIOverwrite: without --overwrite an existing file is kept and
// named, and nothing is requested; with it the file is replaced.
func TestCLIOverwrite(t *testing.T) {
	clk := clock.NewFake(time.Now())
	srv, dir := cliSim(t, clk)
	src := filepath.Join(dir, "src")
	testrepo.WriteFile(t, filepath.Join(src, "docs", "letter.txt"), []byte("dear archive"))
	testrepo.WriteFile(t, filepath.Join(src, "docs", "other.txt"), []byte("another"))
	initCLIRepo(t, srv, src)
	mustRun(t, "backup")
	target := filepath.Join(dir, "r")
	mine := filepath.Join(target, src, "docs", "letter.txt")
	testrepo.WriteFile(t, mine, []byte("mine, not from the backup"))

	out, stderr, code := runCLI(t, "restore", "latest", filepath.Join(src, "docs"), "--to", target, "--yes", "--tier", "standard")
	if code == 0 || !strings.Contains(stderr, mine) || !strings.Contains(stderr, "--overwrite") {
		t.Fatalf("restore over an existing file: exit %d\n%s%s", code, out, stderr)
	}
	if n := ops(srv, "RestoreObject", nil); n != 0 {
		t.Fatalf("a refused restore requested %d thaws", n)
	}
	if b, _ := os.ReadFile(mine); string(b) != "mine, not from the backup" {
		t.Fatal("the existing file was changed")
	}

	mustRun(t, "restore", "latest", filepath.Join(src, "docs"), "--to", target, "--yes", "--tier", "standard", "--overwrite")
	clk.Advance(13 * time.Hour)
	if out := mustRun(t, "restore", "resume"); !strings.Contains(out, "done") {
		t.Fatalf("resume: %s", out)
	}
	testrepo.SameTree(t, filepath.Join(src, "docs"), filepath.Join(target, src, "docs"))
}

// thawedFirst checks, from the simulator's log on its own clock, that every
// object downloaded was asked for at least thaw earlier: the wait really
// went through the thaw.
func thawedFirst(t *testing.T, srv *sim.Running, thaw time.Duration) {
	t.Helper()
	first := map[string]time.Time{}
	gets := 0
	for _, r := range srv.Requests() {
		switch {
		case r.Op == "RestoreObject" && first[r.Key].IsZero():
			first[r.Key] = r.Time
		case r.Op == "GetObject" && r.Status/100 == 2:
			gets++
			if first[r.Key].IsZero() || r.Time.Sub(first[r.Key]) < thaw {
				t.Errorf("%s downloaded %v after its thaw was requested, want at least %v", r.Key, r.Time.Sub(first[r.Key]), thaw)
			}
		}
	}
	if gets == 0 {
		t.Error("nothing was downloaded")
	}
}

// TestCLIRestoreWaitThroughThaw: `restore --wait` and `restore resume
// --wait` keep going through a real 12-hour thaw — on a clock 7200 times
// faster, shared by the simulator and the CLI (ICEVAULT_TIME_SCALE).
func TestCLIRestoreWaitThroughThaw(t *testing.T) {
	srv, _, dir := scaledSim(t, 7200)
	src := filepath.Join(dir, "src")
	testrepo.WriteFile(t, filepath.Join(src, "docs", "letter.txt"), []byte("dear archive"))
	testrepo.WriteFile(t, filepath.Join(src, "photos", "big.raw"), testrepo.Random(2<<20))
	initCLIRepo(t, srv, src)
	mustRun(t, "backup")

	target := filepath.Join(dir, "r1")
	out := mustRun(t, "restore", "latest", "--to", target, "--yes", "--tier", "standard", "--wait")
	if !strings.Contains(out, "thawing") || !strings.Contains(out, "Restore job 1 done") {
		t.Fatalf("restore --wait: %s", out)
	}
	testrepo.SameTree(t, src, filepath.Join(target, src))

	// A folder backed up since, in a pack of its own that nobody thawed.
	testrepo.WriteFile(t, filepath.Join(src, "later", "new.raw"), testrepo.Random(1<<20))
	mustRun(t, "backup")
	target2 := filepath.Join(dir, "r2")
	mustRun(t, "restore", "latest", filepath.Join(src, "later"), "--to", target2, "--yes", "--tier", "standard")
	out = mustRun(t, "restore", "resume", "--wait")
	if !strings.Contains(out, "thawing") || !strings.Contains(out, "Restore job 2 done") {
		t.Fatalf("restore resume --wait: %s", out)
	}
	testrepo.SameTree(t, filepath.Join(src, "later"), filepath.Join(target2, src, "later"))
	thawedFirst(t, srv, 12*time.Hour)
}
