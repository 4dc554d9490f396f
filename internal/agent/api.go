package agent

import (
	"context"
	"crypto/rand"
	"crypto/subtle"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"time"
)

// API paths.
const (
	PathStatus = "/api/v1/status"
	PathBackup = "/api/v1/backup"
	PathPause  = "/api/v1/pause"
	PathResume = "/api/v1/resume"
	PathLogin  = "/api/v1/login"
	PathLink   = "/api/v1/dashboard-link" // socket only
)

// RepoRequest is the body of backup and login requests.
type RepoRequest struct {
	Repo string `json:"repo"` // "" means every repository (backup) or the one that needs it (login)
}

// BackupResponse lists the runs a backup request queued or joined.
type BackupResponse struct {
	Runs []int64 `json:"runs"`
}

// LinkResponse carries a one-time dashboard link.
type LinkResponse struct {
	URL string `json:"url"`
}

// apiError is every error the API returns.
type apiError struct {
	Error string `json:"error"`
}

// maxBody bounds request bodies: they are a repository name at most.
const maxBody = 4 << 10

// Handler serves the JSON API (without PathLink: see SocketHandler).
func (a *Agent) Handler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET "+PathStatus, func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, http.StatusOK, a.Status())
	})
	mux.HandleFunc("POST "+PathBackup, func(w http.ResponseWriter, r *http.Request) {
		var req RepoRequest
		if !readJSON(w, r, &req) {
			return
		}
		ids, err := a.BackupNow(req.Repo)
		if err != nil {
			writeErr(w, err)
			return
		}
		writeJSON(w, http.StatusAccepted, BackupResponse{Runs: ids})
	})
	mux.HandleFunc("POST "+PathPause, func(w http.ResponseWriter, r *http.Request) {
		a.Pause()
		writeJSON(w, http.StatusOK, a.Status())
	})
	mux.HandleFunc("POST "+PathResume, func(w http.ResponseWriter, r *http.Request) {
		a.Resume()
		writeJSON(w, http.StatusOK, a.Status())
	})
	mux.HandleFunc("POST "+PathLogin, func(w http.ResponseWriter, r *http.Request) {
		var req RepoRequest
		if !readJSON(w, r, &req) {
			return
		}
		// The login outlives this request: it waits for the user.
		if err := a.Login(context.WithoutCancel(r.Context()), req.Repo); err != nil {
			writeErr(w, err)
			return
		}
		writeJSON(w, http.StatusAccepted, a.Status())
	})
	return mux
}

// SocketHandler is Handler plus PathLink, which hands out one-time
// dashboard links: serve it only where the caller is already trusted (the
// 0600 unix socket).
func (a *Agent) SocketHandler(g *Guard) http.Handler {
	mux := http.NewServeMux()
	mux.Handle("/", a.Handler())
	mux.HandleFunc("GET "+PathLink, func(w http.ResponseWriter, r *http.Request) {
		link, err := g.Link(r.URL.Query().Get("path"))
		if err != nil {
			writeErr(w, err)
			return
		}
		writeJSON(w, http.StatusOK, LinkResponse{URL: link})
	})
	return mux
}

func readJSON(w http.ResponseWriter, r *http.Request, v any) bool {
	body, err := io.ReadAll(io.LimitReader(r.Body, maxBody))
	if err == nil && len(strings.TrimSpace(string(body))) > 0 {
		err = json.Unmarshal(body, v)
	}
	if err != nil {
		writeJSON(w, http.StatusBadRequest, apiError{"bad request body: " + err.Error()})
		return false
	}
	return true
}

func writeErr(w http.ResponseWriter, err error) {
	status := http.StatusInternalServerError
	switch {
	case errors.Is(err, ErrUnknownRepo):
		status = http.StatusNotFound
	case errors.Is(err, ErrNoLogin), errors.Is(err, errNoAddr):
		status = http.StatusConflict
	}
	writeJSON(w, status, apiError{err.Error()})
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	json.NewEncoder(w).Encode(v)
}

// CSP is the Content-Security-Policy the guard puts on every response:
// nothing may load, nothing may frame it. A page handler that serves HTML
// (the dashboard) replaces it with its own, as strict as its pages allow.
const CSP = "default-src 'none'; frame-ancestors 'none'; base-uri 'none'"

// SessionCookie holds the session token in the browser.
const SessionCookie = "icevault_session"

// linkTTL is how long a one-time link works: long enough for a browser to
// start, short enough that a link seen in a process list is useless.
const linkTTL = 2 * time.Minute

