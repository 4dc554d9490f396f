package agent

import (
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

// guarded serves an "ok" page behind a Guard on a real loopback listener.
func guarded(t *testing.T) (*Guard, string) {
	t.Helper()
	g, err := NewGuard()
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(g.Wrap(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, "ok "+r.URL.Path)
	})))
	t.Cleanup(srv.Close)
	g.SetAddr(srv.Listener.Addr().String())
	return g, srv.URL
}

func TestGuard(t *testing.T) {
	g, base := guarded(t)
	u, _ := url.Parse(base)
	_, port, _ := net.SplitHostPort(u.Host)

	get := func(c *http.Client, target string, hdr map[string]string) (int, string, *http.Response) {
		t.Helper()
		req, _ := http.NewRequest(http.MethodGet, target, nil)
		for k, v := range hdr {
			if k == "Host" {
				req.Host = v
			} else {
				req.Header.Set(k, v)
			}
		}
		resp, err := c.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b), resp
	}
	plain := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	bearer := map[string]string{"Authorization": "Bearer " + g.Token()}

	for _, tc := range []struct {
		name string
		hdr  map[string]string
		want int
	}{
		{"no token", nil, http.StatusUnauthorized},
		{"wrong token", map[string]string{"Authorization": "Bearer " + strings.Repeat("0", 64)}, http.StatusUnauthorized},
		{"token", bearer, http.StatusOK},
		{"localhost with token", map[string]string{"Authorization": bearer["Authorization"], "Host": "localhost:" + port}, http.StatusOK},
		{"rebound host", map[string]string{"Authorization": bearer["Authorization"], "Host": "evil.example:" + port}, http.StatusMisdirectedRequest},
		{"foreign origin", map[string]string{"Authorization": bearer["Authorization"], "Origin": "http://evil.example"}, http.StatusForbidden},
		{"other port origin", map[string]string{"Authorization": bearer["Authorization"], "Origin": "http://127.0.0.1:1"}, http.StatusForbidden},
		{"cross-site fetch", map[string]string{"Authorization": bearer["Authorization"], "Sec-Fetch-Site": "cross-site"}, http.StatusForbidden},
		{"own origin", map[string]string{"Authorization": bearer["Authorization"], "Origin": base}, http.StatusOK},
	} {
		code, body, resp := get(plain, base+"/x", tc.hdr)
		if code != tc.want {
			t.Errorf("%s: %d %q, want %d", tc.name, code, body, tc.want)
		}
		if csp := resp.Header.Get("Content-Security-Policy"); csp != CSP {
			t.Errorf("%s: CSP %q", tc.name, csp)
		}
		if strings.Contains(body, g.Token()) {
			t.Errorf("%s: the token appears in a response", tc.name)
		}
	}

	// A one-time link signs a browser in: cookie set, code removed from
	// the URL, and the same link refused a second time.
	link, err := g.Link("/snapshots?repo=main")
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(link, g.Token()) {
		t.Fatal("the link carries the session token")
	}
	jar, _ := cookiejar.New(nil)
	browser := &http.Client{Jar: jar}
	code, body, resp := get(browser, link, nil)
	if code != http.StatusOK || body != "ok /snapshots" || resp.Request.URL.Query().Get("login") != "" || resp.Request.URL.Query().Get("repo") != "main" {
		t.Fatalf("link: %d %q at %s", code, body, resp.Request.URL)
	}
	if code, _, _ := get(browser, base+"/other", nil); code != http.StatusOK {
		t.Errorf("cookie not kept: %d", code)
	}
	if code, _, _ := get(&http.Client{}, link, nil); code != http.StatusUnauthorized {
		t.Errorf("link reused: %d, want 401", code)
	}
	// An expired link is refused.
	link2, _ := g.Link("/")
	g.now = func() time.Time { return time.Now().Add(linkTTL + time.Second) }
	if code, _, _ := get(&http.Client{}, link2, nil); code != http.StatusUnauthorized {
		t.Errorf("expired link: %d, want 401", code)
	}
}

