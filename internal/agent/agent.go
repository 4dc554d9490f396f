package agent

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/icevault/icevault/internal/auth"
	"github.com/icevault/icevault/internal/clock"
	"github.com/icevault/icevault/internal/config"
	"github.com/icevault/icevault/internal/notify"
	"github.com/icevault/icevault/internal/store"
)

// Runner does the work for one repository. cmd/icevault implements it on
// the backup and restore engines; tests use a fake.
type Runner interface {
	// Credentials reports whether the repository's credentials work now,
	// without logging in: nil, or an error auth.Classify can read.
	Credentials(ctx context.Context, repo string) error
	// LastBackup is when the repository's newest snapshot was taken (zero
	// if none).
	LastBackup(ctx context.Context, repo string) (time.Time, error)
	// Backup runs one backup, reporting progress as it goes.
	Backup(ctx context.Context, repo string, progress func(Progress)) (Result, error)
	// Restores advances the repository's active restore jobs one step
	// (poll, download what is ready, write files) and reports each job
	// that was active when called.
	Restores(ctx context.Context, repo string) ([]Job, error)
}

// Notifier shows notifications (notify.Limiter in the agent command).
type Notifier interface {
	Notify(ctx context.Context, n notify.Notification) (notify.ID, error)
}

// Progress is how far a running backup is.
type Progress struct {
	Percent int    `json:"percent"` // 0–100; negative while unknown
	Files   int64  `json:"files"`
	Bytes   int64  `json:"bytes"`
	Path    string `json:"path,omitempty"`
}

// Result is a finished backup.
type Result struct {
	Snapshot string `json:"snapshot,omitempty"` // empty when nothing changed
	Summary  string `json:"summary"`            // one line, e.g. "12 files changed, 3.1 MiB uploaded"
	Partial  bool   `json:"partial,omitempty"`  // some files could not be read
	// Detail is the runner's full report (the backup summary), handed to
	// a CLI that asked the agent to run it; the agent does not read it.
	Detail json.RawMessage `json:"detail,omitempty"`
}

// Job is a restore job as the agent reports it.
type Job struct {
	ID            int64     `json:"id"`
	Label         string    `json:"label"` // what it restores, e.g. "photos/2019 → /tmp/back"
	Pending       int       `json:"pending"`
	Thawing       int       `json:"thawing"`
	Ready         int       `json:"ready"`
	Downloaded    int       `json:"downloaded"`
	Files         int       `json:"files"`
	FilesRestored int       `json:"files_restored"`
	ETA           time.Time `json:"eta,omitzero"`
	Done          bool      `json:"done"`
}

// Repo is one repository the agent looks after.
type Repo struct {
	Name     string
	Schedule config.Schedule
}

// Options configure an Agent. Runner is required.
type Options struct {
	Repos    []Repo
	Runner   Runner
	Notifier Notifier // nil: no notifications
	Clock    clock.Clock
	Location *time.Location // for "daily HH:MM" slots; default time.Local
	// OnChange receives the newest Status after changes, one call at a
	// time from a goroutine of the agent's; changes made meanwhile are
	// coalesced into the next call.
	OnChange func(Status)
	// Login runs an interactive login for repo (the tray's "Log in to
	// AWS…"); nil means the agent cannot, and says so.
	Login func(ctx context.Context, repo string) error
	Logf  func(format string, args ...any)

	WakeEvery   time.Duration // default 1 min: how late a run missed during sleep may start
	RestorePoll time.Duration // default 15 min: a thaw takes hours; LIST-based polls cost little
	Backoff     time.Duration // default DefaultBackoff
	MaxBackoff  time.Duration // default DefaultMaxBackoff
}

// Trigger says why a run started.
type Trigger string

// Triggers.
const (
	TriggerSchedule Trigger = "schedule"
	TriggerManual   Trigger = "manual"
)

// RunRecord is one backup run, running or finished.
type RunRecord struct {
	ID       int64     `json:"id"`
	Repo     string    `json:"repo"`
	Trigger  Trigger   `json:"trigger"`
	Queued   time.Time `json:"queued"`
	Started  time.Time `json:"started,omitzero"`
	Ended    time.Time `json:"ended,omitzero"`
	Progress Progress  `json:"progress"`
	// Outcome is "queued", "running", "ok", "partial", "stopped",
	// "login_required" or "failed".
	Outcome string `json:"outcome"`
	Result  Result `json:"result"`
	Error   string `json:"error,omitempty"`
	Class   string `json:"class,omitempty"` // auth.Class of Error
}

