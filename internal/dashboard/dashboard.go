package dashboard

import (
	"bytes"
	"context"
	"embed"
	"errors"
	"fmt"
	"html/template"
	"io/fs"
	"net/http"
	"net/url"
	"path"
	"slices"
	"strconv"
	"strings"
	"time"
)

// CSP is the Content-Security-Policy every response carries. The pages are
// built for it: one script and one stylesheet from /static/, no inline
// script or style, forms and fetches only to this origin.
const CSP = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; " +
	"form-action 'self'; frame-ancestors 'none'; base-uri 'none'"

// Options shape the pages.
type Options struct {
	// Now is the time pages are rendered at ("3 h ago", the chart's end).
	// Default time.Now.
	Now func() time.Time
	// Location is the time zone times are shown in. Default time.Local.
	Location *time.Location
	// Refresh is how often the overview and the restore jobs reload what
	// changed. Default 3 s: the page asks this machine only, and the
	// catalog answers in microseconds.
	Refresh time.Duration
	// DefaultTarget prefills the restore destination.
	DefaultTarget string
}

//go:embed templates/*.html
var templateFS embed.FS

//go:embed static
var staticFS embed.FS

type server struct {
	b     Backend
	o     Options
	pages map[string]*template.Template
}

// New returns the dashboard's handler: pages at /, /snapshots, /browse,
// /jobs and /storage, the restore forms at /restore/quote and
// /restore/start, and the script and stylesheet under /static/.
func New(b Backend, o Options) http.Handler {
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.Location == nil {
		o.Location = time.Local
	}
	if o.Refresh <= 0 {
		o.Refresh = 3 * time.Second
	}
	s := &server{b: b, o: o, pages: map[string]*template.Template{}}
	for _, p := range []string{"overview", "snapshots", "browse", "quote", "jobs", "storage", "error"} {
		s.pages[p] = template.Must(template.New(p).Funcs(s.funcs()).ParseFS(templateFS, "templates/layout.html", "templates/"+p+".html"))
	}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /{$}", s.overview)
	mux.HandleFunc("GET /snapshots", s.snapshots)
	mux.HandleFunc("GET /browse", s.browse)
	mux.HandleFunc("POST /restore/quote", s.quote)
	mux.HandleFunc("POST /restore/start", s.start)
	mux.HandleFunc("GET /jobs", s.jobs)
	mux.HandleFunc("GET /storage", s.storage)
	static, _ := fs.Sub(staticFS, "static")
	mux.Handle("GET /static/", http.StripPrefix("/static/", http.FileServerFS(static)))
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		s.fail(w, r, page{Title: "Not found"}, fmt.Errorf("%w: there is no page at %s", ErrNotFound, r.URL.Path))
	})
	return headers(mux)
}

// headers sets the security headers on every response and refuses a POST
// from another origin (the agent's guard checks Origin too; this keeps the
// handler safe wherever it is mounted).
func headers(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h := w.Header()
		h.Set("Content-Security-Policy", CSP)
		h.Set("X-Content-Type-Options", "nosniff")
		h.Set("X-Frame-Options", "DENY")
		// Not no-referrer: Chromium then sends "Origin: null" with form posts,
		// and the Origin check below (and the agent's) could not tell them apart
		// from a sandboxed page's.
		h.Set("Referrer-Policy", "same-origin")
		h.Set("Cross-Origin-Opener-Policy", "same-origin")
		h.Set("Cross-Origin-Resource-Policy", "same-origin")
		if !strings.HasPrefix(r.URL.Path, "/static/") {
			h.Set("Cache-Control", "no-store")
		}
		if r.Method != http.MethodGet && r.Method != http.MethodHead && !sameOrigin(r) {
			http.Error(w, "refused: this request came from another site", http.StatusForbidden)
			return
		}
		next.ServeHTTP(w, r)
	})
}

func sameOrigin(r *http.Request) bool {
	if site := r.Header.Get("Sec-Fetch-Site"); site != "" && site != "same-origin" && site != "none" {
		return false
	}
	o := r.Header.Get("Origin")
	if o == "" {
		return true
	}
	u, err := url.Parse(o)
	return err == nil && u.Host == r.Host
}

