package main

import (
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/icevault/icevault/internal/clock"
	"github.com/icevault/icevault/internal/sim"
	"github.com/icevault/icevault/internal/testrepo"
)

// lostMachine backs up src (two folders, in packs of their own), exports
// the kit, and moves to a new machine that has only the AWS credentials
// and the kit. It returns the kit's path, the data pack keys and the
// snapshots as the old machine listed them.
func lostMachine(t *testing.T, srv *sim.Running, dir string) (src, kit string, data map[string]bool, snaps string) {
	t.Helper()
	src = filepath.Join(dir, "src")
	testrepo.WriteFile(t, filepath.Join(src, "docs", "letter.txt"), []byte("dear archive"))
	testrepo.WriteFile(t, filepath.Join(src, "photos", "big.raw"), testrepo.Random(2<<20))
	initCLIRepo(t, srv, src)
	mustRun(t, "backup")
	testrepo.WriteFile(t, filepath.Join(src, "later", "new.raw"), testrepo.Random(1<<20))
	mustRun(t, "backup")
	kit = filepath.Join(dir, "kit.txt")
	mustRun(t, "key", "export", "--out", kit)
	data = map[string]bool{}
	for _, r := range srv.Requests() {
		if r.Op == "PutObject" && strings.Contains(r.Key, "/data/") {
			data[r.Key] = true
		}
	}
	if len(data) < 2 {
		t.Fatalf("data packs: %v", data)
	}
	snaps = mustRun(t, "snapshots", "--json")
	newHome := filepath.Join(dir, "newmachine")
	t.Setenv("HOME", newHome)
	t.Setenv("XDG_CONFIG_HOME", filepath.Join(newHome, ".config"))
	return src, kit, data, snaps
}

// noThawAfter checks that every restore request from the mark on was
// answered 200 (already restored): nothing had to thaw again.
func noThawAfter(t *testing.T, srv *sim.Running, mark int) {
	t.Helper()
	n := 0
	for _, r := range srv.Requests()[mark:] {
		if r.Op == "RestoreObject" {
			n++
			if r.Status != 200 {
				t.Errorf("restore request for %s answered %d: it had to thaw again", r.Key, r.Status)
			}
		}
	}
	if n == 0 {
		t.Error("the restore requested nothing")
	}
}

// TestCLIRecoverAllDataTracked: recover --all-data records the data packs'
// thaw as a job: `restore status` shows it beside the metadata's before the
// rebuild and asks again for copies that expired; `recover resume` moves it
// into the rebuilt catalog; the restore after it needs no further thaw.
func TestCLIRecoverAllDataTracked(t *testing.T) {
	clk := clock.NewFake(time.Now())
	srv, dir := cliSim(t, clk)
	src, kit, data, _ := lostMachine(t, srv, dir)

	out := mustRun(t, "recover", "--kit", kit, "--endpoint", srv.URL, "--yes", "--all-data", "--days", "1")
	if !strings.Contains(out, "data packs") {
		t.Fatalf("recover --all-data: %s", out)
	}
	isData := func(k string) bool { return data[k] }
	if n := ops(srv, "RestoreObject", isData); n != len(data) {
		t.Fatalf("%d data pack thaws requested, want %d", n, len(data))
	}

	out = mustRun(t, "restore", "status")
	if !strings.Contains(out, "Recovery job 1 (catalog metadata):") || !strings.Contains(out, "Thaw job 2 (recover --all-data):") ||
		!strings.Contains(out, "recover resume") {
		t.Fatalf("restore status during a recovery: %s", out)
	}
	var thawing float64
	for _, ev := range jsonLines(t, mustRun(t, "restore", "status", "--json")) {
		if ev["kind"] == "thaw" {
			thawing = ev["bytes_thawing"].(float64)
		}
	}
	if thawing < 3<<20 {
		t.Fatalf("the thaw job's bytes thawing: %v", thawing)
	}

	// Nobody looked for three days: the one-day copies expired, and the
	// next look asks for them again.
	clk.Advance(72 * time.Hour)
	mustRun(t, "restore", "status")
	if n := ops(srv, "RestoreObject", isData); n != 2*len(data) {
		t.Fatalf("%d data pack thaws requested after the copies expired, want %d", n, 2*len(data))
	}
	if _, _, code := runCLI(t, "recover", "resume"); code != exitNotReady {
		t.Fatalf("recover resume while thawing again: exit %d", code)
	}

	clk.Advance(13 * time.Hour)
	out = mustRun(t, "recover", "resume")
	if !strings.Contains(out, "Catalog rebuilt") || !strings.Contains(out, "Every data pack is thawed") {
		t.Fatalf("recover resume: %s", out)
	}
	var thawJob map[string]any
	for _, j := range jsonLines(t, mustRun(t, "restore", "list", "--json")) {
		if j["Kind"] == "recover" {
			thawJob = j
		}
	}
	if thawJob == nil || thawJob["State"] != "done" {
		t.Fatalf("the thaw job in the rebuilt catalog: %v", thawJob)
	}

	mark := len(srv.Requests())
	target := filepath.Join(dir, "restored")
	mustRun(t, "restore", "latest", "--to", target, "--yes", "--tier", "standard")
	if out := mustRun(t, "restore", "resume"); !strings.Contains(out, "done") {
		t.Fatalf("restore right after recover --all-data: %s", out)
	}
	noThawAfter(t, srv, mark)
	testrepo.SameTree(t, src, filepath.Join(target, src))
}

// TestCLIRecoverResumeWait: `recover --all-data`, then `recover resume
// --wait` through the thaw (on a clock 7200 times faster, shared by the
// simulator and the CLI) rebuilds the catalog, and a restore then needs no
// further thaw.
func TestCLIRecoverResumeWait(t *testing.T) {
	srv, _, dir := scaledSim(t, 7200)
	src, kit, _, snaps := lostMachine(t, srv, dir)

	mustRun(t, "recover", "--kit", kit, "--endpoint", srv.URL, "--yes", "--all-data")
	out := mustRun(t, "recover", "resume", "--wait")
	if !strings.Contains(out, "Recovery: 0 of") || !strings.Contains(out, "Catalog rebuilt") || !strings.Contains(out, "Every data pack is thawed") {
		t.Fatalf("recover resume --wait: %s", out)
	}
	if after := mustRun(t, "snapshots", "--json"); after != snaps {
		t.Fatalf("snapshots after recovery:\n%s\nbefore:\n%s", after, snaps)
	}
	thawedFirst(t, srv, 12*time.Hour)

	mark := len(srv.Requests())
	target := filepath.Join(dir, "restored")
	if out := mustRun(t, "restore", "latest", "--to", target, "--yes", "--wait"); !strings.Contains(out, "done") {
		t.Fatalf("restore --wait after recover --all-data: %s", out)
	}
	noThawAfter(t, srv, mark)
	testrepo.SameTree(t, src, filepath.Join(target, src))
}