// Finished reports whether the run has ended.
func (r RunRecord) Finished() bool { return !r.Ended.IsZero() }

// RepoStatus is one repository's state.
type RepoStatus struct {
	Name          string     `json:"name"`
	Schedule      string     `json:"schedule"`
	State         string     `json:"state"` // idle, queued, running, login_required, error
	LastBackup    time.Time  `json:"last_backup,omitzero"`
	LastRun       *RunRecord `json:"last_run,omitempty"`
	Running       *RunRecord `json:"running,omitempty"`
	NextRun       time.Time  `json:"next_run,omitzero"`
	Failures      int        `json:"failures"`
	LoginRequired bool       `json:"login_required"`
	LoginMessage  string     `json:"login_message,omitempty"`
	Restores      []Job      `json:"restores,omitempty"`
	RestoreError  string     `json:"restore_error,omitempty"`
}

// Status is the agent's state, as the CLI, tray and dashboard show it.
type Status struct {
	Now    time.Time    `json:"now"`
	Paused bool         `json:"paused"`
	Repos  []RepoStatus `json:"repos"`
	Runs   []RunRecord  `json:"runs"` // recent runs, newest first
}

// Errors the API maps to statuses.
var (
	ErrUnknownRepo = errors.New("agent: no such repository")
	ErrNoLogin     = errors.New("agent: this agent cannot log in; run `icevault login` in a terminal")
)

// keepRuns bounds Status.Runs: enough for a CLI to find its handed-off run.
const keepRuns = 32

type repoState struct {
	Repo
	lastKnown     bool // lastSuccess was read from the catalog; until then nothing is due
	lastSuccess   time.Time
	lastAttempt   time.Time
	failures      int
	loginRequired bool
	loginMessage  string
	queued        *RunRecord // a "Back up now" or a run waiting for login
	last          *RunRecord
	restores      []Job
	restoreErr    string
}

// Agent runs scheduled backups and restore jobs. Create it with New and
// run it with Run; its methods are safe for concurrent use.
type Agent struct {
	o Options

	mu       sync.Mutex
	repos    []*repoState
	paused   bool
	running  *RunRecord
	cancel   context.CancelFunc // of the running task
	runs     []RunRecord        // finished, newest first
	nextID   int64
	restDue  time.Time // next restore poll
	loggedIn bool      // a login is in progress

	wake    chan struct{} // re-evaluate now
	changed chan struct{} // publish Status
	loops   atomic.Int64  // loop iterations, for tests to know a signal was seen
}

// New returns an agent for o.
func New(o Options) *Agent {
	if o.Clock == nil {
		o.Clock = clock.Real{}
	}
	if o.Location == nil {
		o.Location = time.Local
	}
	if o.WakeEvery <= 0 {
		o.WakeEvery = time.Minute
	}
	if o.RestorePoll <= 0 {
		o.RestorePoll = 15 * time.Minute
	}
	if o.Backoff <= 0 {
		o.Backoff = DefaultBackoff
	}
	if o.MaxBackoff <= 0 {
		o.MaxBackoff = DefaultMaxBackoff
	}
	a := &Agent{o: o, wake: make(chan struct{}, 1), changed: make(chan struct{}, 1)}
	for _, r := range o.Repos {
		a.repos = append(a.repos, &repoState{Repo: r})
	}
	return a
}

func (a *Agent) logf(format string, args ...any) {
	if a.o.Logf != nil {
		a.o.Logf(format, args...)
	}
}

func signal(ch chan struct{}) {
	select {
	case ch <- struct{}{}:
	default:
	}
}

func (a *Agent) repo(name string) *repoState {
	for _, r := range a.repos {
		if r.Name == name {
			return r
		}
	}
	return nil
}

// due is when r should run next (ok false: only when asked).
func (a *Agent) due(r *repoState) (time.Time, bool) {
	if !r.lastKnown {
		return time.Time{}, false
	}
	if r.queued != nil {
		return r.queued.Queued, true
	}
	if r.failures > 0 {
		return r.lastAttempt.Add(backoff(r.failures, a.o.Backoff, a.o.MaxBackoff)), !r.Schedule.Manual()
	}
	return nextDue(r.Schedule, r.lastSuccess, a.o.Location)
}

