package agent

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/icevault/icevault/internal/clock"
	"github.com/icevault/icevault/internal/config"
	"github.com/icevault/icevault/internal/notify"
)

var utc = time.UTC

func mustSchedule(t *testing.T, s string) config.Schedule {
	t.Helper()
	sc, err := config.ParseSchedule(s)
	if err != nil {
		t.Fatal(err)
	}
	return sc
}

func TestNextDue(t *testing.T) {
	at := func(s string) time.Time {
		v, err := time.Parse("2006-01-02 15:04", s)
		if err != nil {
			t.Fatal(err)
		}
		return v
	}
	ny, err := time.LoadLocation("America/New_York")
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		sched, last string
		loc         *time.Location
		want        string // "" = due at once; "manual" = never
	}{
		{"", "2026-12-01 10:00", utc, "manual"},
		{"every 6h", "", utc, ""},
		{"every 6h", "2026-12-01 10:00", utc, "2026-12-01 16:00"},
		{"daily 02:30", "", utc, ""},
		{"daily 02:30", "2026-12-01 02:30", utc, "2026-12-02 02:30"},
		{"daily 02:30", "2026-12-01 01:00", utc, "2026-12-01 02:30"},
		{"daily 09:00,21:00", "2026-12-01 09:05", utc, "2026-12-01 21:00"},
		{"daily 09:00,21:00", "2026-12-01 21:00", utc, "2026-12-02 09:00"},
		{"daily 23:59", "2026-12-31 23:59", utc, "2027-01-01 23:59"},
	} {
		var last time.Time
		if tc.last != "" {
			last = at(tc.last)
		}
		due, ok := nextDue(mustSchedule(t, tc.sched), last, tc.loc)
		switch {
		case tc.want == "manual":
			if ok {
				t.Errorf("%q: due %v, want manual", tc.sched, due)
			}
		case tc.want == "":
			if !ok || !due.IsZero() {
				t.Errorf("%q never backed up: due %v %v, want at once", tc.sched, due, ok)
			}
		case !ok || !due.Equal(at(tc.want)):
			t.Errorf("%q after %s: due %v, want %s", tc.sched, tc.last, due, tc.want)
		}
	}
	// A slot is a wall-clock time: "daily 02:30" stays 02:30 local across
	// the end of daylight saving time (New York, 1 Nov 2026).
	last := time.Date(2026, 10, 31, 2, 30, 0, 0, ny)
	due, _ := nextDue(mustSchedule(t, "daily 02:30"), last, ny)
	if want := time.Date(2026, 11, 1, 2, 30, 0, 0, ny); !due.Equal(want) || due.Sub(last) != 25*time.Hour {
		t.Errorf("across DST: due %v (%v later), want %v", due, due.Sub(last), want)
	}
}

func TestBackoff(t *testing.T) {
	want := []time.Duration{5 * time.Minute, 10 * time.Minute, 20 * time.Minute, 40 * time.Minute, 80 * time.Minute, 160 * time.Minute, 320 * time.Minute, 6 * time.Hour, 6 * time.Hour}
	for i, w := range want {
		if got := backoff(i+1, DefaultBackoff, DefaultMaxBackoff); got != w {
			t.Errorf("failure %d: backoff %v, want %v", i+1, got, w)
		}
	}
}

// fakeRunner records calls; its function fields decide the answers.
type fakeRunner struct {
	clk *clock.Fake

	mu       sync.Mutex
	last     time.Time
	lastBy   map[string]time.Time // per repository, where set
	creds    func(repo string) error
	backup   func(ctx context.Context, repo string, progress func(Progress)) (Result, error)
	restores func(repo string) ([]Job, error)
	backups  []time.Time // fake time of each Backup call
	repos    []string    // and of which repository
	checks   int
}

func (f *fakeRunner) Credentials(ctx context.Context, repo string) error {
	f.mu.Lock()
	f.checks++
	c := f.creds
	f.mu.Unlock()
	if c != nil {
		return c(repo)
	}
	return nil
}

func (f *fakeRunner) LastBackup(ctx context.Context, repo string) (time.Time, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if t, ok := f.lastBy[repo]; ok {
		return t, nil
	}
	return f.last, nil
}

func (f *fakeRunner) Backup(ctx context.Context, repo string, progress func(Progress)) (Result, error) {
	f.mu.Lock()
	f.backups = append(f.backups, f.clk.Now())
	f.repos = append(f.repos, repo)
	b := f.backup
	f.mu.Unlock()
	if b != nil {
		return b(ctx, repo, progress)
	}
	return Result{Summary: "ok"}, nil
}

