package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/icevault/icevault/internal/clock"
	"github.com/icevault/icevault/internal/sim"
	"github.com/icevault/icevault/internal/testenv"
	"github.com/icevault/icevault/internal/testrepo"
)

// cliEnv points icevault at an endpoint through the same files and
// variables a user has: a config dir, an AWS shared credentials profile
// "icevault", and a passphrase-protected key file (no keychain here).
func cliEnv(t *testing.T, accessKey, secretKey string) string {
	t.Helper()
	dir := t.TempDir()
	for k, v := range map[string]string{
		"HOME":                        filepath.Join(dir, "home"),
		"XDG_CONFIG_HOME":             filepath.Join(dir, "home", ".config"),
		"AWS_CONFIG_FILE":             filepath.Join(dir, "aws-config"),
		"AWS_SHARED_CREDENTIALS_FILE": filepath.Join(dir, "aws-credentials"),
		"ICEVAULT_KEYSTORE":           "file",
		"ICEVAULT_PASSPHRASE_FILE":    filepath.Join(dir, "passphrase"),
		"ICEVAULT_CONFIG":             "",
		"AWS_ACCESS_KEY_ID":           "",
		"AWS_SECRET_ACCESS_KEY":       "",
		"AWS_SESSION_TOKEN":           "",
		"AWS_PROFILE":                 "",
		"AWS_CA_BUNDLE":               "",
	} {
		t.Setenv(k, v)
	}
	os.WriteFile(filepath.Join(dir, "aws-config"), nil, 0o600)
	os.WriteFile(filepath.Join(dir, "aws-credentials"), []byte("[icevault]\naws_access_key_id = "+accessKey+"\naws_secret_access_key = "+secretKey+"\n"), 0o600)
	os.WriteFile(filepath.Join(dir, "passphrase"), []byte("a long enough test passphrase\n"), 0o600)
	return dir
}

// startSim runs a simulator until the test ends.
func startSim(t *testing.T, o sim.Options) *sim.Running {
	t.Helper()
	srv, err := sim.Start(o)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { srv.Close() })
	return srv
}

func mustRun(t *testing.T, args ...string) string {
	t.Helper()
	out, stderr, code := runCLI(t, args...)
	if code != 0 {
		t.Fatalf("icevault %s: exit %d\n%s%s", strings.Join(args, " "), code, out, stderr)
	}
	return out
}

func jsonLines(t *testing.T, out string) []map[string]any {
	t.Helper()
	var res []map[string]any
	for _, l := range strings.Split(strings.TrimSpace(out), "\n") {
		if l == "" {
			continue
		}
		var m map[string]any
		if err := json.Unmarshal([]byte(l), &m); err != nil {
			t.Fatalf("not JSON: %q", l)
		}
		res = append(res, m)
	}
	return res
}

func lastSummary(t *testing.T, out string) map[string]any {
	t.Helper()
	lines := jsonLines(t, out)
	s, _ := lines[len(lines)-1]["summary"].(map[string]any)
	if s == nil {
		t.Fatalf("no summary in %q", out)
	}
	return s
}

// cliRoundTrip is the user's first hour: init, back up, back up again with
// nothing changed, change a file, back up, then browse — through the CLI.
func cliRoundTrip(t *testing.T, endpoint, bucket string) {
	dir := filepath.Dir(os.Getenv("AWS_CONFIG_FILE"))
	src := filepath.Join(dir, "src")
	os.MkdirAll(filepath.Join(src, "docs"), 0o755)
	os.WriteFile(filepath.Join(src, "docs", "letter.txt"), []byte("dear archive"), 0o644)
	os.WriteFile(filepath.Join(src, "photo.jpg"), []byte(strings.Repeat("\xff\xd8jpeg", 50000)), 0o644)

	mustRun(t, "init", "--bucket", bucket, "--region", "us-east-1", "--endpoint", endpoint, "--source", src)
	if _, stderr, code := runCLI(t, "init"); code == 0 || !strings.Contains(stderr, "already") {
		t.Fatalf("second init: exit %d, %s", code, stderr)
	}

	first := lastSummary(t, mustRun(t, "backup", "--json"))
	if first["files_new"].(float64) != 2 || first["snapshot_id"] == "" {
		t.Fatalf("first backup: %v", first)
	}
	same := lastSummary(t, mustRun(t, "backup", "--json"))
	if same["unchanged"] != true || same["put_requests"].(float64) != 0 {
		t.Fatalf("no-change backup: %v", same)
	}
	os.WriteFile(filepath.Join(src, "docs", "notes.txt"), []byte("a second file"), 0o644)
	second := lastSummary(t, mustRun(t, "backup", "--json", "--tag", "weekly"))
	if second["files_new"].(float64) != 1 || second["files_unchanged"].(float64) != 2 {
		t.Fatalf("second backup: %v", second)
	}

	snaps := jsonLines(t, mustRun(t, "snapshots", "--json"))
	if len(snaps) != 2 || snaps[1]["tags"].([]any)[0] != "weekly" {
		t.Fatalf("snapshots: %v", snaps)
	}
	id1, id2 := snaps[0]["id"].(string), snaps[1]["id"].(string)

	ls := mustRun(t, "ls", "latest", filepath.Join(src, "docs"))
	if ls != filepath.Join(src, "docs", "letter.txt")+"\n"+filepath.Join(src, "docs", "notes.txt")+"\n" {
		t.Fatalf("ls: %q", ls)
	}
	found := jsonLines(t, mustRun(t, "find", "*.txt", "--json"))
	if len(found) != 3 { // letter.txt twice, notes.txt once
		t.Fatalf("find: %v", found)
	}
	diff := mustRun(t, "diff", id1[:8], id2)
	if !strings.Contains(diff, "+  "+filepath.Join(src, "docs", "notes.txt")) || !strings.Contains(diff, "1 added, 0 removed, 0 changed") {
		t.Fatalf("diff: %q", diff)
	}
	if _, stderr, code := runCLI(t, "ls", "nosuchsnapshot"); code != exitNotFound || !strings.Contains(stderr, "icevault snapshots") {
		t.Fatalf("ls of an unknown snapshot: exit %d, %s", code, stderr)
	}
	if !strings.Contains(mustRun(t, "cost"), "DEEP_ARCHIVE") {
		t.Fatal("cost says nothing about storage")
	}
	kit := mustRun(t, "key", "export")
	if !strings.Contains(kit, "ICEVAULT RECOVERY KIT") || !strings.Contains(kit, "AGE-SECRET-KEY-PQ-1") {
		t.Fatalf("kit: %q", kit)
	}
}

