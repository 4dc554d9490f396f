//go:build unix

package backup_test

import (
	"bufio"
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"filippo.io/age"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"

	"github.com/icevault/icevault/internal/backup"
	"github.com/icevault/icevault/internal/catalog"
	"github.com/icevault/icevault/internal/clock"
	"github.com/icevault/icevault/internal/pack"
	"github.com/icevault/icevault/internal/repo"
	"github.com/icevault/icevault/internal/sim"
	"github.com/icevault/icevault/internal/store"
	"github.com/icevault/icevault/internal/store/s3store"
	"github.com/icevault/icevault/internal/testrepo"
	"github.com/icevault/icevault/internal/tree"
)

// TestKillNineAnywhere checks DESIGN §2.5: kill -9 at any instant leaves a
// catalog that opens, a next run that finishes without re-uploading
// completed packs, and no snapshot that references a pack S3 never
// confirmed.
//
// The simulator runs here, in the parent, on a loopback port; each trial
// re-executes this test binary as a child (TestKillNineChild) that runs one
// backup against it, and SIGKILLs the child after a random delay. After
// every kill the catalog is opened and checked against the bucket; after
// the trials one more backup runs to completion and everything the bucket
// holds is read back.
//
// Reproduce a failure with the logged seed:
//
//	go test ./internal/backup/ -run KillNine -v -crash.seed=SEED
//
// (or ICEVAULT_CRASH_SEED=SEED). The seed fixes the data set, the kill
// delays, the source mutations and the injected faults; where the kill lands
// in the child still depends on the machine's speed, so each trial logs
// what the child had done when it died.

var (
	crashSeedFlag   = flag.Uint64("crash.seed", 0, "TestKillNineAnywhere: PRNG seed (0: $ICEVAULT_CRASH_SEED or a new one, logged)")
	crashTrialsFlag = flag.Int("crash.trials", 40, "TestKillNineAnywhere: number of kill -9 trials")
)

// crashChildEnv names the child's config file; TestKillNineChild does
// nothing without it.
const crashChildEnv = "ICEVAULT_CRASH_CHILD"

const crashBucket = "backups"

// crashChildConfig is what a child needs to open the repository and run.
type crashChildConfig struct {
	URL     string `json:"url"`
	Catalog string `json:"catalog"`
	Spool   string `json:"spool"`
	Src     string `json:"src"`
	Key     string `json:"blob_id_key"` // hex
}