// Status returns the agent's state now.
func (a *Agent) Status() Status {
	a.mu.Lock()
	defer a.mu.Unlock()
	s := Status{Now: a.o.Clock.Now(), Paused: a.paused, Runs: append([]RunRecord(nil), a.runs...)}
	if a.running != nil {
		s.Runs = append([]RunRecord{*a.running}, s.Runs...)
	}
	for _, r := range a.repos {
		rs := RepoStatus{Name: r.Name, Schedule: describe(r.Schedule), LastBackup: r.lastSuccess,
			Failures: r.failures, LoginRequired: r.loginRequired, LoginMessage: r.loginMessage,
			Restores: append([]Job(nil), r.restores...), RestoreError: r.restoreErr}
		if r.last != nil {
			l := *r.last
			rs.LastRun = &l
		}
		if due, ok := a.due(r); ok && !(a.paused && r.queued == nil) {
			rs.NextRun = due
		}
		switch {
		case a.running != nil && a.running.Repo == r.Name:
			cur := *a.running
			rs.Running, rs.State = &cur, "running"
		case r.loginRequired:
			rs.State = "login_required"
		case r.queued != nil:
			cur := *r.queued
			rs.Running, rs.State = &cur, "queued"
		case r.failures > 0:
			rs.State = "error"
		default:
			rs.State = "idle"
		}
		s.Repos = append(s.Repos, rs)
	}
	return s
}

func describe(s config.Schedule) string {
	switch {
	case s.Manual():
		return "manual"
	case s.Interval > 0:
		return "every " + s.Interval.String()
	}
	out := "daily"
	for i, m := range s.Times {
		sep := ","
		if i == 0 {
			sep = " "
		}
		out += fmt.Sprintf("%s%02d:%02d", sep, m/60, m%60)
	}
	return out
}

// BackupNow queues a backup of repo ("" means every repository) and
// returns its run ID; a run of repo already queued or running is returned
// instead of a second one. It runs even while scheduled runs are paused.
func (a *Agent) BackupNow(repo string) ([]int64, error) {
	a.mu.Lock()
	defer a.mu.Unlock()
	var targets []*repoState
	if repo == "" {
		targets = a.repos
	} else if r := a.repo(repo); r != nil {
		targets = []*repoState{r}
	} else {
		return nil, fmt.Errorf("%w: %q", ErrUnknownRepo, repo)
	}
	var ids []int64
	for _, r := range targets {
		switch {
		case a.running != nil && a.running.Repo == r.Name:
			ids = append(ids, a.running.ID)
		case r.queued != nil:
			r.queued.Trigger = TriggerManual
			ids = append(ids, r.queued.ID)
		default:
			r.queued = a.newRun(r.Name, TriggerManual)
			ids = append(ids, r.queued.ID)
		}
	}
	signal(a.wake)
	signal(a.changed)
	return ids, nil
}

func (a *Agent) newRun(repo string, t Trigger) *RunRecord {
	a.nextID++
	return &RunRecord{ID: a.nextID, Repo: repo, Trigger: t, Queued: a.o.Clock.Now(), Outcome: "queued"}
}

// Pause stops scheduled runs, and the running one (it keeps every
// confirmed pack; the next run continues). Manual runs still start.
func (a *Agent) Pause() {
	a.mu.Lock()
	a.paused = true
	if a.running != nil && a.running.Trigger == TriggerSchedule && a.cancel != nil {
		a.cancel()
	}
	a.mu.Unlock()
	signal(a.wake)
	signal(a.changed)
}

// Resume lets scheduled runs start again; a run missed meanwhile starts now.
func (a *Agent) Resume() {
	a.mu.Lock()
	a.paused = false
	a.mu.Unlock()
	signal(a.wake)
	signal(a.changed)
}

// CredentialsChanged says the credentials may work now (the token cache
// changed, or a login finished): a run held back by "login required"
// starts, and checks them first.
func (a *Agent) CredentialsChanged() {
	a.mu.Lock()
	for _, r := range a.repos {
		// A scheduled run held back is still due by its schedule; a
		// manual one was queued again when it stopped.
		r.loginRequired, r.loginMessage = false, ""
	}
	a.restDue = time.Time{}
	a.mu.Unlock()
	signal(a.wake)
	signal(a.changed)
}

