package restore_test

import (
	"bytes"
	"context"
	"encoding/hex"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"syscall"
	"testing"
	"time"

	"filippo.io/age"

	"github.com/icevault/icevault/internal/catalog"
	"github.com/icevault/icevault/internal/keystore"
	"github.com/icevault/icevault/internal/pack"
	"github.com/icevault/icevault/internal/restore"
	"github.com/icevault/icevault/internal/store"
	"github.com/icevault/icevault/internal/testrepo"
)

// TestKillDuringAssembly SIGKILLs a process while it writes restored files:
// afterwards every file under its final name is complete and correct (or
// absent), and the next run finishes the job.
func TestKillDuringAssembly(t *testing.T) {
	if os.Getenv("ICEVAULT_ASSEMBLE_CHILD") != "" {
		return
	}
	f := setup(t)
	ctx := context.Background()
	big := filepath.Join(f.src, "video", "big.mov")
	testrepo.WriteFile(t, big, testrepo.Random(40<<20))
	testrepo.WriteFile(t, filepath.Join(f.src, "video", "small.txt"), []byte("small"))
	sum := f.Backup(f.src)
	snap, err := f.Cat.FindSnapshot(ctx, sum.SnapshotID)
	if err != nil {
		t.Fatal(err)
	}
	f.snap = snap
	// Each trial restores into a new folder with a new job (the packs are
	// thawed already), so every child has the whole assembly to do.
	newJob := func() (int64, string) {
		target := filepath.Join(t.TempDir(), "r")
		job := f.start(t, nil, target, store.TierBulk, 3)
		f.Clock.Advance(49 * time.Hour)
		if _, err := restore.Refresh(ctx, f.Cat, f.Store, job, f.opts); err != nil {
			t.Fatal(err)
		}
		if err := restore.Download(ctx, f.Cat, f.Store, job, restore.JobDir(f.Spool, job), f.opts); err != nil {
			t.Fatal(err)
		}
		return job, target
	}
	child := func(job int64, kill time.Duration) (time.Duration, bool) {
		cmd := exec.Command(os.Args[0], "-test.run=^TestAssembleChild$")
		cmd.Env = append(os.Environ(), "ICEVAULT_ASSEMBLE_CHILD=1",
			"ICEVAULT_CATALOG="+f.Cat.Path(), "ICEVAULT_JOB="+strconv.FormatInt(job, 10),
			"ICEVAULT_IDENTITY="+f.Secrets.Identity, "ICEVAULT_IDKEY="+hex.EncodeToString(f.Repo.IDKey[:]))
		var out bytes.Buffer
		cmd.Stdout, cmd.Stderr = &out, &out
		start := time.Now()
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		done := make(chan error, 1)
		go func() { done <- cmd.Wait() }()
		timer := time.NewTimer(kill)
		defer timer.Stop()
		select {
		case err := <-done:
			if err != nil {
				t.Fatalf("the child failed: %v\n%s", err, out.String())
			}
			return time.Since(start), false
		case <-timer.C:
			cmd.Process.Signal(syscall.SIGKILL)
			<-done
			return kill, true
		}
	}
	calJob, _ := newJob()
	full, _ := child(calJob, time.Minute)
	t.Logf("an uninterrupted assembly takes %v", full)

	rng := rand.New(rand.NewPCG(1, 2))
	killed := 0
	var job int64
	var target string
	for trial := range 6 {
		if trial%2 == 0 {
			job, target = newJob()
		}
		delay := time.Duration(rng.Int64N(int64(full)*9/10)) + time.Millisecond
		if _, k := child(job, delay); k {
			killed++
		} else {
			t.Logf("trial %d: the child finished before the kill at %v", trial, delay)
		}
		// Whatever is under a final name is whole and right.
		for _, p := range []string{big, filepath.Join(f.src, "video", "small.txt"), filepath.Join(f.src, "photos", "a.raw")} {
			got, err := os.ReadFile(filepath.Join(target, p))
			if os.IsNotExist(err) {
				continue
			}
			want, _ := os.ReadFile(p)
			if !bytes.Equal(got, want) {
				t.Fatalf("trial %d (kill after %v): %s holds %d bytes that are not the original's %d", trial, delay, p, len(got), len(want))
			}
		}
	}
	if killed == 0 {
		t.Fatal("no trial killed the child mid-way; the test proved nothing")
	}
	if pr := f.step(t, job); !pr.Done {
		t.Fatalf("after the kills: %+v", pr)
	}
	testrepo.SameTree(t, f.src, filepath.Join(target, f.src))
	left, _ := filepath.Glob(filepath.Join(target, f.src, "video", ".icevault-restore-*"))
	if len(left) > 0 {
		t.Fatalf("temporary files left after the job finished: %v", left)
	}
}

// TestAssembleChild is TestKillDuringAssembly's victim.
func TestAssembleChild(t *testing.T) {
	if os.Getenv("ICEVAULT_ASSEMBLE_CHILD") == "" {
		return
	}
	ctx := context.Background()
	cat, err := catalog.Open(ctx, os.Getenv("ICEVAULT_CATALOG"))
	if err != nil {
		t.Fatal(err)
	}
	id, _ := strconv.ParseInt(os.Getenv("ICEVAULT_JOB"), 10, 64)
	ident, err := keystore.ParseIdentity(os.Getenv("ICEVAULT_IDENTITY"))
	if err != nil {
		t.Fatal(err)
	}
	var key pack.IDKey
	b, _ := hex.DecodeString(os.Getenv("ICEVAULT_IDKEY"))
	copy(key[:], b)
	j, err := cat.Job(ctx, id)
	if err != nil {
		t.Fatal(err)
	}
	snap, err := cat.FindSnapshot(ctx, j.Snapshot)
	if err != nil {
		t.Fatal(err)
	}
	plan, err := restore.MakePlan(ctx, cat, snap, j.Paths)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := restore.Assemble(ctx, cat, j, plan, []age.Identity{ident}, key, restore.Options{}); err != nil {
		t.Fatal(err)
	}
}