// page is what the layout needs; each page embeds it.
type page struct {
	Title   string
	Nav     string // the active tab
	Repo    string
	Repos   []string
	Refresh int    // milliseconds; 0 = the page does not reload itself
	Back    string // where an error page sends the user back to
}

type errorPage struct {
	page
	Status  int
	Heading string
	Message string
	Hint    string
}

// fail shows err as a page saying what happened and what to do.
func (s *server) fail(w http.ResponseWriter, r *http.Request, p page, err error) {
	e := errorPage{page: p, Status: http.StatusInternalServerError, Heading: "Something went wrong", Message: err.Error()}
	e.Title = "Error"
	switch {
	case errors.Is(err, ErrBusy):
		e.Status, e.Heading = http.StatusConflict, "The repository is busy"
		e.Hint = "A backup or another icevault command is writing to this repository right now. Nothing was started: try again when it has finished."
	case errors.Is(err, ErrLoginRequired):
		e.Status, e.Heading = http.StatusServiceUnavailable, "AWS login required"
		e.Hint = "Log in (the menu's “Log in to AWS…”, or `icevault login` in a terminal), then try again. Nothing was started."
	case errors.Is(err, ErrConflict):
		e.Status, e.Heading = http.StatusConflict, "Files are in the way"
		e.Hint = "Nothing was requested. Choose an empty destination folder, then get the quote again."
	case errors.Is(err, ErrInvalid):
		e.Status, e.Heading = http.StatusBadRequest, "That cannot be done as asked"
	case errors.Is(err, ErrNotFound):
		e.Status, e.Heading = http.StatusNotFound, "Not found"
	case errors.Is(err, context.Canceled):
		e.Status, e.Heading = http.StatusServiceUnavailable, "Stopped"
	}
	s.render(w, "error", e.Status, e)
}