// RestoresChanged asks for a restore poll now (a job was started).
func (a *Agent) RestoresChanged() {
	a.mu.Lock()
	a.restDue = time.Time{}
	a.mu.Unlock()
	signal(a.wake)
}

// Login runs the configured login for repo ("" means the first repository
// that needs one) in the background; when it succeeds the held-back runs
// start. It never runs by itself: only on the user's click or request.
func (a *Agent) Login(ctx context.Context, repo string) error {
	if a.o.Login == nil {
		return ErrNoLogin
	}
	a.mu.Lock()
	if repo == "" {
		for _, r := range a.repos {
			if r.loginRequired {
				repo = r.Name
				break
			}
		}
		if repo == "" && len(a.repos) > 0 {
			repo = a.repos[0].Name
		}
	}
	if a.repo(repo) == nil {
		a.mu.Unlock()
		return fmt.Errorf("%w: %q", ErrUnknownRepo, repo)
	}
	if a.loggedIn {
		a.mu.Unlock()
		return nil // one login at a time; the first click is being served
	}
	a.loggedIn = true
	a.mu.Unlock()
	go func() {
		err := a.o.Login(ctx, repo)
		a.mu.Lock()
		a.loggedIn = false
		a.mu.Unlock()
		if err != nil {
			a.logf("login for %s: %v", repo, err)
			return
		}
		a.CredentialsChanged()
	}()
	return nil
}

type taskResult struct {
	run      *RunRecord // nil for a restore poll
	result   Result
	err      error
	restores map[string][]Job
	restErrs map[string]error
}

// Run runs the agent until ctx ends; it then stops the running task and
// waits for it (a backup stops keeping every confirmed pack).
func (a *Agent) Run(ctx context.Context) error {
	pubCtx, stopPub := context.WithCancel(context.Background())
	pubDone := make(chan struct{})
	go a.publish(pubCtx, pubDone)
	defer func() { stopPub(); <-pubDone }()
	signal(a.changed)

	done := make(chan taskResult, 1)
	busy := false
	for {
		a.readLastBackups(ctx)
		if !busy {
			busy = a.startTask(ctx, done)
		}
		a.loops.Add(1)
		wait := a.nextWake()
		sleepCtx, stopSleep := context.WithCancel(ctx)
		woke := make(chan struct{})
		go func() {
			if a.o.Clock.Sleep(sleepCtx, wait) == nil {
				close(woke)
			}
		}()
		select {
		case <-ctx.Done():
			stopSleep()
			if busy {
				a.finish(<-done)
			}
			return ctx.Err()
		case res := <-done:
			busy = false
			a.finish(res)
		case <-a.wake:
		case <-woke:
		}
		stopSleep()
	}
}

// readLastBackups reads, from the catalogs, when each repository the agent
// has not seen yet was last backed up (at start, and for repositories added
// to the config later), so that a repository backed up an hour ago by the
// CLI is not due again at once.
func (a *Agent) readLastBackups(ctx context.Context) {
	a.mu.Lock()
	var names []string
	for _, r := range a.repos {
		if !r.lastKnown {
			names = append(names, r.Name)
		}
	}
	a.mu.Unlock()
	for _, name := range names {
		last, err := a.o.Runner.LastBackup(ctx, name)
		if err != nil {
			a.logf("reading the last backup of %s: %v", name, err)
		}
		a.mu.Lock()
		if r := a.repo(name); r != nil && !r.lastKnown {
			r.lastSuccess, r.lastKnown = last, true
		}
		a.mu.Unlock()
		signal(a.changed)
	}
}

// SetRepos replaces the repositories the agent looks after (the config file
// changed). A repository it knew keeps its history and takes its new
// schedule; a new one is due once its last backup is read; a removed one is
// dropped (a run of it that is going finishes).
func (a *Agent) SetRepos(repos []Repo) {
	a.mu.Lock()
	known := map[string]*repoState{}
	for _, r := range a.repos {
		known[r.Name] = r
	}
	next := make([]*repoState, 0, len(repos))
	for _, r := range repos {
		if s, ok := known[r.Name]; ok {
			s.Schedule = r.Schedule
			next = append(next, s)
		} else {
			next = append(next, &repoState{Repo: r})
		}
	}
	a.repos = next
	a.mu.Unlock()
	signal(a.wake)
	signal(a.changed)
}

