package main

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"io"
	"net/http"
	"net/http/cookiejar"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/icevault/icevault/internal/agent"
	"github.com/icevault/icevault/internal/auth"
	"github.com/icevault/icevault/internal/auth/ssofake"
	"github.com/icevault/icevault/internal/dashboard"
	"github.com/icevault/icevault/internal/sim"
)

// syncBuffer is a bytes.Buffer the agent's logger and the test can share.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// agentEnv is a user with an IAM Identity Center profile (the SSO fake), a
// repository on the simulator that accepts the role's credentials, and
// icevault's config and keys under HOME.
type agentEnv struct {
	sso   *ssofake.Fake
	cache string // the SSO token cache file
	sim   *sim.Running
	src   string
}

func newAgentEnv(t *testing.T) *agentEnv {
	t.Helper()
	f, cache := loginEnv(t)
	home := os.Getenv("HOME")
	t.Setenv("XDG_CONFIG_HOME", filepath.Join(home, ".config"))
	t.Setenv("ICEVAULT_CONFIG", "")
	t.Setenv("ICEVAULT_KEYSTORE", "file")
	t.Setenv("ICEVAULT_PASSPHRASE_FILE", filepath.Join(home, "passphrase"))
	os.WriteFile(filepath.Join(home, "passphrase"), []byte("a long enough test passphrase\n"), 0o600)
	srv := startSim(t, sim.Options{Keys: map[string]string{f.RoleAccessKeyID: f.RoleSecretKey},
		Buckets: []string{"agent-bucket"}, EnforcePolicy: true})
	e := &agentEnv{sso: f, cache: cache, sim: srv, src: filepath.Join(home, "src")}
	// Three folders of incompressible data: several 8 MiB packs.
	for _, d := range []string{"a", "b", "c"} {
		os.MkdirAll(filepath.Join(e.src, d), 0o755)
		buf := make([]byte, 7<<20)
		rand.Read(buf)
		os.WriteFile(filepath.Join(e.src, d, "data.bin"), buf, 0o644)
	}
	return e
}

// login leaves a fresh SSO token in the cache, as `icevault login` does.
func (e *agentEnv) login(t *testing.T) {
	t.Helper()
	b := make([]byte, 16)
	rand.Read(b)
	tok := "token-" + hex.EncodeToString(b)
	exp := time.Now().Add(time.Hour)
	e.sso.AddAccessToken(tok, exp)
	if err := auth.WriteToken(e.cache, auth.Token{StartURL: "https://corp.awsapps.com/start", Region: "eu-west-1",
		AccessToken: tok, ExpiresAt: auth.CacheTime{Time: exp}}); err != nil {
		t.Fatal(err)
	}
}

// startAgent runs `icevault agent --headless` in this process until the
// test ends, and returns a client on its socket once it answers.
func startAgent(t *testing.T) (*agent.Client, *syncBuffer) {
	t.Helper()
	// No desktop: the agent runs without notifications, as on a server.
	t.Setenv("DBUS_SESSION_BUS_ADDRESS", "unix:path="+filepath.Join(t.TempDir(), "no-bus"))
	r := runAgent(t, "--headless")
	return r.client, r.logs
}

// runningAgent is an agent running in this process.
type runningAgent struct {
	client *agent.Client
	logs   *syncBuffer
	done   chan int

	mu       sync.Mutex
	code     int
	finished bool
}

// wait waits up to d for the agent to exit and returns its exit code.
func (r *runningAgent) wait(d time.Duration) (code int, exited bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if !r.finished {
		select {
		case r.code = <-r.done:
			r.finished = true
		case <-time.After(d):
		}
	}
	return r.code, r.finished
}