var errNoAddr = errors.New("agent: the dashboard is not listening yet")

// Guard admits requests to the loopback HTTP server: the right Host (a
// page on another site cannot rebind its name to 127.0.0.1 and read the
// API), no foreign Origin or cross-site fetch (no CSRF), and the session
// token, from the cookie a one-time link set or from an Authorization:
// Bearer header.
type Guard struct {
	token string
	now   func() time.Time

	mu    sync.Mutex
	addr  string // host:port the server listens on
	links map[string]time.Time
}

// NewGuard makes a guard with a fresh random session token.
func NewGuard() (*Guard, error) {
	tok, err := randomHex(32)
	if err != nil {
		return nil, err
	}
	return &Guard{token: tok, now: time.Now, links: map[string]time.Time{}}, nil
}

func randomHex(n int) (string, error) {
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		return "", fmt.Errorf("agent: random token: %w", err)
	}
	return hex.EncodeToString(b), nil
}

// Token is the session token, for in-process clients (tests, the tray).
// Never print or store it.
func (g *Guard) Token() string { return g.token }

// SetAddr records the address the server listens on (127.0.0.1:PORT).
func (g *Guard) SetAddr(hostport string) {
	g.mu.Lock()
	g.addr = hostport
	g.mu.Unlock()
}

// Link returns a one-time link to path ("" means "/") on the dashboard:
// opening it sets the session cookie, once, within linkTTL.
func (g *Guard) Link(path string) (string, error) {
	ref, err := url.Parse(path)
	if err != nil || ref.Scheme != "" || ref.Host != "" || !strings.HasPrefix(ref.Path, "/") {
		ref = &url.URL{Path: "/"} // only pages of this dashboard
	}
	code, err := randomHex(16)
	if err != nil {
		return "", err
	}
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.addr == "" {
		return "", errNoAddr
	}
	now := g.now()
	for c, exp := range g.links {
		if now.After(exp) {
			delete(g.links, c)
		}
	}
	g.links[code] = now.Add(linkTTL)
	q := ref.Query()
	q.Set("login", code)
	u := url.URL{Scheme: "http", Host: g.addr, Path: ref.Path, RawQuery: q.Encode()}
	return u.String(), nil
}

// useLink consumes a one-time code.
func (g *Guard) useLink(code string) bool {
	g.mu.Lock()
	defer g.mu.Unlock()
	exp, ok := g.links[code]
	delete(g.links, code)
	return ok && !g.now().After(exp)
}

// hosts are the Host values (and Origins, with http://) this server answers to.
func (g *Guard) hosts() []string {
	g.mu.Lock()
	addr := g.addr
	g.mu.Unlock()
	if addr == "" {
		return nil
	}
	_, port, _ := net.SplitHostPort(addr)
	return []string{addr, "127.0.0.1:" + port, "localhost:" + port, "[::1]:" + port}
}

func contains(list []string, s string) bool {
	for _, v := range list {
		if v == s {
			return true
		}
	}
	return false
}

// Wrap returns next behind the guard.
func (g *Guard) Wrap(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h := w.Header()
		h.Set("Content-Security-Policy", CSP)
		h.Set("X-Frame-Options", "DENY")
		h.Set("X-Content-Type-Options", "nosniff")
		// Not no-referrer: with it Chromium sends "Origin: null" on form
		// posts, which the Origin check must refuse.
		h.Set("Referrer-Policy", "same-origin")
		h.Set("Cache-Control", "no-store")
		hosts := g.hosts()
		if !contains(hosts, r.Host) {
			http.Error(w, "wrong Host: this is icevault's local dashboard, reachable only as http://127.0.0.1", http.StatusMisdirectedRequest)
			return
		}
		if o := r.Header.Get("Origin"); o != "" && (!strings.HasPrefix(o, "http://") || !contains(hosts, strings.TrimPrefix(o, "http://"))) {
			http.Error(w, "cross-origin request refused", http.StatusForbidden)
			return
		}
		if r.Header.Get("Sec-Fetch-Site") == "cross-site" {
			http.Error(w, "cross-site request refused", http.StatusForbidden)
			return
		}
		if code := r.URL.Query().Get("login"); code != "" && r.Method == http.MethodGet {
			if !g.useLink(code) {
				http.Error(w, "this dashboard link was already used or has expired: open the dashboard again from the icevault menu or with `icevault dashboard`", http.StatusUnauthorized)
				return
			}
			http.SetCookie(w, &http.Cookie{Name: SessionCookie, Value: g.token, Path: "/",
				HttpOnly: true, SameSite: http.SameSiteStrictMode})
			u := *r.URL
			q := u.Query()
			q.Del("login")
			u.RawQuery = q.Encode()
			http.Redirect(w, r, u.RequestURI(), http.StatusSeeOther)
			return
		}
		if !g.authorized(r) {
			http.Error(w, "not signed in: open the dashboard from the icevault menu or with `icevault dashboard`", http.StatusUnauthorized)
			return
		}
		next.ServeHTTP(w, r)
	})
}