// nextWake is how long the loop may sleep: until the earliest due run or
// restore poll, and never longer than WakeEvery (sleep stops timers).
func (a *Agent) nextWake() time.Duration {
	a.mu.Lock()
	defer a.mu.Unlock()
	now := a.o.Clock.Now()
	wait := a.o.WakeEvery
	consider := func(t time.Time) {
		if d := t.Sub(now); d < wait {
			wait = max(d, time.Millisecond)
		}
	}
	for _, r := range a.repos {
		if due, ok := a.due(r); ok && !r.loginRequired && (!a.paused || r.queued != nil) {
			consider(due)
		}
	}
	if !a.restDue.IsZero() {
		consider(a.restDue)
	}
	return wait
}

// startTask starts the next due backup, or else a due restore poll, and
// reports whether it started one.
func (a *Agent) startTask(ctx context.Context, done chan<- taskResult) bool {
	a.mu.Lock()
	defer a.mu.Unlock()
	now := a.o.Clock.Now()
	for _, r := range a.repos {
		if r.loginRequired || (a.paused && r.queued == nil) {
			continue
		}
		due, ok := a.due(r)
		if !ok || due.After(now) {
			continue
		}
		run := r.queued
		if run == nil {
			run = a.newRun(r.Name, TriggerSchedule)
		}
		r.queued = nil
		run.Started, run.Outcome, run.Progress.Percent = now, "running", -1
		a.running = run
		tctx, cancel := context.WithCancel(ctx)
		a.cancel = cancel
		go func(name string, run RunRecord) {
			defer cancel()
			res, err := a.backup(tctx, name, run.ID)
			done <- taskResult{run: &run, result: res, err: err}
		}(r.Name, *run)
		signal(a.changed)
		return true
	}
	if a.restDue.After(now) {
		return false
	}
	a.restDue = now.Add(a.o.RestorePoll)
	var names []string
	for _, r := range a.repos {
		if !r.loginRequired {
			names = append(names, r.Name)
		}
	}
	tctx, cancel := context.WithCancel(ctx)
	a.cancel = cancel
	go func() {
		defer cancel()
		res := taskResult{restores: map[string][]Job{}, restErrs: map[string]error{}}
		for _, n := range names {
			jobs, err := a.o.Runner.Restores(tctx, n)
			res.restores[n], res.restErrs[n] = jobs, err
		}
		done <- res
	}()
	return true
}

func (a *Agent) backup(ctx context.Context, repo string, id int64) (Result, error) {
	if err := a.o.Runner.Credentials(ctx, repo); err != nil {
		return Result{}, fmt.Errorf("checking credentials: %w", err)
	}
	return a.o.Runner.Backup(ctx, repo, func(p Progress) {
		a.mu.Lock()
		if a.running != nil && a.running.ID == id {
			a.running.Progress = p
		}
		a.mu.Unlock()
		signal(a.changed)
	})
}

// finish records a task's outcome and says what needs saying.
func (a *Agent) finish(res taskResult) {
	if res.run == nil {
		a.finishRestores(res)
		return
	}
	a.mu.Lock()
	now := a.o.Clock.Now()
	run := *a.running
	a.running, a.cancel = nil, nil
	r := a.repo(run.Repo)
	if r == nil { // removed from the config while it ran: only the run is kept
		r = &repoState{Repo: Repo{Name: run.Repo}}
	}
	run.Ended, run.Result = now, res.result
	var note *notify.Notification
	switch class := classify(res.err); {
	case res.err == nil:
		run.Outcome = "ok"
		if res.result.Partial {
			run.Outcome = "partial"
		}
		r.lastSuccess, r.failures = run.Started, 0
		note = &notify.Notification{Kind: notify.BackupFinished, Group: r.Name,
			Title: "Backup of " + r.Name + " finished", Body: res.result.Summary}
		if res.result.Partial {
			note.Body += "\nSome files could not be read; `icevault backup` lists them."
		}
	case errors.Is(res.err, context.Canceled):
		run.Outcome, run.Error = "stopped", "stopped before it finished; the next run continues where it stopped"
	case class == auth.LoginRequired:
		run.Outcome, run.Error, run.Class = "login_required", res.err.Error(), class.String()
		wasRequired := r.loginRequired
		r.loginRequired, r.loginMessage = true, auth.LoginRequiredMessage
		if run.Trigger == TriggerManual {
			// Asked for by the user: it waits for the login (a scheduled
			// run stays due by its schedule).
			r.queued = a.newRun(r.Name, TriggerManual)
		}
		if !wasRequired {
			note = &notify.Notification{Kind: notify.LoginRequired, Group: r.Name,
				Title:   "AWS login required",
				Body:    "The backup of " + r.Name + " is waiting: its AWS sign-in has expired. Log in and it continues where it stopped.",
				Actions: []notify.Action{notify.ActionLogin}}
		}
	default:
		run.Outcome, run.Error, run.Class = "failed", res.err.Error(), class.String()
		r.failures++
		r.lastAttempt = now
		retry := now.Add(backoff(r.failures, a.o.Backoff, a.o.MaxBackoff))
		note = &notify.Notification{Kind: notify.BackupFailed, Group: r.Name,
			Title: "Backup of " + r.Name + " failed",
			Body:  fmt.Sprintf("%s\n%s Next try at %s.", res.err, advice(class), retry.In(a.o.Location).Format("15:04"))}
	}
	r.last = &run
	a.runs = append([]RunRecord{run}, a.runs...)
	if len(a.runs) > keepRuns {
		a.runs = a.runs[:keepRuns]
	}
	a.mu.Unlock()
	signal(a.changed)
	if note != nil {
		a.send(*note)
	}
}