// runAgent runs `icevault agent ARGS` until the test ends (or it quits).
func runAgent(t *testing.T, args ...string) *runningAgent {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	r := &runningAgent{logs: &syncBuffer{}, done: make(chan int, 1)}
	go func() {
		r.done <- run(ctx, append([]string{"agent", "--restore-poll", "1s"}, args...), strings.NewReader(""), io.Discard, r.logs)
	}()
	t.Cleanup(func() {
		cancel()
		if code, exited := r.wait(30 * time.Second); !exited {
			t.Errorf("agent did not stop\n%s", r.logs)
		} else if code != 0 {
			t.Errorf("agent exited %d\n%s", code, r.logs)
		}
	})
	sock, err := agentSocket()
	if err != nil {
		t.Fatal(err)
	}
	r.client = agent.NewClient(sock)
	deadline := time.Now().Add(15 * time.Second)
	for {
		if _, err := r.client.Status(ctx); err == nil {
			break
		}
		if code, exited := r.wait(0); exited {
			t.Fatalf("agent exited %d\n%s", code, r.logs)
		}
		if time.Now().After(deadline) {
			t.Fatalf("agent not answering\n%s", r.logs)
		}
		time.Sleep(20 * time.Millisecond)
	}
	return r
}

// waitRun waits until the agent's newest run of the repository has ended
// with outcome (and is not one of skip).
func waitRun(t *testing.T, c *agent.Client, logs *syncBuffer, after int64, outcome string) agent.RunRecord {
	t.Helper()
	deadline := time.Now().Add(60 * time.Second)
	for time.Now().Before(deadline) {
		s, err := c.Status(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		for _, r := range s.Runs {
			if r.ID > after && r.Finished() {
				if r.Outcome != outcome {
					t.Fatalf("run %d ended %s (%s), want %s\n%s", r.ID, r.Outcome, r.Error, outcome, logs)
				}
				return r
			}
		}
		time.Sleep(20 * time.Millisecond)
	}
	t.Fatalf("no run after %d ended %s in time\n%s", after, outcome, logs)
	return agent.RunRecord{}
}

// TestAgentLoginRequiredAndResume: the agent holds a backup while the SSO
// login is missing and starts it by itself when a token appears; when the
// session ends mid-run it stops keeping every confirmed pack, and after the
// next login continues without uploading any of them again.
func TestAgentLoginRequiredAndResume(t *testing.T) {
	e := newAgentEnv(t)
	e.login(t)
	mustRun(t, "init", "--bucket", "agent-bucket", "--region", "us-east-1", "--endpoint", e.sim.URL,
		"--source", e.src, "--pack-size-mib", "8")
	os.Remove(e.cache)                      // logged out
	initPuts := e.sim.Counts()["PutObject"] // the repository's config object

	c, logs := startAgent(t)
	if out := mustRun(t, "status"); !strings.Contains(out, "Agent: running") || !strings.Contains(out, "never") {
		t.Errorf("status: %q", out)
	}

	// `icevault backup` hands the run to the agent, which finds no login.
	out, stderr, code := runCLI(t, "backup")
	if code != exitLoginRequired || !strings.Contains(out, "The agent is running") || !strings.Contains(stderr, "icevault login") {
		t.Fatalf("backup without a login: exit %d\n%s%s", code, out, stderr)
	}
	s, _ := c.Status(context.Background())
	first := s.Runs[0].ID
	if r := s.Repos[0]; r.State != "login_required" || !r.LoginRequired {
		t.Fatalf("repo state %+v", r)
	}
	if n := e.sim.Counts()["PutObject"] - initPuts; n != 0 {
		t.Fatalf("%d PUTs without a login", n)
	}
	if out := mustRun(t, "status"); !strings.Contains(out, "login_required") || !strings.Contains(out, "after `icevault login`") {
		t.Errorf("status while waiting for a login: %q", out)
	}

	// The portal session ends during the run: the second pack's PUT is
	// slow, and once the first is confirmed the session is ended. Role
	// credentials last a millisecond here, so every later request needs
	// the session, as one an hour later would.
	e.sso.RoleCredentialsTTL = time.Millisecond
	remove := e.sim.InjectFault(sim.Fault{Op: "PutObject", Latency: 2 * time.Second, Nth: 2, Times: 1})
	defer remove()
	defer func() {
		if t.Failed() {
			for _, r := range e.sim.Requests() {
				t.Logf("%s %s %d %s", r.Op, r.Key, r.Status, r.Code)
			}
		}
	}()
	dataPuts := func() map[string]int {
		seen := map[string]int{}
		for _, r := range e.sim.Requests() {
			if r.Op == "PutObject" && r.Status == http.StatusOK && strings.Contains(r.Key, "/data/") {
				seen[r.Key]++
			}
		}
		return seen
	}
	e.login(t) // the token appears: the held run starts without a click
	deadline := time.Now().Add(30 * time.Second)
	for len(dataPuts()) == 0 {
		if time.Now().After(deadline) {
			t.Fatalf("no pack uploaded\n%s", logs)
		}
		time.Sleep(5 * time.Millisecond)
	}
	e.sso.EndSession()
	stopped := waitRun(t, c, logs, first, "login_required")
	confirmed := dataPuts()
	putsBefore := len(e.sim.Requests())
	if len(confirmed) == 0 {
		t.Fatal("no pack was confirmed before the session ended")
	}

	e.login(t)
	done := waitRun(t, c, logs, stopped.ID, "ok")
	if done.Trigger != agent.TriggerManual || done.Result.Snapshot == "" {
		t.Errorf("resumed run %+v", done)
	}
	seen := dataPuts()
	for k, n := range seen {
		if n > 1 {
			t.Errorf("%s uploaded %d times", k, n)
		}
	}
	for k := range confirmed {
		if seen[k] != 1 {
			t.Errorf("confirmed pack %s: %d uploads after resuming", k, seen[k])
		}
	}
	resumedPuts := 0
	for _, r := range e.sim.Requests()[putsBefore:] {
		if r.Op == "PutObject" && r.Status == http.StatusOK {
			resumedPuts++
		}
	}
	if resumedPuts == 0 {
		t.Error("the resumed run uploaded nothing: where is its snapshot record?")
	}
	if snaps := jsonLines(t, mustRun(t, "snapshots", "--json")); len(snaps) != 1 {
		t.Errorf("snapshots: %v", snaps)
	}
	if n := e.sim.Counts()["DeleteObject"]; n != 0 {
		t.Errorf("%d DeleteObject calls", n)
	}

	// The dashboard opens through a one-time link from the socket; the
	// session token itself never leaves the agent.
	link := strings.TrimSpace(mustRun(t, "dashboard", "--print"))
	if !strings.HasPrefix(link, "http://127.0.0.1:") || !strings.Contains(link, "login=") {
		t.Fatalf("dashboard link %q", link)
	}
	jar, _ := cookiejar.New(nil)
	browser := &http.Client{Jar: jar}
	resp, err := browser.Get(link)
	if err != nil {
		t.Fatal(err)
	}
	page, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK || resp.Request.URL.RawQuery != "" || !strings.Contains(string(page), "default") ||
		resp.Header.Get("Content-Security-Policy") != dashboard.CSP {
		t.Errorf("dashboard overview: %s at %s, CSP %q\n%s", resp.Status, resp.Request.URL, resp.Header.Get("Content-Security-Policy"), page)
	}
	api := strings.SplitN(link, "/?", 2)[0] + agent.PathStatus
	if resp, err := browser.Get(api); err != nil || resp.StatusCode != http.StatusOK {
		t.Errorf("API with the session cookie: %v %v", resp.Status, err)
	}
	if resp, err := http.Get(api); err != nil || resp.StatusCode != http.StatusUnauthorized {
		t.Errorf("API without the session: %v %v", resp.Status, err)
	}
	if resp, _ := browser.Get(link); resp.StatusCode != http.StatusUnauthorized {
		t.Errorf("reused link: %s", resp.Status)
	}
}

// TestAgentFollowsConfig: a schedule set and a repository added in the
// config file reach the running agent; a broken edit is refused and the
// agent goes on with what it had.
func TestAgentFollowsConfig(t *testing.T) {
	srv := startSim(t, sim.Options{Buckets: []string{"cfg-bucket"}, EnforcePolicy: true})
	dir := cliEnv(t, sim.DefaultAccessKey, sim.DefaultSecretKey)
	src := filepath.Join(dir, "src")
	os.MkdirAll(src, 0o755)
	os.WriteFile(filepath.Join(src, "a.txt"), []byte("a"), 0o644)
	mustRun(t, "init", "--bucket", "cfg-bucket", "--region", "us-east-1", "--endpoint", srv.URL, "--source", src)
	mustRun(t, "backup")
	c, logs := startAgent(t)
	cfgPath, err := (&app{}).configFilePath()
	if err != nil {
		t.Fatal(err)
	}
	waitStatus := func(what string, ok func(agent.Status) bool) agent.Status {
		t.Helper()
		deadline := time.Now().Add(20 * time.Second)
		for {
			s, err := c.Status(context.Background())
			if err == nil && ok(s) {
				return s
			}
			if time.Now().After(deadline) {
				t.Fatalf("%s: status %+v, %v\n%s", what, s, err, logs)
			}
			time.Sleep(20 * time.Millisecond)
		}
	}
	// Started, and has read the repository's last backup from its catalog.
	s := waitStatus("started", func(s agent.Status) bool { return len(s.Repos) == 1 && !s.Repos[0].LastBackup.IsZero() })
	if r := s.Repos[0]; r.Schedule != "manual" || r.LastBackup.IsZero() || r.State != "idle" {
		t.Fatalf("at start: %+v", r)
	}

	// A plain `icevault backup` is handed to the agent and reports as a
	// backup run here does.
	os.WriteFile(filepath.Join(src, "b.txt"), []byte("b"), 0o644)
	out := mustRun(t, "backup", "--json")
	if sum := lastSummary(t, out); sum["files_new"].(float64) != 1 || sum["files_unchanged"].(float64) != 1 ||
		!strings.Contains(out, `"agent_run"`) {
		t.Errorf("handed-off backup --json: %s", out)
	}
	os.WriteFile(filepath.Join(src, "c.txt"), []byte("c"), 0o644)
	if out := mustRun(t, "backup"); !strings.Contains(out, "The agent is running") || !strings.Contains(out, "Files:    1 new, 0 changed, 2 unchanged") {
		t.Errorf("handed-off backup: %s", out)
	}

	cfg, _ := os.ReadFile(cfgPath)
	edited := strings.Replace(string(cfg), "[repository.default]\n", "[repository.default]\nschedule = \"every 6h\"\n", 1) +
		"\n[repository.second]\nbucket = \"cfg-bucket\"\nprefix = \"other/\"\nregion = \"us-east-1\"\nendpoint = \"" + srv.URL + "\"\nschedule = \"daily 03:00\"\n"
	if err := os.WriteFile(cfgPath+".tmp", []byte(edited), 0o600); err != nil {
		t.Fatal(err)
	}
	os.Rename(cfgPath+".tmp", cfgPath) // as an editor saves
	s = waitStatus("after the edit", func(s agent.Status) bool { return len(s.Repos) == 2 && !s.Repos[0].NextRun.IsZero() })
	def := s.Repos[0]
	if def.Name != "default" || def.Schedule != "every 6h0m0s" || !def.NextRun.Equal(def.LastBackup.Add(6*time.Hour)) {
		t.Errorf("default after the edit: %+v (its last backup must be kept, not re-run)", def)
	}
	if s.Repos[1].Name != "second" || s.Repos[1].Schedule != "daily 03:00" {
		t.Errorf("second: %+v", s.Repos[1])
	}

	os.WriteFile(cfgPath, []byte(edited+"\nschedule = \"hourly\"\n"), 0o600)
	deadline := time.Now().Add(20 * time.Second)
	for !strings.Contains(logs.String(), "config not reloaded") {
		if time.Now().After(deadline) {
			t.Fatalf("a broken config was not reported\n%s", logs)
		}
		time.Sleep(20 * time.Millisecond)
	}
	if s, _ := c.Status(context.Background()); len(s.Repos) != 2 {
		t.Errorf("after a broken edit the agent has %d repositories, want the 2 it had", len(s.Repos))
	}
}