func TestCLIAgainstSimulator(t *testing.T) {
	srv := startSim(t, sim.Options{Buckets: []string{"cli-bucket"}, EnforcePolicy: true})
	cliEnv(t, sim.DefaultAccessKey, sim.DefaultSecretKey)
	cliRoundTrip(t, srv.URL, "cli-bucket")
	for op, n := range srv.Counts() {
		if op != "PutObject" && op != "HeadObject" {
			t.Errorf("the CLI sent %d %s; init and backup only put (and head the config key once)", n, op)
		}
	}
}

// TestCLIAgainstMoto runs the same first hour against moto, then a restore:
// moto thaws at once and lists no RestoreStatus, so the job takes the HEAD
// path of its polling.
func TestCLIAgainstMoto(t *testing.T) {
	m := testenv.Moto(t)
	m.CreateBucket(t, "cli-bucket")
	dir := cliEnv(t, m.AccessKey, m.SecretKey)
	cliRoundTrip(t, m.URL, "cli-bucket")

	src := filepath.Join(dir, "src")
	target := filepath.Join(dir, "restored")
	mustRun(t, "restore", "latest", "--to", target, "--yes", "--tier", "standard", "--days", "2")
	if out := mustRun(t, "restore", "resume"); !strings.Contains(out, "done") {
		t.Fatalf("restore resume on moto: %s", out)
	}
	testrepo.SameTree(t, src, filepath.Join(target, src))
}

// TestCLIBadSecretsAndDamagedCatalog: a wrong passphrase, a missing key and
// a damaged catalog each stop with a clear message and change nothing.
func TestCLIBadSecretsAndDamagedCatalog(t *testing.T) {
	srv := startSim(t, sim.Options{Buckets: []string{"cli-bucket"}})
	dir := cliEnv(t, sim.DefaultAccessKey, sim.DefaultSecretKey)
	src := filepath.Join(dir, "src")
	os.MkdirAll(src, 0o755)
	os.WriteFile(filepath.Join(src, "f"), []byte("data"), 0o644)
	mustRun(t, "init", "--bucket", "cli-bucket", "--region", "us-east-1", "--endpoint", srv.URL, "--source", src)
	mustRun(t, "backup")
	puts := srv.Counts()["PutObject"]

	keyFiles, _ := filepath.Glob(filepath.Join(dir, "home", ".config", "icevault", "keys", "*.age"))
	if len(keyFiles) != 1 {
		t.Fatalf("key files: %v", keyFiles)
	}
	keyBefore, _ := os.ReadFile(keyFiles[0])
	os.WriteFile(os.Getenv("ICEVAULT_PASSPHRASE_FILE"), []byte("the wrong passphrase"), 0o600)
	_, stderr, code := runCLI(t, "backup")
	if code == 0 || !strings.Contains(stderr, "wrong passphrase") || strings.Contains(stderr, "the wrong passphrase") {
		t.Fatalf("wrong passphrase: exit %d, %q", code, stderr)
	}
	if keyAfter, _ := os.ReadFile(keyFiles[0]); string(keyAfter) != string(keyBefore) {
		t.Fatal("a wrong passphrase changed the key file")
	}
	os.WriteFile(os.Getenv("ICEVAULT_PASSPHRASE_FILE"), []byte("a long enough test passphrase\n"), 0o600)

	os.Rename(keyFiles[0], keyFiles[0]+".away")
	_, stderr, code = runCLI(t, "backup")
	if code == 0 || !strings.Contains(stderr, "key import --kit") {
		t.Fatalf("missing keys: exit %d, %q", code, stderr)
	}
	os.Rename(keyFiles[0]+".away", keyFiles[0])

	cat := filepath.Join(dir, "home", ".config", "icevault", "repos", "default", "catalog.db")
	os.Remove(cat + "-wal")
	os.Remove(cat + "-shm")
	damaged := []byte(strings.Repeat("not a catalog ", 1000))
	os.WriteFile(cat, damaged, 0o600)
	_, stderr, code = runCLI(t, "backup")
	if code == 0 || !strings.Contains(stderr, "damaged") || !strings.Contains(stderr, "icevault recover") {
		t.Fatalf("damaged catalog: exit %d, %q", code, stderr)
	}
	if after, _ := os.ReadFile(cat); string(after) != string(damaged) {
		t.Fatal("the damaged catalog was changed")
	}
	if srv.Counts()["PutObject"] != puts {
		t.Fatal("a failed run uploaded something")
	}
}