func (f *fakeRunner) Restores(ctx context.Context, repo string) ([]Job, error) {
	f.mu.Lock()
	r := f.restores
	f.mu.Unlock()
	if r != nil {
		return r(repo)
	}
	return nil, nil
}

func (f *fakeRunner) backupTimes() []time.Time {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]time.Time(nil), f.backups...)
}

func (f *fakeRunner) set(fn func(f *fakeRunner)) {
	f.mu.Lock()
	defer f.mu.Unlock()
	fn(f)
}

// fakeNotifier records notifications.
type fakeNotifier struct {
	mu    sync.Mutex
	notes []notify.Notification
}

func (n *fakeNotifier) Notify(ctx context.Context, note notify.Notification) (notify.ID, error) {
	n.mu.Lock()
	defer n.mu.Unlock()
	n.notes = append(n.notes, note)
	return notify.ID(len(n.notes)), nil
}

func (n *fakeNotifier) kinds() []notify.Kind {
	n.mu.Lock()
	defer n.mu.Unlock()
	var k []notify.Kind
	for _, x := range n.notes {
		k = append(k, x.Kind)
	}
	return k
}

func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(2 * time.Millisecond)
	}
}

type harness struct {
	t      *testing.T
	clk    *clock.Fake
	runner *fakeRunner
	notes  *fakeNotifier
	agent  *Agent
	stop   func()
}

var t0 = time.Date(2026, 12, 4, 1, 0, 0, 0, time.UTC)

// withRunner sets up the fake runner before the agent starts (a change
// after the start races with the first run).
func withRunner(fn func(*fakeRunner)) func(*Options) {
	return func(o *Options) { fn(o.Runner.(*fakeRunner)) }
}

func start(t *testing.T, sched string, last time.Time, tweak func(*Options)) *harness {
	t.Helper()
	clk := clock.NewFake(t0)
	r := &fakeRunner{clk: clk, last: last}
	n := &fakeNotifier{}
	o := Options{Repos: []Repo{{Name: "main", Schedule: mustSchedule(t, sched)}}, Runner: r, Notifier: n,
		Clock: clk, Location: time.UTC, RestorePoll: 24 * time.Hour}
	if tweak != nil {
		tweak(&o)
	}
	a := New(o)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- a.Run(ctx) }()
	h := &harness{t: t, clk: clk, runner: r, notes: n, agent: a}
	h.stop = func() {
		cancel()
		if err := <-done; !errors.Is(err, context.Canceled) {
			t.Errorf("Run returned %v", err)
		}
	}
	t.Cleanup(h.stop)
	return h
}

// idle waits until the agent runs nothing and sleeps on the clock.
func (h *harness) idle() {
	h.t.Helper()
	waitFor(h.t, "the agent to be idle", func() bool {
		s := h.agent.Status()
		for _, r := range s.Repos {
			if r.State == "running" || r.State == "queued" {
				return false
			}
		}
		h.agent.mu.Lock()
		busy := h.agent.cancel != nil
		h.agent.mu.Unlock()
		return !busy && h.clk.Sleepers() > 0
	})
}

// advance moves the clock in steps no longer than the agent's wake
// interval, letting it act at each, as real time would.
func (h *harness) advance(d time.Duration) {
	h.t.Helper()
	for step := time.Minute; d > 0; d -= step {
		h.idle()
		h.clk.Advance(min(step, d))
	}
	h.idle()
}

// after calls fn (which signals the agent) and waits until the agent has
// seen it and is idle again.
func (h *harness) after(fn func()) {
	h.t.Helper()
	g := h.agent.loops.Load()
	fn()
	waitFor(h.t, "the agent to wake", func() bool { return h.agent.loops.Load() > g })
	h.idle()
}

func (h *harness) repo() RepoStatus { return h.agent.Status().Repos[0] }

