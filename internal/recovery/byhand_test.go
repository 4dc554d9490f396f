package recovery_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"strings"
	"testing"
	"time"

	"filippo.io/age"

	"github.com/icevault/icevault/internal/backup"
	"github.com/icevault/icevault/internal/catalog"
	"github.com/icevault/icevault/internal/repo"
	"github.com/icevault/icevault/internal/sim"
	"github.com/icevault/icevault/internal/store"
	"github.com/icevault/icevault/internal/testenv"
	"github.com/icevault/icevault/internal/testrepo"
)

// TestRecoveryByHand runs docs/recovery-by-hand.md: every shell block marked
// <!-- run --> in order, with the real AWS CLI v2 (against the simulator),
// age and the page's Python script, and checks that the files come back.
// The X25519 case uses the system age (Debian's 1.1.x is fine for it); the
// hybrid case, what `icevault init` makes, needs age >= 1.3, built here from
// the module cache.
func TestRecoveryByHand(t *testing.T) {
	if testing.Short() {
		t.Skip("runs the AWS CLI ~50 times (about 50 s)")
	}
	if runtime.GOOS != "linux" && runtime.GOOS != "darwin" {
		// Never on Linux (CI) or macOS.
		t.Skip("needs a Unix shell")
	}
	cli := testenv.AWSCLI(t)
	for _, tool := range []string{"bash", "python3", "zstd", "sha256sum"} {
		testenv.RequireTool(t, tool, "apt-get install -y "+map[string]string{"sha256sum": "coreutils"}[tool]+tool)
	}
	doc, err := os.ReadFile("../../docs/recovery-by-hand.md")
	if err != nil {
		t.Fatal(err)
	}
	blocks, script := docBlocks(t, string(doc))

	t.Run("x25519", func(t *testing.T) {
		ageBin := testenv.RequireTool(t, "age", "apt-get install -y age")
		x, _ := age.GenerateX25519Identity()
		byHand(t, cli.Path, ageBin, x.String(), x.Recipient().String(), blocks, script)
	})
	t.Run("hybrid", func(t *testing.T) {
		// Built in a scratch module that copies this module's go.mod and
		// go.sum (so the same versions, already in the module cache, and this
		// repository's files untouched). The checksum database is not
		// reachable from CI, so sums missing from our go.sum (modules only the
		// age command needs) are fetched unchecked from the module proxy:
		// this builds a test tool, not icevault.
		mod := t.TempDir()
		gomod, err := os.ReadFile("../../go.mod")
		if err != nil {
			t.Fatal(err)
		}
		sums, err := os.ReadFile("../../go.sum")
		if err != nil {
			t.Fatal(err)
		}
		gomod = regexp.MustCompile(`(?m)^module .*$`).ReplaceAll(gomod, []byte("module agebuild"))
		os.WriteFile(filepath.Join(mod, "go.mod"), gomod, 0o600)
		os.WriteFile(filepath.Join(mod, "go.sum"), sums, 0o600)
		ageBin := filepath.Join(mod, "age")
		build := exec.Command("go", "build", "-o", ageBin, "filippo.io/age/cmd/age")
		build.Dir = mod
		build.Env = append(os.Environ(), "GOFLAGS=-mod=mod", "GOWORK=off", "GOSUMDB=off")
		if out, err := build.CombinedOutput(); err != nil {
			if testenv.InCI() {
				t.Fatalf("building age >= 1.3: %v\n%s", err, out)
			}
			t.Skipf("cannot build age >= 1.3 from the module cache: %v\n%s", err, out)
		}
		h, _ := age.GenerateHybridIdentity()
		byHand(t, cli.Path, ageBin, h.String(), h.Recipient().String(), blocks, script)
	})
}

// docBlocks returns the page's <!-- run --> shell blocks and its Python script.
func docBlocks(t *testing.T, doc string) (blocks []string, script string) {
	lines := strings.Split(doc, "\n")
	for i := 0; i < len(lines); i++ {
		run := strings.TrimSpace(lines[i]) == "<!-- run -->"
		py := strings.HasPrefix(strings.TrimSpace(lines[i]), "<!-- walk.py")
		if !run && !py {
			continue
		}
		i++
		if i >= len(lines) || !strings.HasPrefix(lines[i], "```") {
			t.Fatalf("docs line %d: a marker not followed by a code block", i)
		}
		var b strings.Builder
		for i++; i < len(lines) && lines[i] != "```"; i++ {
			b.WriteString(lines[i] + "\n")
		}
		if run {
			blocks = append(blocks, b.String())
		} else {
			script = b.String()
		}
	}
	if len(blocks) < 5 || script == "" {
		t.Fatalf("found %d runnable blocks and %d bytes of script in the page", len(blocks), len(script))
	}
	return blocks, script
}