// TestCLIRestoreAndRecover: restore a snapshot through the thaw, then lose
// the machine and get everything back on a new one with only the bucket
// and the recovery kit — all through the CLI, on the simulator's clock.
func TestCLIRestoreAndRecover(t *testing.T) {
	clk := clock.NewFake(time.Now())
	srv := startSim(t, sim.Options{Clock: clk, Buckets: []string{"cli-bucket"}, EnforcePolicy: true})
	dir := cliEnv(t, sim.DefaultAccessKey, sim.DefaultSecretKey)
	src := filepath.Join(dir, "src")
	testrepo.WriteFile(t, filepath.Join(src, "docs", "letter.txt"), []byte("dear archive"))
	testrepo.WriteFile(t, filepath.Join(src, "photos", "big.raw"), testrepo.Random(3<<20))
	os.Symlink("docs/letter.txt", filepath.Join(src, "link"))
	mustRun(t, "init", "--bucket", "cli-bucket", "--region", "us-east-1", "--endpoint", srv.URL, "--source", src, "--pack-size-mib", "8")
	mustRun(t, "backup")

	target := filepath.Join(dir, "restored")
	if _, stderr, code := runCLI(t, "restore", "latest", "--to", target); code != exitUsage || !strings.Contains(stderr, "--yes") {
		t.Fatalf("restore without --yes and without a terminal: exit %d, %s", code, stderr)
	}
	out := mustRun(t, "restore", "latest", "--to", target, "--yes", "--tier", "bulk")
	if !strings.Contains(out, "bulk (≤ 48 h)") || !strings.Contains(out, "started") {
		t.Fatalf("restore output: %s", out)
	}
	if out := mustRun(t, "restore", "status"); !strings.Contains(out, "thawing") {
		t.Fatalf("status while thawing: %s", out)
	}
	if _, _, code := runCLI(t, "restore", "resume"); code != exitNotReady {
		t.Fatalf("resume while thawing: exit %d, want %d", code, exitNotReady)
	}
	clk.Advance(49 * time.Hour)
	if out := mustRun(t, "restore", "resume"); !strings.Contains(out, "done") {
		t.Fatalf("resume after the thaw: %s", out)
	}
	testrepo.SameTree(t, src, filepath.Join(target, src))
	if list := mustRun(t, "restore", "list"); !strings.Contains(list, "done") {
		t.Fatalf("restore list: %s", list)
	}
	kit := filepath.Join(dir, "kit.txt")
	mustRun(t, "key", "export", "--out", kit)
	snapsBefore := mustRun(t, "snapshots", "--json")

	// A new machine: nothing but the AWS credentials and the kit.
	newHome := filepath.Join(dir, "newmachine")
	t.Setenv("HOME", newHome)
	t.Setenv("XDG_CONFIG_HOME", filepath.Join(newHome, ".config"))
	if _, _, code := runCLI(t, "snapshots"); code == 0 {
		t.Fatal("the new machine already knows the repository")
	}
	out = mustRun(t, "recover", "--kit", kit, "--endpoint", srv.URL, "--yes")
	if !strings.Contains(out, "2 metadata objects") {
		t.Fatalf("recover: %s", out)
	}
	if _, _, code := runCLI(t, "recover", "resume"); code != exitNotReady {
		t.Fatalf("recover resume while thawing: exit %d", code)
	}
	clk.Advance(13 * time.Hour)
	if out := mustRun(t, "recover", "resume"); !strings.Contains(out, "Catalog rebuilt") {
		t.Fatalf("recover resume: %s", out)
	}
	if after := mustRun(t, "snapshots", "--json"); after != snapsBefore {
		t.Fatalf("snapshots after recovery:\n%s\nbefore:\n%s", after, snapsBefore)
	}
	target2 := filepath.Join(dir, "restored-on-new-machine")
	mustRun(t, "restore", "latest", filepath.Join(src, "photos"), "--to", target2, "--yes")
	clk.Advance(49 * time.Hour)
	mustRun(t, "restore", "resume")
	testrepo.SameTree(t, filepath.Join(src, "photos"), filepath.Join(target2, src, "photos"))
}