// classify reads the store's own error kinds, then anything else the one
// credential classifier knows.
func classify(err error) auth.Class {
	switch store.KindOf(err) {
	case store.KindLoginRequired:
		return auth.LoginRequired
	case store.KindAccessDenied:
		return auth.AccessDenied
	case store.KindTransient:
		return auth.Transient
	}
	return auth.Classify(err)
}

// advice is what a user can do about a failed run of class c.
func advice(c auth.Class) string {
	switch c {
	case auth.AccessDenied:
		return "The AWS policy refused a request: check it with `icevault doctor` (`icevault policy` prints the one icevault needs)."
	case auth.Transient:
		return "AWS or the network is unavailable; it will be retried."
	}
	return "See `icevault status` and `icevault doctor`."
}

func (a *Agent) finishRestores(res taskResult) {
	var notes []notify.Notification
	a.mu.Lock()
	a.cancel = nil
	for name, jobs := range res.restores {
		r := a.repo(name)
		if r == nil { // removed from the config meanwhile
			continue
		}
		err := res.restErrs[name]
		switch {
		case err == nil:
			r.restoreErr = ""
		case errors.Is(err, context.Canceled):
			continue
		case classify(err) == auth.LoginRequired:
			r.loginRequired, r.loginMessage = true, auth.LoginRequiredMessage
			r.restoreErr = err.Error()
			continue
		default:
			r.restoreErr = err.Error()
			a.logf("restore jobs of %s: %v", name, err)
			continue
		}
		prev := map[int64]Job{}
		for _, j := range r.restores {
			prev[j.ID] = j
		}
		for _, j := range jobs {
			p, seen := prev[j.ID]
			group := fmt.Sprintf("%s/%d", name, j.ID)
			if j.Done && !p.Done {
				body := fmt.Sprintf("%s: %d files written, every byte verified.", j.Label, j.FilesRestored)
				if j.Files == 0 {
					body = j.Label + ": done."
				}
				notes = append(notes, notify.Notification{Kind: notify.RestoreComplete, Group: group,
					Title: "Restore complete", Body: body})
			} else if j.Ready+j.Downloaded > 0 && (!seen || p.Ready+p.Downloaded == 0) {
				notes = append(notes, notify.Notification{Kind: notify.RestoreReady, Group: group,
					Title: "Restore ready", Body: j.Label + ": Deep Archive has thawed the data; downloading now."})
			}
		}
		r.restores = jobs
	}
	a.mu.Unlock()
	signal(a.changed)
	for _, n := range notes {
		a.send(n)
	}
}

func (a *Agent) send(n notify.Notification) {
	if a.o.Notifier == nil {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if _, err := a.o.Notifier.Notify(ctx, n); err != nil {
		a.logf("notification %q: %v", n.Title, err)
	}
}

func (a *Agent) publish(ctx context.Context, done chan<- struct{}) {
	defer close(done)
	for {
		select {
		case <-ctx.Done():
			return
		case <-a.changed:
			if a.o.OnChange != nil {
				a.o.OnChange(a.Status())
			}
		}
	}
}