func TestSocketAPI(t *testing.T) {
	h := start(t, "", t0, nil)
	h.idle()
	g, err := NewGuard()
	if err != nil {
		t.Fatal(err)
	}
	sock := filepath.Join(t.TempDir(), "run", "agent.sock")
	l, err := ListenUnix(sock)
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: h.agent.SocketHandler(g)}
	go srv.Serve(l)
	t.Cleanup(func() { srv.Close() })
	fi, err := os.Stat(sock)
	if err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("socket mode %v, %v; want 0600", fi.Mode(), err)
	}
	if di, _ := os.Stat(filepath.Dir(sock)); di.Mode().Perm() != 0o700 {
		t.Errorf("socket dir mode %v, want 0700", di.Mode().Perm())
	}
	if _, err := ListenUnix(sock); err == nil || !strings.Contains(err.Error(), "already running") {
		t.Errorf("second agent on the same socket: %v", err)
	}

	ctx := context.Background()
	c := NewClient(sock)
	var ids []int64
	h.after(func() { ids, err = c.BackupNow(ctx, "main") })
	if err != nil || len(ids) != 1 {
		t.Fatalf("BackupNow: %v %v", ids, err)
	}
	st, err := c.Status(ctx)
	if err != nil || len(st.Runs) == 0 || st.Runs[0].ID != ids[0] || st.Runs[0].Outcome != "ok" {
		t.Fatalf("Status: %+v %v", st, err)
	}
	if _, err := c.BackupNow(ctx, "nope"); err == nil || !strings.Contains(err.Error(), "no such repository") {
		t.Errorf("unknown repo: %v", err)
	}
	h.after(func() { err = c.Pause(ctx) })
	if st, _ := c.Status(ctx); err != nil || !st.Paused {
		t.Errorf("Pause: %v, paused %v", err, st.Paused)
	}
	h.after(func() { err = c.Resume(ctx) })
	if st, _ := c.Status(ctx); err != nil || st.Paused {
		t.Errorf("Resume: %v, paused %v", err, st.Paused)
	}
	// Without a login hook the agent says what to do instead.
	if err := c.do(ctx, http.MethodPost, PathLogin, RepoRequest{}, nil); err == nil || !strings.Contains(err.Error(), "icevault login") {
		t.Errorf("login without a hook: %v", err)
	}
	if _, err := c.DashboardLink(ctx, "/"); err == nil {
		t.Error("a link before the dashboard listens")
	}
	g.SetAddr("127.0.0.1:4242")
	link, err := c.DashboardLink(ctx, "/jobs")
	if err != nil || !strings.HasPrefix(link, "http://127.0.0.1:4242/jobs?login=") {
		t.Errorf("DashboardLink: %q %v", link, err)
	}

	srv.Close()
	if _, err := NewClient(filepath.Join(t.TempDir(), "none.sock")).Status(ctx); !errors.Is(err, ErrNotRunning) {
		t.Errorf("no agent: %v, want ErrNotRunning", err)
	}
	// A socket left by a dead agent is taken over.
	l2, err := ListenUnix(sock)
	if err != nil {
		t.Fatalf("stale socket not replaced: %v", err)
	}
	l2.Close()
}

func TestWatchTokenCache(t *testing.T) {
	dir := filepath.Join(t.TempDir(), ".aws", "sso", "cache")
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var fired atomic.Int32
	if err := WatchTokenCache(ctx, dir, func() { fired.Add(1) }); err != nil {
		t.Fatal(err)
	}
	if fi, err := os.Stat(dir); err != nil || fi.Mode().Perm() != 0o700 {
		t.Fatalf("cache dir: %v %v", fi, err)
	}
	// Other files do not count.
	os.WriteFile(filepath.Join(dir, "notes.txt"), []byte("x"), 0o600)
	time.Sleep(2 * debounce)
	if n := fired.Load(); n != 0 {
		t.Fatalf("fired %d times for a non-token file", n)
	}
	// A token written the way the CLI does it (temp file, rename) fires
	// once for the burst.
	tmp := filepath.Join(dir, "tmp-123")
	os.WriteFile(tmp, []byte(`{"accessToken":"x"}`), 0o600)
	if err := os.Rename(tmp, filepath.Join(dir, "0123abcd.json")); err != nil {
		t.Fatal(err)
	}
	os.WriteFile(filepath.Join(dir, "0123abcd.json"), []byte(`{"accessToken":"y"}`), 0o600)
	waitFor(t, "the watcher to fire", func() bool { return fired.Load() > 0 })
	time.Sleep(2 * debounce)
	if n := fired.Load(); n != 1 {
		t.Errorf("fired %d times for one token write, want 1", n)
	}
}