func TestScheduledRuns(t *testing.T) {
	h := start(t, "every 6h", t0.Add(-time.Hour), nil)
	h.advance(4*time.Hour + 59*time.Minute)
	if got := h.runner.backupTimes(); len(got) != 0 {
		t.Fatalf("ran at %v, before it was due (5 h from now)", got)
	}
	if nr := h.repo().NextRun; !nr.Equal(t0.Add(5 * time.Hour)) {
		t.Errorf("NextRun %v, want %v", nr, t0.Add(5*time.Hour))
	}
	h.advance(6*time.Hour + time.Minute)
	got := h.runner.backupTimes()
	if len(got) != 2 || !got[0].Equal(t0.Add(5*time.Hour)) || !got[1].Equal(t0.Add(11*time.Hour)) {
		t.Fatalf("runs at %v, want at +5h and +11h", got)
	}
	s := h.repo()
	if s.LastRun == nil || s.LastRun.Outcome != "ok" || s.LastRun.Trigger != TriggerSchedule || !s.LastBackup.Equal(t0.Add(11*time.Hour)) {
		t.Errorf("status after runs: %+v", s)
	}
	if k := h.notes.kinds(); len(k) != 2 || k[0] != notify.BackupFinished {
		t.Errorf("notifications %v, want two BackupFinished", k)
	}
}

func TestNeverBackedUpRunsAtOnce(t *testing.T) {
	h := start(t, "daily 02:30", time.Time{}, nil)
	h.idle()
	if got := h.runner.backupTimes(); len(got) != 1 || !got[0].Equal(t0) {
		t.Fatalf("runs %v, want one at start", got)
	}
	if nr := h.repo().NextRun; !nr.Equal(t0.Add(90 * time.Minute)) {
		t.Errorf("next run %v, want today 02:30", nr)
	}
}

func TestCatchUpAfterSleep(t *testing.T) {
	// Last backup yesterday 02:30; the laptop sleeps from 01:00 to 09:00
	// through today's 02:30 slot (and the clock jumps, as wall time does).
	h := start(t, "daily 02:30", t0.Add(-22*time.Hour-30*time.Minute), nil)
	h.idle()
	h.clk.Set(t0.Add(8 * time.Hour))
	h.idle()
	got := h.runner.backupTimes()
	if len(got) != 1 || !got[0].Equal(t0.Add(8*time.Hour)) {
		t.Fatalf("runs %v, want exactly one catch-up run at wake (09:00)", got)
	}
	if nr := h.repo().NextRun; !nr.Equal(time.Date(2026, 12, 5, 2, 30, 0, 0, time.UTC)) {
		t.Errorf("next run %v, want tomorrow 02:30", nr)
	}
	// A manual schedule never runs by itself, however long it sleeps.
	m := start(t, "", t0.Add(-30*24*time.Hour), nil)
	m.idle()
	m.clk.Advance(72 * time.Hour)
	m.idle()
	if got := m.runner.backupTimes(); len(got) != 0 {
		t.Errorf("manual schedule ran at %v", got)
	}
}

func TestBackoffAfterFailures(t *testing.T) {
	fails := 3
	h := start(t, "every 1h", t0.Add(-2*time.Hour), withRunner(func(f *fakeRunner) {
		f.backup = func(ctx context.Context, repo string, _ func(Progress)) (Result, error) {
			f.mu.Lock()
			defer f.mu.Unlock()
			if fails > 0 {
				fails--
				return Result{}, errors.New("disk on fire")
			}
			return Result{Summary: "ok"}, nil
		}
	}))
	h.advance(2 * time.Hour)
	got := h.runner.backupTimes()
	// t0 fails, +5m fails, +15m fails, +35m succeeds, then every hour.
	want := []time.Duration{0, 5 * time.Minute, 15 * time.Minute, 35 * time.Minute, 95 * time.Minute}
	if len(got) != len(want) {
		t.Fatalf("runs at %v, want at %v after t0", got, want)
	}
	for i := range want {
		if !got[i].Equal(t0.Add(want[i])) {
			t.Errorf("run %d at %v, want t0+%v", i, got[i].Sub(t0), want[i])
		}
	}
	k := h.notes.kinds()
	if len(k) != 5 || k[0] != notify.BackupFailed || k[3] != notify.BackupFinished {
		t.Errorf("notifications %v", k)
	}
	if s := h.repo(); s.Failures != 0 || s.State != "idle" {
		t.Errorf("after recovery: %+v", s)
	}
}

// loginErr is what the SDK says when the SSO token cache cannot be used.
var loginErr = errors.New("failed to refresh cached credentials, cached SSO token is expired, or not present, and cannot be refreshed")