func (s *server) render(w http.ResponseWriter, name string, status int, data any) {
	var buf bytes.Buffer
	if err := s.pages[name].ExecuteTemplate(&buf, "layout", data); err != nil {
		// A template bug: say so plainly rather than send half a page.
		http.Error(w, "the dashboard could not draw this page: "+err.Error(), http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.WriteHeader(status)
	w.Write(buf.Bytes())
}

// base resolves the repository the request is about (the default when it
// names none) and fills the layout's part of the page.
func (s *server) base(r *http.Request, title, nav string) (page, error) {
	p := page{Title: title, Nav: nav}
	repos, err := s.b.Repos(r.Context())
	if err != nil {
		return p, err
	}
	if len(repos) == 0 {
		return p, fmt.Errorf("%w: no repository is configured yet; run `icevault setup` (or `icevault init`) first", ErrNotFound)
	}
	p.Repos = repos
	p.Repo = r.FormValue("repo")
	if p.Repo == "" {
		p.Repo = repos[0]
	}
	if !slices.Contains(repos, p.Repo) {
		bad := p.Repo
		p.Repo = repos[0]
		return p, fmt.Errorf("%w: no repository named %q (have %s)", ErrNotFound, bad, strings.Join(repos, ", "))
	}
	return p, nil
}

type overviewPage struct {
	page
	Status   Overview
	Usage    Usage
	Latest   *UsagePoint
	UsageErr string
}

func (s *server) overview(w http.ResponseWriter, r *http.Request) {
	p, err := s.base(r, "Overview", "overview")
	if err != nil {
		s.fail(w, r, p, err)
		return
	}
	p.Refresh = int(s.o.Refresh / time.Millisecond)
	ov, err := s.b.Overview(r.Context())
	if err != nil {
		s.fail(w, r, p, err)
		return
	}
	op := overviewPage{page: p, Status: ov}
	// The repository's size is a nicety here; the status must show even
	// when it cannot be read (say, a catalog being recovered).
	if u, err := s.b.Usage(r.Context(), p.Repo); err != nil {
		op.UsageErr = err.Error()
	} else if op.Usage = u; len(u.Points) > 0 {
		op.Latest = &u.Points[len(u.Points)-1]
	}
	s.render(w, "overview", http.StatusOK, op)
}

type snapshotsPage struct {
	page
	Snapshots []Snapshot
}

func (s *server) snapshots(w http.ResponseWriter, r *http.Request) {
	p, err := s.base(r, "Snapshots", "snapshots")
	if err != nil {
		s.fail(w, r, p, err)
		return
	}
	snaps, err := s.b.Snapshots(r.Context(), p.Repo)
	if err != nil {
		s.fail(w, r, p, err)
		return
	}
	s.render(w, "snapshots", http.StatusOK, snapshotsPage{page: p, Snapshots: snaps})
}

type crumb struct{ Name, Dir string }

type browsePage struct {
	page
	Listing
	Crumbs  []crumb
	Parent  string
	Request RestoreRequest
}

func (s *server) browse(w http.ResponseWriter, r *http.Request) {
	p, err := s.base(r, "Browse", "snapshots")
	if err != nil {
		s.fail(w, r, p, err)
		return
	}
	snap := r.FormValue("snapshot")
	if snap == "" {
		s.fail(w, r, p, fmt.Errorf("%w: choose a snapshot first (Snapshots)", ErrInvalid))
		return
	}
	dir := cleanDir(r.FormValue("dir"))
	l, err := s.b.List(r.Context(), p.Repo, snap, dir)
	if err != nil {
		s.fail(w, r, p, err)
		return
	}
	bp := browsePage{page: p, Listing: l, Crumbs: crumbs(l.Dir, l.Snapshot.Paths),
		Request: RestoreRequest{Snapshot: l.Snapshot.ID, Tier: "bulk", Days: 7, Target: s.o.DefaultTarget}}
	if l.Dir != "/" {
		bp.Parent = parentDir(l.Dir, l.Snapshot.Paths)
	}
	s.render(w, "browse", http.StatusOK, bp)
}

func cleanDir(d string) string {
	if d == "" {
		return "/"
	}
	return path.Clean("/" + strings.TrimPrefix(d, "/"))
}

// parentDir is the folder above dir, or "/" (the snapshot's folders) above
// a backed-up folder.
func parentDir(dir string, roots []string) string {
	if slices.Contains(roots, dir) {
		return "/"
	}
	return path.Dir(dir)
}

// crumbs are the links above a listing: the snapshot, then the backed-up
// folder (named by its full path), then each folder below it.
func crumbs(dir string, roots []string) []crumb {
	if dir == "/" {
		return nil
	}
	var out []crumb
	for d := dir; d != "/"; d = path.Dir(d) {
		if slices.Contains(roots, d) {
			out = append(out, crumb{Name: d, Dir: d})
			break
		}
		out = append(out, crumb{Name: path.Base(d), Dir: d})
	}
	slices.Reverse(out)
	return out
}

// restoreRequest reads a restore form and checks it.
func restoreRequest(r *http.Request) (RestoreRequest, error) {
	if err := r.ParseForm(); err != nil {
		return RestoreRequest{}, fmt.Errorf("%w: %v", ErrInvalid, err)
	}
	q := RestoreRequest{Snapshot: r.PostForm.Get("snapshot"), Tier: r.PostForm.Get("tier"), Target: strings.TrimSpace(r.PostForm.Get("target"))}
	for _, p := range r.PostForm["path"] {
		if p != "" && !slices.Contains(q.Paths, p) {
			q.Paths = append(q.Paths, p)
		}
	}
	var err error
	if q.Days, err = strconv.Atoi(r.PostForm.Get("days")); err != nil {
		return q, fmt.Errorf("%w: days %q is not a number", ErrInvalid, r.PostForm.Get("days"))
	}
	switch {
	case q.Snapshot == "":
		return q, fmt.Errorf("%w: no snapshot was chosen", ErrInvalid)
	case len(q.Paths) == 0:
		return q, fmt.Errorf("%w: no file or folder was ticked: tick what to restore in the file browser", ErrInvalid)
	case q.Tier != "standard" && q.Tier != "bulk":
		return q, fmt.Errorf("%w: tier %q: choose standard (≤ 12 h) or bulk (≤ 48 h)", ErrInvalid, q.Tier)
	case q.Days < 1 || q.Days > 365:
		return q, fmt.Errorf("%w: keep thawed copies between 1 and 365 days (they are billed at S3 Standard meanwhile), not %d", ErrInvalid, q.Days)
	case q.Target == "":
		return q, fmt.Errorf("%w: say which folder to restore into (a new or empty folder is safest)", ErrInvalid)
	}
	return q, nil
}

type quotePage struct {
	page
	Quote
	Request RestoreRequest
	Chosen  TierQuote
}

// restoreForm reads the restore form of a quote or start request; on a bad
// one it has shown the error page and ok is false.
func (s *server) restoreForm(w http.ResponseWriter, r *http.Request, title, tab string) (p page, req RestoreRequest, ok bool) {
	p, err := s.base(r, title, tab)
	if err != nil {
		s.fail(w, r, p, err)
		return p, req, false
	}
	req, err = restoreRequest(r)
	p.Back = link("/browse", "repo", p.Repo, "snapshot", req.Snapshot)
	if err != nil {
		s.fail(w, r, p, err)
		return p, req, false
	}
	return p, req, true
}

func (s *server) quote(w http.ResponseWriter, r *http.Request) {
	p, req, ok := s.restoreForm(w, r, "Restore quote", "snapshots")
	if !ok {
		return
	}
	q, err := s.b.Quote(r.Context(), p.Repo, req)
	if err != nil {
		s.fail(w, r, p, err)
		return
	}
	qp := quotePage{page: p, Quote: q, Request: req}
	for _, t := range q.Tiers {
		if t.Tier == req.Tier {
			qp.Chosen = t
		}
	}
	s.render(w, "quote", http.StatusOK, qp)
}

func (s *server) start(w http.ResponseWriter, r *http.Request) {
	p, req, ok := s.restoreForm(w, r, "Start restore", "jobs")
	if !ok {
		return
	}
	id, err := s.b.StartRestore(r.Context(), p.Repo, req)
	if err != nil {
		s.fail(w, r, p, err)
		return
	}
	// Post/redirect/get: reloading the jobs page must not start it again.
	http.Redirect(w, r, "/jobs?"+url.Values{"repo": {p.Repo}, "started": {strconv.FormatInt(id, 10)}}.Encode(), http.StatusSeeOther)
}

type jobsPage struct {
	page
	Jobs    []Job
	Started int64
}

func (s *server) jobs(w http.ResponseWriter, r *http.Request) {
	p, err := s.base(r, "Restore jobs", "jobs")
	if err != nil {
		s.fail(w, r, p, err)
		return
	}
	jobs, err := s.b.Jobs(r.Context(), p.Repo)
	if err != nil {
		s.fail(w, r, p, err)
		return
	}
	for _, j := range jobs {
		if j.State == "active" {
			p.Refresh = int(s.o.Refresh / time.Millisecond)
		}
	}
	jp := jobsPage{page: p, Jobs: jobs}
	jp.Started, _ = strconv.ParseInt(r.FormValue("started"), 10, 64)
	s.render(w, "jobs", http.StatusOK, jp)
}

type storagePage struct {
	page
	Usage
	Bytes, Cost chart
	Latest      *UsagePoint
}

func (s *server) storage(w http.ResponseWriter, r *http.Request) {
	p, err := s.base(r, "Storage and cost", "storage")
	if err != nil {
		s.fail(w, r, p, err)
		return
	}
	u, err := s.b.Usage(r.Context(), p.Repo)
	if err != nil {
		s.fail(w, r, p, err)
		return
	}
	sp := storagePage{page: p, Usage: u}
	if len(u.Points) > 0 {
		sp.Latest = &u.Points[len(u.Points)-1]
		sp.Bytes = stepChart(u.Points, s.o.Location, func(p UsagePoint) float64 { return float64(p.Bytes) }, func(v float64) string { return bytesize(int64(v)) }, true)
		sp.Cost = stepChart(u.Points, s.o.Location, func(p UsagePoint) float64 { return p.Monthly }, axisDollars, false)
		sp.Bytes.Class, sp.Cost.Class = "bytes", "cost"
	}
	s.render(w, "storage", http.StatusOK, sp)
}