func byHand(t *testing.T, awsBin, ageBin, identity, recipient string, blocks []string, script string) {
	ctx := context.Background()
	srv, clk := testrepo.StartSim(t, "", "my-deep-archive")
	st := testrepo.NewStore(t, srv.URL, "my-deep-archive")
	dir := t.TempDir()
	cat := testrepo.OpenCatalog(t, filepath.Join(dir, "catalog.db"))

	// A repository to the given recipient, as repo.Init makes one.
	layout, _ := repo.NewLayout("icevault/", "home")
	cfg, key, err := repo.NewConfig(clk.Now(), []string{recipient}, 1<<20)
	if err != nil {
		t.Fatal(err)
	}
	body, err := cfg.Seal()
	if err != nil {
		t.Fatal(err)
	}
	if _, err := st.Put(ctx, store.PutRequest{Key: layout.ConfigKey(), Body: bytes.NewReader(body), Size: int64(len(body)), SHA256: sha256.Sum256(body)}); err != nil {
		t.Fatal(err)
	}
	if err := repo.SaveToCatalog(ctx, cat, cfg, layout, "my-deep-archive"); err != nil {
		t.Fatal(err)
	}
	r, err := repo.Open(ctx, cat, &testrepo.Secrets{Key: key})
	if err != nil {
		t.Fatal(err)
	}

	src := filepath.Join(t.TempDir(), "src")
	testrepo.WriteFile(t, filepath.Join(src, "docs", "a.txt"), []byte(strings.Repeat("hello deep archive\n", 1000)))
	testrepo.WriteFile(t, filepath.Join(src, "docs", "empty"), nil)
	testrepo.WriteFile(t, filepath.Join(src, "photos", "big.raw"), testrepo.Random(2<<20+12345))
	testrepo.WriteFile(t, filepath.Join(src, "odd", "name\xff\xfe with space"), []byte("non-UTF-8 name"))
	os.MkdirAll(filepath.Join(src, "empty-dir"), 0o755)
	os.Symlink("../docs/a.txt", filepath.Join(src, "odd", "link"))
	os.Chmod(filepath.Join(src, "docs", "a.txt"), 0o600)
	run := func() {
		clk.Advance(time.Minute)
		if _, err := backup.Run(ctx, r, cat, st, backup.Options{Paths: []string{src}, Host: "h", SpoolDir: filepath.Join(dir, "spool"), Clock: clk}); err != nil {
			t.Fatal(err)
		}
	}
	run()
	os.WriteFile(filepath.Join(src, "docs", "a.txt"), []byte("changed"), 0o600)
	testrepo.WriteFile(t, filepath.Join(src, "docs", "new.txt"), []byte("new"))
	run()
	if s, _ := cat.Snapshots(ctx); len(s) != 2 {
		t.Fatalf("%d snapshots", len(s))
	}

	// Each `sleep` of the page's wait loops moves Glacier time on by 12 h.
	tick := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { clk.Advance(12 * time.Hour) }))
	defer tick.Close()

	// The page's commands, with `aws` pointed at the simulator.
	work := filepath.Join(t.TempDir(), "work")
	bin := filepath.Join(t.TempDir(), "bin")
	os.MkdirAll(work, 0o700)
	os.MkdirAll(bin, 0o700)
	wrapper := fmt.Sprintf("#!/bin/sh\nexec %s --endpoint-url %s \"$@\"\n", awsBin, srv.URL)
	os.WriteFile(filepath.Join(bin, "aws"), []byte(wrapper), 0o755)
	os.Symlink(ageBin, filepath.Join(bin, "age"))
	sleep := fmt.Sprintf("#!/bin/sh\nexec python3 -c 'import urllib.request; urllib.request.urlopen(\"%s\").read()'\n", tick.URL)
	os.WriteFile(filepath.Join(bin, "sleep"), []byte(sleep), 0o755)
	os.WriteFile(filepath.Join(work, "key.txt"), []byte(identity+"\n"), 0o600)
	os.WriteFile(filepath.Join(work, "walk.py"), []byte(script), 0o600)
	preamble := "set -euo pipefail\nB=my-deep-archive\nR=" + layout.Root + "\nWAIT=1\nS=latest\n"
	full := preamble + strings.Join(blocks, "\n")
	os.WriteFile(filepath.Join(work, "steps.sh"), []byte(full), 0o600)
	home := filepath.Join(t.TempDir(), "home")
	os.MkdirAll(home, 0o700)
	cmdCtx, cancel := context.WithTimeout(ctx, 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(cmdCtx, "bash", "steps.sh")
	cmd.Dir = work
	cmd.Env = []string{
		"PATH=" + bin + ":/usr/local/bin:/usr/bin:/bin", "HOME=" + home, "LANG=C.UTF-8",
		"AWS_ACCESS_KEY_ID=" + sim.DefaultAccessKey, "AWS_SECRET_ACCESS_KEY=" + sim.DefaultSecretKey,
		"AWS_DEFAULT_REGION=us-east-1", "AWS_CONFIG_FILE=/dev/null", "AWS_SHARED_CREDENTIALS_FILE=/dev/null",
		"AWS_EC2_METADATA_DISABLED=true", "AWS_PAGER=",
	}
	out, err := cmd.CombinedOutput()
	t.Logf("the page's commands:\n%s", out)
	if err != nil {
		t.Fatalf("running the page's commands: %v", err)
	}
	if !bytes.Contains(out, []byte("DEEP_ARCHIVE")) {
		t.Error("the listing did not show the objects")
	}

	// The latest snapshot came back, byte for byte, with modes and links.
	if n := testrepo.CompareTrees(t, src, filepath.Join(work, "restored", src), testrepo.TreeCheck{ModTimes: true}); n.Entries < 8 {
		t.Errorf("only %d entries compared", n.Entries)
	}
	if fi, err := os.Stat(filepath.Join(work, "restored", src, "docs", "a.txt")); err != nil || fi.Mode().Perm() != 0o600 {
		t.Errorf("a.txt: %v, %v", fi, err)
	}
	// Only the data packs the snapshot needs were thawed.
	need, _ := os.ReadFile(filepath.Join(work, "data-keys.txt"))
	all, _ := cat.Packs(ctx, catalog.PackFilter{Kind: catalog.PackData})
	if n := len(strings.Fields(string(need))); n == 0 || n > len(all) {
		t.Errorf("%d data packs to thaw of %d", n, len(all))
	}
}