func (g *Guard) authorized(r *http.Request) bool {
	var got string
	if c, err := r.Cookie(SessionCookie); err == nil {
		got = c.Value
	} else if b, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer "); ok {
		got = b
	}
	return got != "" && subtle.ConstantTimeCompare([]byte(got), []byte(g.token)) == 1
}

// ListenUnix listens on a unix socket at path that only this user can use:
// its directory is made 0700 and the socket 0600. A socket left by an agent
// that died is replaced; one that answers means an agent is running.
func ListenUnix(path string) (net.Listener, error) {
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return nil, err
	}
	if c, err := net.DialTimeout("unix", path, time.Second); err == nil {
		c.Close()
		return nil, fmt.Errorf("another icevault agent is already running (socket %s answers): stop it first", path)
	}
	if err := os.Remove(path); err != nil && !errors.Is(err, os.ErrNotExist) {
		return nil, err
	}
	l, err := net.Listen("unix", path)
	if err != nil {
		return nil, fmt.Errorf("agent: listening on %s: %w", path, err)
	}
	if err := os.Chmod(path, 0o600); err != nil {
		l.Close()
		return nil, err
	}
	return l, nil
}

// ErrNotRunning means no agent answers on the socket.
var ErrNotRunning = errors.New("the icevault agent is not running")

// Client talks to a running agent over its unix socket.
type Client struct {
	hc *http.Client
}

// NewClient returns a client for the agent listening at socket.
func NewClient(socket string) *Client {
	tr := &http.Transport{DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
		var d net.Dialer
		return d.DialContext(ctx, "unix", socket)
	}}
	return &Client{hc: &http.Client{Transport: tr}}
}

func (c *Client) do(ctx context.Context, method, path string, body, out any) error {
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			return err
		}
		rd = strings.NewReader(string(b))
	}
	req, err := http.NewRequestWithContext(ctx, method, "http://agent"+path, rd)
	if err != nil {
		return err
	}
	resp, err := c.hc.Do(req)
	if err != nil {
		if errors.Is(err, syscall.ENOENT) || errors.Is(err, syscall.ECONNREFUSED) {
			return ErrNotRunning
		}
		return fmt.Errorf("asking the agent: %w", err)
	}
	defer resp.Body.Close()
	if resp.StatusCode >= 300 {
		var e apiError
		json.NewDecoder(io.LimitReader(resp.Body, 64<<10)).Decode(&e)
		if e.Error == "" {
			e.Error = resp.Status
		}
		return fmt.Errorf("the agent says: %s", e.Error)
	}
	if out == nil {
		return nil
	}
	return json.NewDecoder(resp.Body).Decode(out)
}

// Status asks the agent for its state.
func (c *Client) Status(ctx context.Context) (Status, error) {
	var s Status
	return s, c.do(ctx, http.MethodGet, PathStatus, nil, &s)
}

// BackupNow asks the agent to back up repo ("" = all) and returns the runs.
func (c *Client) BackupNow(ctx context.Context, repo string) ([]int64, error) {
	var r BackupResponse
	return r.Runs, c.do(ctx, http.MethodPost, PathBackup, RepoRequest{Repo: repo}, &r)
}

// Pause and Resume scheduled runs.
func (c *Client) Pause(ctx context.Context) error {
	return c.do(ctx, http.MethodPost, PathPause, struct{}{}, nil)
}

// Resume lets scheduled runs start again.
func (c *Client) Resume(ctx context.Context) error {
	return c.do(ctx, http.MethodPost, PathResume, struct{}{}, nil)
}

// DashboardLink asks for a one-time link to the dashboard page path.
func (c *Client) DashboardLink(ctx context.Context, path string) (string, error) {
	var r LinkResponse
	return r.URL, c.do(ctx, http.MethodGet, PathLink+"?path="+url.QueryEscape(path), nil, &r)
}