// crashStore connects to the simulator with more retries than
// testrepo.NewStore: the children run under injected faults.
func crashStore(t testing.TB, url string) *s3store.Store {
	t.Helper()
	client, err := s3store.NewClient(aws.Config{Region: "us-east-1",
		Credentials: credentials.NewStaticCredentialsProvider(sim.DefaultAccessKey, sim.DefaultSecretKey, "")},
		s3store.ClientOptions{Endpoint: url, MaxAttempts: 4, MaxBackoff: 20 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	return s3store.New(client, crashBucket, s3store.Options{})
}

// TestKillNineChild is the process TestKillNineAnywhere kills: one backup,
// reporting its events on stdout, one line each, unbuffered.
func TestKillNineChild(t *testing.T) {
	cfgPath := os.Getenv(crashChildEnv)
	if cfgPath == "" {
		return // only ever run as TestKillNineAnywhere's child
	}
	b, err := os.ReadFile(cfgPath)
	if err != nil {
		t.Fatal(err)
	}
	var cc crashChildConfig
	if err := json.Unmarshal(b, &cc); err != nil {
		t.Fatal(err)
	}
	secrets := &testrepo.Secrets{}
	if k, err := hex.DecodeString(cc.Key); err != nil || len(k) != 32 {
		t.Fatalf("blob-ID key %q: %v", cc.Key, err)
	} else {
		copy(secrets.Key[:], k)
	}
	ctx := context.Background()
	say := func(format string, args ...any) { fmt.Fprintf(os.Stdout, format+"\n", args...) }
	say("PROC")
	cat, err := catalog.Open(ctx, cc.Catalog)
	if err != nil {
		t.Fatalf("opening the catalog: %v", err)
	}
	defer cat.Close()
	r, err := repo.Open(ctx, cat, secrets)
	if err != nil {
		t.Fatal(err)
	}
	sum, err := backup.Run(ctx, r, cat, crashStore(t, cc.URL), backup.Options{
		Paths: []string{cc.Src}, Host: "crashhost", SpoolDir: cc.Spool,
		Events: func(ev backup.Event) {
			switch ev.Kind {
			case backup.EventStart:
				say("START %s", ev.Snapshot)
			case backup.EventFile:
				say("FILE %t", ev.Changed)
			case backup.EventUploaded:
				say("UP %t %s", ev.Resumed, ev.Pack)
			case backup.EventNotice:
				say("NOTICE %v", ev.Notice)
			}
		},
	})
	if err != nil {
		t.Fatalf("backup: %v", err)
	}
	j, _ := json.Marshal(sum)
	say("DONE %s", j)
}

// crashChild is what one child run did.
type crashChild struct {
	killed  bool
	elapsed time.Duration
	doneAt  time.Duration // when it reported the run done, 0 if never
	lines   []string
	stderr  string
	err     error // how it exited, if not killed
}

func (c crashChild) count(prefix string) int {
	n := 0
	for _, l := range c.lines {
		if strings.HasPrefix(l, prefix) {
			n++
		}
	}
	return n
}

func (c crashChild) snapshot() string {
	for _, l := range c.lines {
		if s, ok := strings.CutPrefix(l, "START "); ok {
			return s
		}
	}
	return ""
}

func (c crashChild) summary() (backup.Summary, bool) {
	var s backup.Summary
	for _, l := range c.lines {
		if j, ok := strings.CutPrefix(l, "DONE "); ok {
			return s, json.Unmarshal([]byte(j), &s) == nil
		}
	}
	return s, false
}

// runCrashChild runs one child backup and SIGKILLs it after killAfter
// unless it exits first.
func runCrashChild(t *testing.T, cfgPath string, killAfter time.Duration) crashChild {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^TestKillNineChild$", "-test.count=1")
	cmd.Env = append(os.Environ(), crashChildEnv+"="+cfgPath)
	pr, pw, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	var stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = pw, &stderr
	start := time.Now()
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	pw.Close()
	linesc := make(chan []string, 1)
	var doneAt time.Duration
	go func() {
		var lines []string
		sc := bufio.NewScanner(pr)
		sc.Buffer(make([]byte, 64<<10), 1<<20)
		for sc.Scan() {
			if strings.HasPrefix(sc.Text(), "DONE ") {
				doneAt = time.Since(start)
			}
			lines = append(lines, sc.Text())
		}
		pr.Close()
		linesc <- lines
	}()
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	timer := time.NewTimer(killAfter)
	defer timer.Stop()
	var c crashChild
	select {
	case c.err = <-exited:
	case <-timer.C:
		cmd.Process.Signal(syscall.SIGKILL)
		c.err = <-exited
	}
	c.elapsed = time.Since(start)
	c.lines = <-linesc
	c.doneAt = doneAt
	c.stderr = stderr.String()
	if ws, ok := cmd.ProcessState.Sys().(syscall.WaitStatus); ok && ws.Signaled() && ws.Signal() == syscall.SIGKILL {
		c.killed, c.err = true, nil
	}
	return c
}

// landedHint says whether the pack a failed child could not upload was in
// the bucket already: a re-PUT of a pack S3 holds must end in 412 + HEAD =
// success, never in a failed run.
func landedHint(ctx context.Context, st *s3store.Store, lines []string) string {
	for _, l := range lines {
		_, rest, ok := strings.Cut(l, `backup: put "`)
		if !ok {
			if _, rest, ok = strings.Cut(l, "backup: uploading "); !ok {
				continue
			}
		}
		key, _, _ := strings.Cut(rest, ":")
		key = strings.TrimSuffix(key, `"`)
		info, err := st.Head(ctx, key)
		if err != nil {
			return fmt.Sprintf("\n%s: HEAD: %v", key, err)
		}
		return fmt.Sprintf("\n%s was in the bucket already (%d bytes): the failed PUT was a retry or re-run of a pack that had landed", key, info.Size)
	}
	return ""
}

// crashRNG is the test's one source of randomness.
type crashRNG struct {
	*rand.Rand
	src *rand.ChaCha8
}

func newCrashRNG(seed uint64) *crashRNG {
	var s [32]byte
	binary.LittleEndian.PutUint64(s[:], seed)
	src := rand.NewChaCha8(s)
	return &crashRNG{Rand: rand.New(src), src: src}
}

func (r *crashRNG) bytes(n int) []byte {
	b := make([]byte, n)
	r.src.Read(b)
	return b
}

var crashWords = strings.Fields("glacier deep archive pack blob snapshot restore catalog kill nine crash safe sealed uploaded tree index")

func (r *crashRNG) text(n int) []byte {
	var b bytes.Buffer
	for b.Len() < n {
		b.WriteString(crashWords[r.IntN(len(crashWords))])
		switch r.IntN(10) {
		case 0:
			b.WriteByte('\n')
		case 1:
			b.WriteString(strconv.Itoa(r.IntN(100000)))
			b.WriteByte(' ')
		default:
			b.WriteByte(' ')
		}
	}
	return b.Bytes()[:n]
}

// content is incompressible, compressible or half of each.
func (r *crashRNG) content(n int) []byte {
	switch r.IntN(3) {
	case 0:
		return r.bytes(n)
	case 1:
		return r.text(n)
	}
	return append(r.bytes(n/2), r.text(n-n/2)...)
}

var crashDirs = []string{"docs", "docs/notes", "photos/2025", "photos/2026", "code/src", "code/pkg/util", "music", "misc/deep/er/still"}

// crashDataSet writes about 40 MiB in 50 files: big incompressible ones,
// compressible medium ones and many small ones.
func crashDataSet(t *testing.T, r *crashRNG, src string) {
	t.Helper()
	for i := range 10 {
		testrepo.WriteFile(t, filepath.Join(src, crashDirs[2+i%2*4], fmt.Sprintf("big-%02d.raw", i)), r.bytes(1<<20+r.IntN(5<<20)))
	}
	for i := range 8 {
		testrepo.WriteFile(t, filepath.Join(src, crashDirs[i%2*4], fmt.Sprintf("medium-%02d.txt", i)), r.text(100<<10+r.IntN(900<<10)))
	}
	for i := range 30 {
		testrepo.WriteFile(t, filepath.Join(src, crashDirs[r.IntN(len(crashDirs))], fmt.Sprintf("small-%02d", i)), r.content(r.IntN(24<<10)))
	}
	testrepo.WriteFile(t, filepath.Join(src, "misc", "empty"), nil)
	if err := os.Symlink("../docs/medium-00.txt", filepath.Join(src, "misc", "link")); err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll(filepath.Join(src, "misc", "empty-dir"), 0o755); err != nil {
		t.Fatal(err)
	}
}

func crashFiles(t *testing.T, src string) []string {
	t.Helper()
	var out []string
	err := filepath.Walk(src, func(p string, fi os.FileInfo, err error) error {
		if err == nil && fi.Mode().IsRegular() {
			out = append(out, p)
		}
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// crashMutate changes the source a little, so a trial has new work: it
// always adds a file of up to 4 MiB, and sometimes also changes, renames or
// removes one.
func crashMutate(t *testing.T, r *crashRNG, src string, n int) string {
	t.Helper()
	p := filepath.Join(src, crashDirs[r.IntN(len(crashDirs))], fmt.Sprintf("new-%02d", n))
	testrepo.WriteFile(t, p, r.content(256<<10+r.IntN(4<<20-256<<10)))
	did := []string{"added " + strings.TrimPrefix(p, src)}
	files := crashFiles(t, src)
	victim := files[r.IntN(len(files))]
	rel := strings.TrimPrefix(victim, src)
	switch r.IntN(5) {
	case 0: // rewrite a region in place
		data, err := os.ReadFile(victim)
		if err != nil {
			t.Fatal(err)
		}
		if len(data) > 0 {
			off := r.IntN(len(data))
			copy(data[off:], r.bytes(min(len(data)-off, 64<<10)))
			testrepo.WriteFile(t, victim, data)
			did = append(did, "rewrote part of "+rel)
		}
	case 1: // append
		f, err := os.OpenFile(victim, os.O_APPEND|os.O_WRONLY, 0)
		if err != nil {
			t.Fatal(err)
		}
		f.Write(r.text(1 + r.IntN(200<<10)))
		f.Close()
		did = append(did, "appended to "+rel)
	case 2:
		if err := os.Rename(victim, victim+".moved"); err != nil {
			t.Fatal(err)
		}
		did = append(did, "renamed "+rel)
	case 3:
		if len(files) > 30 {
			os.Remove(victim)
			did = append(did, "removed "+rel)
		}
	}
	return strings.Join(did, ", ")
}

// crashFault is a simulator fault some trials run under.
type crashFault struct {
	name string
	f    sim.Fault
}

func pickCrashFault(r *crashRNG) *crashFault {
	if r.Float64() >= 0.3 {
		return nil
	}
	nth := 1 + r.IntN(6)
	switch r.IntN(4) {
	case 0:
		return &crashFault{fmt.Sprintf("LoseResponse on PutObject #%d", nth), sim.Fault{Op: "PutObject", LoseResponse: true, Nth: nth}}
	case 1:
		return &crashFault{fmt.Sprintf("503 SlowDown on PutObject #%d", nth), sim.Fault{Op: "PutObject", Status: 503, Code: "SlowDown", Nth: nth}}
	case 2:
		return &crashFault{fmt.Sprintf("connection reset on PutObject #%d", nth), sim.Fault{Op: "PutObject", Reset: true, Nth: nth}}
	}
	return &crashFault{"30ms latency on every PutObject", sim.Fault{Op: "PutObject", Latency: 30 * time.Millisecond}}
}

// crashState is what a check of the repository found.
type crashState struct {
	uploaded  map[string]bool // keys of packs the catalog marks uploaded
	snapshots map[string]bool
	sealed    int
	tmps      int // half-written pack files in the spool
	orphans   int // sealed pack files no catalog row names
	// metaUploaded/metaSealed: metadata packs of snapshot snap (the
	// killed run's) that the catalog holds while the snapshot is not
	// committed: the kill landed between sealing the last metadata pack
	// and committing the snapshot.
	metaUploaded, metaSealed bool
}

// checkCrashRepo checks invariant 5 after a kill: the catalog opens and
// passes SQLite's integrity check; every pack it calls uploaded is in the
// bucket with its size; every sealed pack's file is in the spool, complete,
// and (if S3 already holds the key) the same size, so the next run's 412 +
// HEAD confirms it; every snapshot's trees, contents and metadata objects
// resolve to uploaded packs; the file cache points only at uploaded blobs.
func checkCrashRepo(t *testing.T, cc crashChildConfig, st *s3store.Store, root string, ident age.Identity, snap string) crashState {
	t.Helper()
	ctx := context.Background()
	cat, err := catalog.Open(ctx, cc.Catalog)
	if err != nil {
		t.Fatalf("the catalog does not open after kill -9: %v", err)
	}
	defer cat.Close()
	if err := cat.IntegrityCheck(ctx); err != nil {
		t.Fatalf("integrity check after kill -9: %v", err)
	}
	inBucket := map[string]int64{}
	for o, err := range st.List(ctx, root) {
		if err != nil {
			t.Fatal(err)
		}
		inBucket[o.Key] = o.Size
	}
	packs, err := cat.Packs(ctx, catalog.PackFilter{})
	if err != nil {
		t.Fatal(err)
	}
	s := crashState{uploaded: map[string]bool{}, snapshots: map[string]bool{}}
	sealedFiles := map[string]bool{}
	byKey := map[string]catalog.Pack{}
	for _, p := range packs {
		byKey[p.Key] = p
		size, there := inBucket[p.Key]
		switch p.State {
		case catalog.Uploaded:
			s.uploaded[p.Key] = true
			if !there {
				t.Errorf("pack %s is marked uploaded but is not in the bucket", p.Key)
			} else if size != p.Size {
				t.Errorf("pack %s is marked uploaded with %d bytes; the bucket holds %d", p.Key, p.Size, size)
			}
			if p.LocalPath != "" {
				t.Errorf("uploaded pack %s still names a local file %s", p.Key, p.LocalPath)
			}
		case catalog.Sealed:
			s.sealed++
			sealedFiles[p.LocalPath] = true
			if there && size != p.Size {
				t.Errorf("sealed pack %s: the bucket holds %d bytes under its key, the catalog %d: the next run's PUT cannot be confirmed", p.Key, size, p.Size)
			}
			checkSealedFile(t, cat, p, ident)
		default:
			t.Errorf("pack %s in state %d", p.Key, p.State)
		}
		if snap != "" && p.Kind == catalog.PackMeta && strings.Contains(p.Key, "-"+snap+"-") {
			if p.State == catalog.Uploaded {
				s.metaUploaded = true
			} else {
				s.metaSealed = true
			}
		}
	}
	spooled, _ := filepath.Glob(filepath.Join(cc.Spool, "*.pack"))
	for _, f := range spooled {
		switch {
		case strings.HasPrefix(filepath.Base(f), "tmp-"):
			s.tmps++
		case !sealedFiles[f]:
			s.orphans++
		}
	}

	snaps, err := cat.Snapshots(ctx)
	if err != nil {
		t.Fatal(err)
	}
	checked := map[pack.ID]bool{}
	checkBlob := func(snap string, id pack.ID, what string) {
		if checked[id] {
			return
		}
		checked[id] = true
		loc, err := cat.Blob(ctx, id)
		switch {
		case err != nil:
			t.Errorf("snapshot %s: %s %s: %v", snap, what, id, err)
		case loc.State != catalog.Uploaded:
			t.Errorf("snapshot %s: %s %s is in pack %s, which S3 never confirmed", snap, what, id, loc.PackKey)
		case inBucket[loc.PackKey] == 0:
			t.Errorf("snapshot %s: %s %s is in pack %s, which is not in the bucket", snap, what, id, loc.PackKey)
		}
	}
	var walk func(snap string, id pack.ID)
	walk = func(snap string, id pack.ID) {
		if checked[id] {
			return
		}
		checkBlob(snap, id, "tree")
		data, err := cat.Tree(ctx, id)
		if err != nil {
			t.Errorf("snapshot %s: %v", snap, err)
			return
		}
		tr, err := tree.Decode(data)
		if err != nil {
			t.Errorf("snapshot %s: tree %s: %v", snap, id, err)
			return
		}
		for _, n := range tr.Nodes {
			switch n.Type {
			case tree.TypeDir:
				walk(snap, n.Subtree)
			case tree.TypeFile:
				for _, c := range n.Content {
					checkBlob(snap, c, "content blob")
				}
			}
		}
	}
	for _, sn := range snaps {
		s.snapshots[sn.ID] = true
		walk(sn.ID, sn.Root)
		if len(sn.MetaKeys) == 0 {
			t.Errorf("snapshot %s has no metadata objects", sn.ID)
		}
		for _, k := range sn.MetaKeys {
			if p, ok := byKey[k]; !ok || p.State != catalog.Uploaded || inBucket[k] == 0 {
				t.Errorf("snapshot %s: metadata object %s is not an uploaded pack in the bucket", sn.ID, k)
			}
		}
	}
	if snap != "" && s.snapshots[snap] {
		s.metaUploaded, s.metaSealed = false, false
	}

	// The file cache may only point at confirmed blobs.
	for _, f := range crashFiles(t, cc.Src) {
		fs, ok, err := cat.File(ctx, f)
		if err != nil {
			t.Fatal(err)
		}
		if !ok {
			continue
		}
		for _, id := range fs.Blobs {
			loc, err := cat.Blob(ctx, id)
			if err != nil || loc.State != catalog.Uploaded {
				t.Errorf("the file cache entry of %s names blob %s, which is not in an uploaded pack (%v)", f, id, err)
			}
		}
	}
	return s
}

// checkSealedFile checks that a sealed pack's spool file is the pack the
// catalog describes, so the next run can upload it as it is.
func checkSealedFile(t *testing.T, cat *catalog.Catalog, p catalog.Pack, ident age.Identity) {
	t.Helper()
	data, err := os.ReadFile(p.LocalPath)
	if err != nil {
		t.Errorf("sealed pack %s: its spool file: %v", p.Key, err)
		return
	}
	if int64(len(data)) != p.Size || sha256.Sum256(data) != p.SHA256 {
		t.Errorf("sealed pack %s: spool file %s has %d bytes (catalog: %d) or the wrong SHA-256", p.Key, p.LocalPath, len(data), p.Size)
		return
	}
	r, err := pack.OpenReader(bytes.NewReader(data), int64(len(data)), ident)
	if err != nil {
		t.Errorf("sealed pack %s: %v", p.Key, err)
		return
	}
	entries, err := cat.PackEntries(context.Background(), p.ID)
	if err != nil {
		t.Fatal(err)
	}
	if !sameEntries(entries, r.Index()) {
		t.Errorf("sealed pack %s: the catalog lists %d blobs that differ from the file's index (%d)", p.Key, len(entries), len(r.Index()))
	}
}

func sameEntries(a, b []pack.Entry) bool {
	key := func(e pack.Entry) string {
		return fmt.Sprintf("%s/%d/%d/%d/%d", e.ID, e.Kind, e.Offset, e.Length, e.RawLength)
	}
	var x, y []string
	for _, e := range a {
		x = append(x, key(e))
	}
	for _, e := range b {
		y = append(y, key(e))
	}
	slices.Sort(x)
	slices.Sort(y)
	return slices.Equal(x, y)
}

func TestKillNineAnywhere(t *testing.T) {
	if testing.Short() {
		t.Skip("kill -9 trials take about half a minute")
	}
	seed := *crashSeedFlag
	if seed == 0 {
		if s, err := strconv.ParseUint(os.Getenv("ICEVAULT_CRASH_SEED"), 10, 64); err == nil {
			seed = s
		}
	}
	if seed == 0 {
		seed = uint64(time.Now().UnixNano())
	}
	t.Logf("seed %d: reproduce with -crash.seed=%d", seed, seed)
	rng := newCrashRNG(seed)
	ctx := context.Background()
	base := t.TempDir()

	srv, clk := testrepo.StartSim(t, filepath.Join(base, "sim"), crashBucket)
	st := crashStore(t, srv.URL)
	src := filepath.Join(base, "src")
	crashDataSet(t, rng, src)

	// newRepo makes a repository and the config file its children read.
	newRepo := func(name string) (crashChildConfig, string, *testrepo.Secrets, repo.Layout) {
		dir := filepath.Join(base, name)
		cc := crashChildConfig{URL: srv.URL, Catalog: filepath.Join(dir, "catalog.db"), Spool: filepath.Join(dir, "spool"), Src: src}
		cat, err := catalog.Open(ctx, cc.Catalog)
		if err != nil {
			t.Fatal(err)
		}
		defer cat.Close()
		secrets := &testrepo.Secrets{}
		layout, _ := repo.NewLayout("icevault/", name)
		if _, _, err := repo.Init(ctx, st, cat, secrets, repo.InitOptions{Bucket: crashBucket, Layout: layout, PackSize: 1 << 20, Now: clk.Now()}); err != nil {
			t.Fatal(err)
		}
		cc.Key = hex.EncodeToString(secrets.Key[:])
		b, _ := json.Marshal(cc)
		cfgPath := filepath.Join(dir, "child.json")
		if err := os.WriteFile(cfgPath, b, 0o600); err != nil {
			t.Fatal(err)
		}
		return cc, cfgPath, secrets, layout
	}

	// Calibrate on a throwaway repository: one uninterrupted child run of
	// the whole data set.
	_, calCfg, _, _ := newRepo("calibration")
	cal := runCrashChild(t, calCfg, 2*time.Minute)
	if cal.killed || cal.err != nil {
		t.Fatalf("calibration run: %v\n%s\n%s", cal.err, strings.Join(cal.lines, "\n"), cal.stderr)
	}
	calSum, _ := cal.summary()
	t.Logf("calibration: one uninterrupted child backs up %d files, %d MiB in %d packs in %v",
		calSum.FilesNew, calSum.BytesRead>>20, calSum.Packs, cal.elapsed.Round(time.Millisecond))

	cc, cfgPath, secrets, layout := newRepo("main")
	ident := secrets.AgeIdentity(t)
	// est is how long a child takes to finish the work at hand: the whole
	// calibration run at first, then the last run that was not killed.
	est := cal.elapsed
	uploaded := map[string]bool{}
	phases := map[string]int{}
	trials := *crashTrialsFlag
	explicit := false
	flag.Visit(func(f *flag.Flag) { explicit = explicit || f.Name == "crash.trials" })
	if !explicit && cal.elapsed > 2*time.Second {
		trials = 20 // a slow machine or -race: keep the test near a minute
		t.Logf("slow children: %d trials", trials)
	}
	for i := range trials {
		var did string
		if i > 0 && rng.Float64() < 0.75 {
			did = crashMutate(t, rng, src, i)
		}
		fault := pickCrashFault(rng)
		var delay time.Duration
		if rng.Float64() < 0.15 {
			delay = time.Duration(rng.Int64N(int64(80 * time.Millisecond))) // process start, catalog open, resume
		} else {
			delay = time.Duration(rng.Int64N(int64(est * 6 / 5)))
		}
		var remove func()
		if fault != nil {
			remove = srv.InjectFault(fault.f)
		}
		logFrom := len(srv.Requests())
		c := runCrashChild(t, cfgPath, delay)
		if remove != nil {
			remove()
		}
		files := len(crashFiles(t, src))
		phase := "completed"
		switch {
		case !c.killed:
		case c.doneAt > 0:
			phase = "after the run, before the process exited"
		case c.count("START") == 0:
			phase = "startup (process, catalog open)"
		case c.count("FILE") == 0:
			phase = "resume (uploading an earlier run's sealed packs)"
		case c.count("FILE") < files:
			phase = "walk, read, pack, upload"
		default:
			phase = "last uploads, metadata pack, commit"
		}
		desc := fmt.Sprintf("trial %d: kill after %v (est. %v), %s after %v: %d files, %d uploads (%d resumed)",
			i, delay.Round(time.Millisecond), est.Round(time.Millisecond), phase, c.elapsed.Round(time.Millisecond),
			c.count("FILE"), c.count("UP"), c.count("UP true"))
		if did != "" {
			desc += "; source: " + did
		}
		if fault != nil {
			desc += "; fault: " + fault.name
		}
		if !c.killed && c.err != nil {
			var reqs []string
			for _, r := range srv.Requests()[logFrom:] {
				reqs = append(reqs, fmt.Sprintf("%s %s: %d %s (%d bytes)", r.Op, r.Key, r.Status, r.Code, r.Size))
			}
			t.Fatalf("%s\nthe child failed: %v\nstdout:\n%s\nstderr:\n%s\nrequests:\n%s%s", desc, c.err,
				strings.Join(c.lines, "\n"), c.stderr, strings.Join(reqs, "\n"), landedHint(ctx, st, c.lines))
		}
		switch {
		case !c.killed:
			est = max(c.elapsed, 150*time.Millisecond)
		case c.doneAt > 0:
			est = max(c.doneAt, 150*time.Millisecond)
		case c.count("FILE") < files && delay >= est:
			// Killed ones leave work behind: the next run has more to do.
			est = delay * 5 / 4
		}

		// The next run must not re-send a pack the catalog had as uploaded.
		for _, r := range srv.Requests()[logFrom:] {
			if r.Op == "PutObject" && uploaded[r.Key] {
				t.Errorf("trial %d re-sent pack %s, confirmed by an earlier run (status %d)", i, r.Key, r.Status)
			}
		}
		s := checkCrashRepo(t, cc, st, layout.Root, ident, c.snapshot())
		for k := range uploaded {
			if !s.uploaded[k] {
				t.Errorf("pack %s was uploaded before trial %d and is no longer", k, i)
			}
		}
		uploaded = s.uploaded
		var left []string
		if s.sealed > 0 {
			left = append(left, fmt.Sprintf("%d sealed packs", s.sealed))
		}
		if s.tmps > 0 {
			left = append(left, fmt.Sprintf("%d half-written pack files", s.tmps))
		}
		if s.orphans > 0 {
			left = append(left, fmt.Sprintf("%d pack files no row names", s.orphans))
		}
		if s.metaSealed {
			left = append(left, "its metadata pack sealed, unconfirmed")
			phases["killed with the snapshot's metadata pack sealed, unconfirmed"]++
		}
		if s.metaUploaded {
			left = append(left, "its metadata pack uploaded, snapshot not committed")
			phases["killed between the metadata pack's upload and the commit"]++
		}
		if s.sealed > 0 {
			phases["killed with sealed packs waiting"]++
		}
		if s.tmps > 0 {
			phases["killed while writing a pack"]++
		}
		if s.orphans > 0 {
			phases["killed with an orphan pack file"]++
		}
		phases[phase]++
		desc += fmt.Sprintf(" → %d snapshots, %d uploaded packs", len(s.snapshots), len(s.uploaded))
		if len(left) > 0 {
			desc += ", left " + strings.Join(left, ", ")
		}
		t.Log(desc)
		if t.Failed() {
			t.Fatalf("invariant 5 broken at trial %d (seed %d)", i, seed)
		}
	}
	var names []string
	for k := range phases {
		names = append(names, k)
	}
	sort.Strings(names)
	for _, k := range names {
		t.Logf("%2d× %s", phases[k], k)
	}
	if phases["completed"] == trials {
		t.Errorf("no trial was killed: the kill delays miss the backup")
	}

	// One more run, to completion, in this process: it must finish
	// without re-sending any confirmed pack; then a run with nothing new
	// must send nothing at all.
	crashMutate(t, rng, src, trials)
	cat, err := catalog.Open(ctx, cc.Catalog)
	if err != nil {
		t.Fatal(err)
	}
	defer cat.Close()
	r, err := repo.Open(ctx, cat, secrets)
	if err != nil {
		t.Fatal(err)
	}
	logFrom := len(srv.Requests())
	sum, err := backup.Run(ctx, r, cat, st, backup.Options{Paths: []string{src}, Host: "crashhost", SpoolDir: cc.Spool})
	if err != nil || sum.SnapshotID == "" {
		t.Fatalf("the run after the kills: %+v, %v", sum, err)
	}
	t.Logf("the run after the kills: %d files read, %d unchanged, %d packs (%d resumed)", sum.FilesNew+sum.FilesChanged, sum.FilesUnchanged, sum.Packs, sum.ResumedPacks)
	for _, r := range srv.Requests()[logFrom:] {
		if r.Op == "PutObject" && uploaded[r.Key] {
			t.Errorf("the last run re-sent pack %s, confirmed by an earlier run (status %d)", r.Key, r.Status)
		}
	}
	logFrom = len(srv.Requests())
	again, err := backup.Run(ctx, r, cat, st, backup.Options{Paths: []string{src}, Host: "crashhost", SpoolDir: cc.Spool})
	if err != nil || !again.Unchanged || again.SnapshotID != sum.SnapshotID || again.BytesRead != 0 {
		t.Errorf("a run with nothing new: %+v, %v", again, err)
	}
	if n := len(srv.Requests()) - logFrom; n != 0 {
		t.Errorf("a run with nothing new sent %d requests", n)
	}
	cat.Close()
	s := checkCrashRepo(t, cc, st, layout.Root, ident, "")
	if s.sealed != 0 || s.tmps != 0 || s.orphans != 0 {
		t.Errorf("after a completed run: %d sealed packs, %d half-written and %d orphan pack files", s.sealed, s.tmps, s.orphans)
	}

	// Across the whole request log: every PUT was create-only to
	// DEEP_ARCHIVE, no key was created twice, and every 412 was for a key
	// that was created once.
	created := map[string]int{}
	refused := map[string]int{}
	lost := map[string]int{} // LoseResponse: maybe created, status not logged
	for _, r := range srv.Requests() {
		if r.Op != "PutObject" {
			continue
		}
		if r.StorageClass != "DEEP_ARCHIVE" || r.IfNoneMatch != "*" {
			t.Errorf("PUT %s: storage class %q, If-None-Match %q", r.Key, r.StorageClass, r.IfNoneMatch)
		}
		switch r.Status {
		case 200:
			created[r.Key]++
		case 412:
			refused[r.Key]++
		case 0:
			if r.Code == "ResponseLost" {
				lost[r.Key]++
			}
		}
	}
	for k, n := range created {
		if n > 1 {
			t.Errorf("%s was uploaded %d times", k, n)
		}
	}
	for k := range refused {
		if created[k] != 1 && (created[k] != 0 || lost[k] == 0) {
			t.Errorf("%s: 412 on a key created %d times", k, created[k])
		}
	}
	for k := range s.uploaded {
		if created[k] != 1 && refused[k] == 0 && lost[k] == 0 {
			// A PUT whose response was lost is logged without a status
			// but stored; the pack is then confirmed by a later 412 +
			// HEAD, or by the HEAD a resumed run makes before re-sending.
			t.Errorf("pack %s is marked uploaded but S3 never stored a PUT of it", k)
		}
	}
	t.Logf("request log: %d packs created, %d refused with 412 on a retry or re-run, %d PUT responses lost", len(created), len(refused), len(lost))

	// Read back everything: every uploaded pack is the one the catalog
	// describes, every snapshot's blobs decrypt and verify, every snapshot
	// has its record and the indexes of its data packs in the bucket, and
	// the last snapshot restores byte for byte.
	verifyCrashBucket(t, cc, st, clk, ident, secrets.Key, sum.SnapshotID)
}

// verifyCrashBucket reads every uploaded pack back from the simulator
// (thawing them on the fake clock) and checks it against the catalog.
func verifyCrashBucket(t *testing.T, cc crashChildConfig, st *s3store.Store, clk *clock.Fake, ident age.Identity, key [32]byte, last string) {
	t.Helper()
	ctx := context.Background()
	idKey := pack.IDKey(key)
	cat, err := catalog.Open(ctx, cc.Catalog)
	if err != nil {
		t.Fatal(err)
	}
	defer cat.Close()
	packs, err := cat.Packs(ctx, catalog.PackFilter{State: catalog.Uploaded})
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range packs {
		if _, err := st.RequestRestore(ctx, p.Key, 1, store.TierBulk); err != nil {
			t.Fatal(err)
		}
	}
	clk.Advance(49 * time.Hour)
	readers := map[string]*pack.Reader{}
	indexed := map[string]bool{} // data packs some metadata pack indexes
	records := map[string]repo.SnapshotRecord{}
	metaOf := map[string]string{} // snapshot record → the pack holding it
	for _, p := range packs {
		rc, err := st.Get(ctx, p.Key, nil)
		if err != nil {
			t.Fatal(err)
		}
		data, err := io.ReadAll(rc)
		rc.Close()
		if err != nil {
			t.Fatal(err)
		}
		if int64(len(data)) != p.Size || sha256.Sum256(data) != p.SHA256 {
			t.Errorf("pack %s: the bucket holds %d bytes that are not the %d the catalog recorded", p.Key, len(data), p.Size)
			continue
		}
		r, err := pack.OpenReader(bytes.NewReader(data), int64(len(data)), ident)
		if err != nil {
			t.Errorf("pack %s: %v", p.Key, err)
			continue
		}
		readers[p.Key] = r
		entries, err := cat.PackEntries(ctx, p.ID)
		if err != nil {
			t.Fatal(err)
		}
		if !sameEntries(entries, r.Index()) {
			t.Errorf("pack %s: the catalog's blobs differ from the pack's index", p.Key)
		}
		if p.Kind != catalog.PackMeta {
			continue
		}
		for _, e := range r.Index() {
			if e.Kind != pack.KindMeta {
				continue
			}
			b, err := r.ReadBlob(e, idKey)
			if err != nil {
				t.Errorf("pack %s: %v", p.Key, err)
				continue
			}
			m, err := repo.DecodeMeta(b)
			switch {
			case err != nil:
				t.Errorf("pack %s: %v", p.Key, err)
			case m.Snapshot != nil:
				records[m.Snapshot.ID] = *m.Snapshot
				metaOf[m.Snapshot.ID] = p.Key
			case m.PackIndex != nil:
				indexed[m.PackIndex.Key] = true
			}
		}
	}
	blobData := func(id pack.ID) []byte {
		loc, err := cat.Blob(ctx, id)
		if err != nil {
			t.Fatalf("blob %s: %v", id, err)
		}
		r := readers[loc.PackKey]
		if r == nil {
			t.Fatalf("blob %s: pack %s was not read back", id, loc.PackKey)
		}
		if !indexed[loc.PackKey] && !strings.Contains(loc.PackKey, "/meta/") {
			t.Errorf("blob %s: no metadata object in the bucket indexes its data pack %s", id, loc.PackKey)
		}
		data, err := r.ReadBlob(loc.Entry, idKey)
		if err != nil {
			t.Fatalf("blob %s in %s: %v", id, loc.PackKey, err)
		}
		return data
	}

	snaps, err := cat.Snapshots(ctx)
	if err != nil {
		t.Fatal(err)
	}
	seen := map[pack.ID]bool{}
	var walk func(id pack.ID)
	walk = func(id pack.ID) {
		if seen[id] {
			return
		}
		seen[id] = true
		data := blobData(id)
		if cached, err := cat.Tree(ctx, id); err != nil || !bytes.Equal(cached, data) {
			t.Errorf("tree %s: the bucket's copy differs from the catalog's (%v)", id, err)
		}
		tr, err := tree.Decode(data)
		if err != nil {
			t.Fatal(err)
		}
		for _, n := range tr.Nodes {
			switch n.Type {
			case tree.TypeDir:
				walk(n.Subtree)
			case tree.TypeFile:
				for _, c := range n.Content {
					if !seen[c] {
						seen[c] = true
						blobData(c)
					}
				}
			}
		}
	}
	for _, s := range snaps {
		rec, ok := records[s.ID]
		switch {
		case !ok:
			t.Errorf("snapshot %s: no snapshot record in the bucket", s.ID)
		case rec.Root != s.Root.String():
			t.Errorf("snapshot %s: the bucket's record has root %s, the catalog %s", s.ID, rec.Root, s.Root)
		case !slices.Contains(s.MetaKeys, metaOf[s.ID]):
			t.Errorf("snapshot %s: its record is in %s, not one of its metadata objects %v", s.ID, metaOf[s.ID], s.MetaKeys)
		}
		walk(s.Root)
		delete(records, s.ID)
	}
	// A run killed after its last metadata pack was sealed but before the
	// commit leaves a snapshot record the next run uploads (it resumes every
	// sealed pack) although the catalog never lists the snapshot. A catalog
	// rebuilt from the bucket would list it, so it must be whole too.
	for id, rec := range records {
		root, err := pack.ParseID(rec.Root)
		if err != nil {
			t.Fatal(err)
		}
		t.Logf("the bucket holds snapshot record %s (in %s) that the catalog never committed", id, metaOf[id])
		walk(root)
	}
	t.Logf("read back %d packs: %d snapshots in the catalog, %d more records in the bucket, %d distinct blobs verified",
		len(packs), len(snaps), len(records), len(seen))

	// Restore the last snapshot and compare it with the source.
	s, err := cat.FindSnapshot(ctx, last)
	if err != nil {
		t.Fatal(err)
	}
	dst := filepath.Join(t.TempDir(), "restored")
	root, err := tree.Decode(blobData(s.Root))
	if err != nil {
		t.Fatal(err)
	}
	if len(root.Nodes) != 1 || root.Nodes[0].Name != cc.Src {
		t.Fatalf("snapshot %s: root %+v, want the one path %s", s.ID, root.Nodes, cc.Src)
	}
	testrepo.WriteTree(t, blobData, root.Nodes[0].Subtree, dst)
	// Both ways, comparing what this restore keeps (not folder modes or
	// mtimes).
	for _, ab := range [][2]string{{cc.Src, dst}, {dst, cc.Src}} {
		if n := testrepo.CompareTrees(t, ab[0], ab[1], testrepo.TreeCheck{}); n.Files == 0 {
			t.Errorf("no files under %s", ab[0])
		}
	}
}