func TestLoginRequiredHoldsAndResumes(t *testing.T) {
	h := start(t, "every 1h", t0.Add(-2*time.Hour), withRunner(func(f *fakeRunner) {
		f.creds = func(string) error { return loginErr }
	}))
	h.advance(3 * time.Hour)
	if got := h.runner.backupTimes(); len(got) != 0 {
		t.Fatalf("backed up at %v with credentials that need a login", got)
	}
	s := h.repo()
	if s.State != "login_required" || !s.LoginRequired || s.LastRun.Outcome != "login_required" {
		t.Fatalf("status %+v", s)
	}
	// One check, one notification: no retry on a timer while it waits.
	h.runner.mu.Lock()
	checks := h.runner.checks
	h.runner.mu.Unlock()
	if checks != 1 {
		t.Errorf("%d credential checks while waiting for a login, want 1", checks)
	}
	k := h.notes.kinds()
	if len(k) != 1 || k[0] != notify.LoginRequired || h.notes.notes[0].Actions[0] != notify.ActionLogin {
		t.Fatalf("notifications %+v, want one LoginRequired with a Log in action", h.notes.notes)
	}
	// The token appears: the held run starts at once.
	h.runner.set(func(f *fakeRunner) { f.creds = nil })
	h.after(h.agent.CredentialsChanged)
	got := h.runner.backupTimes()
	if len(got) != 1 || !got[0].Equal(t0.Add(3*time.Hour)) {
		t.Fatalf("runs %v, want one right after the login", got)
	}
	if s := h.repo(); s.State != "idle" || s.LoginRequired {
		t.Errorf("after login: %+v", s)
	}
}

func TestLoginRequiredMidRunKeepsManualRun(t *testing.T) {
	h := start(t, "", t0, nil)
	calls := 0
	h.runner.set(func(f *fakeRunner) {
		f.backup = func(ctx context.Context, repo string, progress func(Progress)) (Result, error) {
			progress(Progress{Percent: 40})
			f.mu.Lock()
			defer f.mu.Unlock()
			calls++
			if calls == 1 {
				return Result{}, fmt.Errorf("uploading pack: %w", loginErr)
			}
			return Result{Summary: "resumed"}, nil
		}
	})
	h.idle()
	var ids []int64
	var err error
	h.after(func() { ids, err = h.agent.BackupNow("main") })
	if err != nil || len(ids) != 1 {
		t.Fatal(ids, err)
	}
	s := h.agent.Status()
	if s.Repos[0].State != "login_required" || s.Runs[0].ID != ids[0] || s.Runs[0].Outcome != "login_required" {
		t.Fatalf("status %+v", s)
	}
	h.advance(2 * time.Hour) // nothing happens while the login is missing
	if n := len(h.runner.backupTimes()); n != 1 {
		t.Fatalf("%d backups while waiting for a login", n)
	}
	h.after(h.agent.CredentialsChanged)
	s = h.agent.Status()
	if n := len(h.runner.backupTimes()); n != 2 || s.Runs[0].Outcome != "ok" || s.Runs[0].Trigger != TriggerManual {
		t.Fatalf("after login: %d backups, last run %+v", n, s.Runs[0])
	}
}

func TestPauseStopsAndHolds(t *testing.T) {
	started := make(chan struct{}, 4)
	h := start(t, "every 1h", t0.Add(-2*time.Hour), withRunner(func(f *fakeRunner) {
		f.backup = func(ctx context.Context, repo string, _ func(Progress)) (Result, error) {
			started <- struct{}{}
			<-ctx.Done()
			return Result{}, fmt.Errorf("backup stopped: %w", ctx.Err())
		}
	}))
	<-started
	h.after(h.agent.Pause)
	s := h.agent.Status()
	if !s.Paused || s.Runs[0].Outcome != "stopped" || s.Repos[0].Failures != 0 {
		t.Fatalf("after pause: %+v", s)
	}
	h.advance(5 * time.Hour)
	if n := len(h.runner.backupTimes()); n != 1 {
		t.Fatalf("%d runs while paused", n)
	}
	// "Back up now" works while paused.
	h.runner.set(func(f *fakeRunner) { f.backup = nil })
	h.after(func() {
		if _, err := h.agent.BackupNow(""); err != nil {
			t.Error(err)
		}
	})
	if n := len(h.runner.backupTimes()); n != 2 {
		t.Fatalf("%d runs after Back up now, want 2", n)
	}
	h.after(h.agent.Resume)
	h.advance(time.Hour)
	if n := len(h.runner.backupTimes()); n != 3 {
		t.Fatalf("%d runs an hour after Resume, want 3", n)
	}
	if _, err := h.agent.BackupNow("nope"); !errors.Is(err, ErrUnknownRepo) {
		t.Errorf("BackupNow(unknown) = %v", err)
	}
}

