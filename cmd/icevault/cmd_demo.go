package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io/fs"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"time"

	"filippo.io/age"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/spf13/cobra"

	"github.com/icevault/icevault/internal/backup"
	"github.com/icevault/icevault/internal/catalog"
	"github.com/icevault/icevault/internal/clock"
	"github.com/icevault/icevault/internal/cost"
	"github.com/icevault/icevault/internal/repo"
	"github.com/icevault/icevault/internal/restore"
	"github.com/icevault/icevault/internal/sim"
	"github.com/icevault/icevault/internal/store"
	"github.com/icevault/icevault/internal/store/s3store"
)

const demoBucket = "icevault-demo"

func newDemoCmd(a *app) *cobra.Command {
	var (
		scale float64
		tier  string
		keep  string
	)
	cmd := &cobra.Command{
		Use:   "demo",
		Short: "The whole story on the built-in Deep Archive simulator: back up, quote, thaw, restore, verify",
		Long: `Run icevault end to end against the Deep Archive simulator inside this process — no
AWS account, nothing leaves this machine: create a repository, back up a generated
sample folder (deduplicated, packed, compressed, encrypted, create-only PUTs to
DEEP_ARCHIVE), back it up again after a change and with no change, show what a
restore would cost and when it would be ready, thaw it (12 h for standard, on a
clock running --time-scale times faster), restore it and verify every byte.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			t, err := parseTier(tier)
			if err != nil {
				return usageError{err}
			}
			if scale < 1 {
				return usageError{errors.New("--time-scale must be at least 1")}
			}
			return runDemo(cmd.Context(), a, demoOptions{scale: scale, tier: t, keep: keep})
		},
	}
	f := cmd.Flags()
	f.Float64Var(&scale, "time-scale", 7200, "simulated seconds per real second (7200: a 12 h thaw takes 6 s)")
	f.StringVar(&tier, "tier", "standard", "thaw tier: standard (12 h) or bulk (48 h)")
	f.StringVar(&keep, "keep", "", "keep the sample, the restore and the simulator's objects in this folder (default: a temporary one, removed)")
	return cmd
}

func parseTier(s string) (store.Tier, error) {
	switch strings.ToLower(s) {
	case "standard":
		return store.TierStandard, nil
	case "bulk":
		return store.TierBulk, nil
	case "expedited":
		return "", errors.New("tier expedited does not exist for Deep Archive: use standard (≤ 12 h) or bulk (≤ 48 h)")
	}
	return "", fmt.Errorf("tier %q: use standard (≤ 12 h) or bulk (≤ 48 h)", s)
}

type demoOptions struct {
	scale float64
	tier  store.Tier
	keep  string
}

// demoStep is one line of the demo's story; with --json each is one event.
type demoStep struct {
	Event string `json:"event"`
	Step  string `json:"step"`
	Text  string `json:"text"`
}

// demoSecrets keeps the demo repository's keys in memory: the demo never
// touches the real keychain.
type demoSecrets struct {
	identity string
	key      [32]byte
}

func (d *demoSecrets) SaveSecrets(_, identity string, key [32]byte) error {
	d.identity, d.key = identity, key
	return nil
}
func (d *demoSecrets) LoadBlobIDKey(string) ([32]byte, error) { return d.key, nil }

func runDemo(ctx context.Context, a *app, o demoOptions) error {
	say := func(step, format string, args ...any) {
		text := fmt.Sprintf(format, args...)
		if a.json {
			_ = a.emitJSON(demoStep{Event: "demo", Step: step, Text: text})
			return
		}
		a.printf("%-8s %s\n", step, text)
	}
	work := o.keep
	if work == "" {
		var err error
		if work, err = os.MkdirTemp("", "icevault-demo-"); err != nil {
			return err
		}
		defer os.RemoveAll(work)
	}
	clk := clock.NewScaled(o.scale)
	srv, err := sim.Start(sim.Options{Clock: clk, Buckets: []string{demoBucket}, EnforcePolicy: true, Dir: filepath.Join(work, "bucket")})
	if err != nil {
		return fmt.Errorf("starting the simulator: %w", err)
	}
	defer srv.Close()
	say("sim", "Deep Archive simulator at %s (in this process; policy: create-only DEEP_ARCHIVE puts, no deletes), clock x%g", srv.URL, o.scale)

	client, err := s3store.NewClient(aws.Config{Region: "us-east-1",
		Credentials: credentials.NewStaticCredentialsProvider(sim.DefaultAccessKey, sim.DefaultSecretKey, "")},
		s3store.ClientOptions{Endpoint: srv.URL, MaxAttempts: 3})
	if err != nil {
		return err
	}
	st := s3store.New(client, demoBucket, s3store.Options{})
	cat, err := catalog.Open(ctx, filepath.Join(work, "catalog.db"))
	if err != nil {
		return err
	}
	defer cat.Close()
	secrets := &demoSecrets{}
	layout, _ := repo.NewLayout("icevault/", "demo")
	r, _, err := repo.Init(ctx, st, cat, secrets, repo.InitOptions{Bucket: demoBucket, Layout: layout, PackSize: 8 << 20, Now: clk.Now()})
	if err != nil {
		return err
	}
	say("init", "repository %s at s3://%s/%s; keys: ML-KEM-768 + X25519 (post-quantum) age identity", r.Config.ID[:12], demoBucket, layout.Root)

	src := filepath.Join(work, "sample", "Documents")
	if err := makeSample(src); err != nil {
		return err
	}
	spool := filepath.Join(work, "spool")
	run := func(label string) (backup.Summary, error) {
		sum, err := backup.Run(ctx, r, cat, st, backup.Options{Paths: []string{src}, Host: "demo", SpoolDir: spool, Clock: clk})
		if err != nil {
			return sum, err
		}
		switch {
		case sum.Unchanged:
			say("backup", "%s: nothing changed: no snapshot, %d requests", label, sum.PutRequests)
		default:
			say("backup", "%s: snapshot %s: %d new, %d changed, %d unchanged files; %s read, %s new, %d PUTs (%s/month)",
				label, short(sum.SnapshotID), sum.FilesNew, sum.FilesChanged, sum.FilesUnchanged, bytesize(sum.BytesRead),
				bytesize(sum.BytesAdded), sum.PutRequests, cost.Dollars(sum.MonthlyCost))
		}
		return sum, nil
	}
	first, err := run("first")
	if err != nil {
		return err
	}
	if err := os.WriteFile(filepath.Join(src, "notes", "todo.txt"), []byte("- check the restore quote\n- keep the recovery kit offline\n"), 0o644); err != nil {
		return err
	}
	if _, err := run("after a change"); err != nil {
		return err
	}
	if _, err := run("again"); err != nil {
		return err
	}
	packs, _ := cat.Packs(ctx, catalog.PackFilter{Kind: catalog.PackData})
	if _, err := st.Get(ctx, packs[0].Key, nil); !errors.Is(err, store.ErrArchived) {
		return fmt.Errorf("reading an archived pack was not refused: %v", err)
	}
	say("get", "reading a pack now: refused, 403 InvalidObjectState; Deep Archive objects must be thawed first")

	snap, err := cat.FindSnapshot(ctx, "latest")
	if err != nil {
		return err
	}
	plan, err := restore.MakePlan(ctx, cat, snap, nil)
	if err != nil {
		return err
	}
	q := restore.QuoteFor(plan, o.tier, 1, cost.Default, clk.Now())
	for _, tq := range q.Tiers {
		say("quote", "%-8s %d files (%s) in %d packs (%s): ready within %dh, %s", strings.ToLower(string(tq.Tier)), q.Files,
			bytesize(q.FileBytes), q.Packs, bytesize(q.PackBytes), int(restore.ThawTime(tq.Tier).Hours()), cost.Dollars(tq.Total))
	}
	target := filepath.Join(work, "restored")
	ro := restore.Options{Clock: clk, RequestInterval: time.Millisecond}
	job, err := restore.Start(ctx, cat, st, plan, q, target, o.tier, 1, false, ro)
	if err != nil {
		return err
	}
	say("restore", "job %d: %s thaw of %d packs requested (202); asking again now would get 409 RestoreAlreadyInProgress", job, strings.ToLower(string(o.tier)), len(plan.Packs))
	id, err := age.ParseHybridIdentity(secrets.identity)
	if err != nil {
		return err
	}
	keys := restore.Keys{Identities: []age.Identity{id}, IDKey: r.IDKey}
	start := clk.Now()
	pr, err := restore.Wait(ctx, cat, st, job, spool, keys, time.Hour, ro, func(pr restore.Progress) {
		if h := int(clk.Now().Sub(start).Round(time.Hour).Hours()); !pr.Done && !a.json && h%3 == 0 {
			say("thaw", "%2dh (simulated): %d packs thawing; what needs no pack (links, empty files) is already written", h, pr.Status.Thawing)
		}
	})
	if err != nil {
		return err
	}
	say("restore", "done after %s of simulated time: %d items written to %s", clk.Now().Sub(start).Round(time.Minute), pr.Status.FilesRestored, target)

	n, err := compareTrees(src, filepath.Join(target, src))
	if err != nil {
		return err
	}
	say("verify", "%d files compared with the originals: identical, byte for byte (contents, modes, mtimes, links)", n)
	c := srv.Counts()
	say("log", "requests the bucket saw: PutObject %d, RestoreObject %d, GetObject %d, HeadObject %d, ListObjectsV2 %d; DeleteObject %d, CopyObject %d, multipart %d",
		c["PutObject"], c["RestoreObject"], c["GetObject"], c["HeadObject"], c["ListObjectsV2"], c["DeleteObject"]+c["DeleteObjects"],
		c["CopyObject"], c["CreateMultipartUpload"]+c["UploadPart"]+c["CompleteMultipartUpload"])
	if a.json {
		return a.emitJSON(map[string]any{"event": "done", "verified": true, "files": n, "snapshot": first.SnapshotID, "requests": c})
	}
	a.printf("done. Next: icevault --help (and docs/recovery-by-hand.md)\n")
	return nil
}

// makeSample writes a small, varied folder: text, an "photo" that does not
// compress, a duplicate, nested folders, a symlink, an empty folder.
func makeSample(root string) error {
	rng := rand.New(rand.NewPCG(7, 11))
	photo := make([]byte, 3<<20)
	for i := range photo {
		photo[i] = byte(rng.IntN(256))
	}
	files := map[string][]byte{
		"letters/to-future-me.txt":    []byte(strings.Repeat("Dear future me, the backups work.\n", 400)),
		"letters/copy-of-it.txt":      []byte(strings.Repeat("Dear future me, the backups work.\n", 400)),
		"photos/2026/beach.raw":       photo,
		"notes/ideas.md":              []byte("# Ideas\n\n- archive everything\n"),
		"notes/naïve café résumé.txt": []byte("names in any script survive\n"),
	}
	for name, data := range files {
		p := filepath.Join(root, filepath.FromSlash(name))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			return err
		}
		if err := os.WriteFile(p, data, 0o644); err != nil {
			return err
		}
	}
	if err := os.MkdirAll(filepath.Join(root, "empty-folder"), 0o755); err != nil {
		return err
	}
	return os.Symlink("letters/to-future-me.txt", filepath.Join(root, "latest-letter"))
}

// compareTrees checks that b holds exactly what a holds.
func compareTrees(a, b string) (int, error) {
	n := 0
	err := filepath.WalkDir(a, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(a, p)
		q := filepath.Join(b, rel)
		fa, err := os.Lstat(p)
		if err != nil {
			return err
		}
		fb, err := os.Lstat(q)
		if err != nil {
			return fmt.Errorf("verify: %s is missing from the restore", rel)
		}
		if fa.Mode() != fb.Mode() {
			return fmt.Errorf("verify: %s: mode %v, restored %v", rel, fa.Mode(), fb.Mode())
		}
		switch {
		case fa.Mode().IsRegular():
			x, _ := os.ReadFile(p)
			y, _ := os.ReadFile(q)
			if !bytes.Equal(x, y) || !fa.ModTime().Equal(fb.ModTime()) {
				return fmt.Errorf("verify: %s differs from the original", rel)
			}
			n++
		case fa.Mode()&fs.ModeSymlink != 0:
			x, _ := os.Readlink(p)
			y, _ := os.Readlink(q)
			if x != y {
				return fmt.Errorf("verify: link %s points to %q, restored %q", rel, x, y)
			}
		}
		return nil
	})
	return n, err
}