func TestRestoreJobsNotify(t *testing.T) {
	step := 0
	h := start(t, "", t0, func(o *Options) {
		o.RestorePoll = time.Hour
		withRunner(func(f *fakeRunner) {
			f.restores = func(string) ([]Job, error) {
				f.mu.Lock()
				defer f.mu.Unlock()
				step++
				switch step {
				case 1:
					return []Job{{ID: 7, Label: "docs", Thawing: 2}}, nil
				case 2:
					return []Job{{ID: 7, Label: "docs", Thawing: 1, Ready: 1}}, nil
				case 3:
					return []Job{{ID: 7, Label: "docs", Ready: 1, Downloaded: 1}}, nil
				}
				return []Job{{ID: 7, Label: "docs", Downloaded: 2, Done: true, Files: 3, FilesRestored: 3}}, nil
			}
		})(o)
	})
	h.advance(3*time.Hour + time.Minute)
	k := h.notes.kinds()
	if len(k) != 2 || k[0] != notify.RestoreReady || k[1] != notify.RestoreComplete {
		t.Fatalf("notifications %v after polls, want RestoreReady then RestoreComplete", k)
	}
	if j := h.repo().Restores; len(j) != 1 || !j[0].Done {
		t.Errorf("jobs %+v", j)
	}
	// RestoresChanged polls at once instead of waiting an hour.
	h.runner.mu.Lock()
	before := step
	h.runner.mu.Unlock()
	h.after(h.agent.RestoresChanged)
	h.runner.mu.Lock()
	after := step
	h.runner.mu.Unlock()
	if after != before+1 {
		t.Errorf("RestoresChanged: %d polls, want 1", after-before)
	}
}

func TestSetRepos(t *testing.T) {
	h := start(t, "", t0, nil)
	h.idle()
	// The config gains a schedule for "main" and a repository "photos",
	// backed up half an hour ago by the CLI.
	h.runner.set(func(f *fakeRunner) { f.lastBy = map[string]time.Time{"photos": t0.Add(-30 * time.Minute)} })
	h.after(func() {
		h.agent.SetRepos([]Repo{{Name: "main", Schedule: mustSchedule(t, "every 1h")}, {Name: "photos", Schedule: mustSchedule(t, "every 1h")}})
	})
	s := h.agent.Status()
	if len(s.Repos) != 2 || !s.Repos[0].NextRun.Equal(t0.Add(time.Hour)) || !s.Repos[1].NextRun.Equal(t0.Add(30*time.Minute)) {
		t.Fatalf("after SetRepos: %+v", s.Repos)
	}
	h.advance(31 * time.Minute)
	h.runner.mu.Lock()
	repos := append([]string(nil), h.runner.repos...)
	h.runner.mu.Unlock()
	if len(repos) != 1 || repos[0] != "photos" {
		t.Fatalf("runs of %v, want photos once (its last backup was read, not assumed never)", repos)
	}
	// "main" leaves the config.
	h.after(func() { h.agent.SetRepos([]Repo{{Name: "photos", Schedule: mustSchedule(t, "every 1h")}}) })
	if s := h.agent.Status(); len(s.Repos) != 1 || s.Repos[0].Name != "photos" || s.Repos[0].LastRun == nil {
		t.Fatalf("after removing main: %+v", s.Repos)
	}
	if _, err := h.agent.BackupNow("main"); !errors.Is(err, ErrUnknownRepo) {
		t.Errorf("BackupNow(removed) = %v", err)
	}
}

func TestOnChangeSeesProgress(t *testing.T) {
	var mu sync.Mutex
	var seen []int
	release := make(chan struct{})
	h := start(t, "", t0, func(o *Options) {
		o.OnChange = func(s Status) {
			if r := s.Repos[0].Running; r != nil && r.Outcome == "running" {
				mu.Lock()
				seen = append(seen, r.Progress.Percent)
				mu.Unlock()
			}
		}
	})
	h.runner.set(func(f *fakeRunner) {
		f.backup = func(ctx context.Context, repo string, progress func(Progress)) (Result, error) {
			progress(Progress{Percent: 42})
			<-release
			return Result{}, nil
		}
	})
	h.agent.BackupNow("main")
	waitFor(t, "progress 42 published", func() bool {
		mu.Lock()
		defer mu.Unlock()
		return len(seen) > 0 && seen[len(seen)-1] == 42
	})
	close(release)
	h.idle()
}
