package dashboard

import (
	"context"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"
)

// fake is a Backend made of function fields; a test replaces the ones it
// cares about.
type fake struct {
	overview  func(ctx context.Context) (Overview, error)
	repos     func(ctx context.Context) ([]string, error)
	snapshots func(ctx context.Context, repo string) ([]Snapshot, error)
	list      func(ctx context.Context, repo, snapshot, dir string) (Listing, error)
	quote     func(ctx context.Context, repo string, r RestoreRequest) (Quote, error)
	start     func(ctx context.Context, repo string, r RestoreRequest) (int64, error)
	jobs      func(ctx context.Context, repo string) ([]Job, error)
	usage     func(ctx context.Context, repo string) (Usage, error)
}

func (f *fake) Overview(ctx context.Context) (Overview, error) { return f.overview(ctx) }
func (f *fake) Repos(ctx context.Context) ([]string, error)    { return f.repos(ctx) }
func (f *fake) Snapshots(ctx context.Context, repo string) ([]Snapshot, error) {
	return f.snapshots(ctx, repo)
}
func (f *fake) List(ctx context.Context, repo, snapshot, dir string) (Listing, error) {
	return f.list(ctx, repo, snapshot, dir)
}
func (f *fake) Quote(ctx context.Context, repo string, r RestoreRequest) (Quote, error) {
	return f.quote(ctx, repo, r)
}
func (f *fake) StartRestore(ctx context.Context, repo string, r RestoreRequest) (int64, error) {
	return f.start(ctx, repo, r)
}
func (f *fake) Jobs(ctx context.Context, repo string) ([]Job, error)  { return f.jobs(ctx, repo) }
func (f *fake) Usage(ctx context.Context, repo string) (Usage, error) { return f.usage(ctx, repo) }

var (
	now  = time.Date(2027, 3, 10, 9, 30, 0, 0, time.UTC)
	snap = Snapshot{ID: "5f3a9c21d0e4b7a8c6f1", Time: now.Add(-26 * time.Hour), Host: "laptop",
		Paths: []string{"/home/ann/docs"}, Tags: []string{"weekly"}, Files: 3, Bytes: 5 << 20}
)

func newFake() *fake {
	return &fake{
		overview: func(context.Context) (Overview, error) {
			return Overview{State: StateBackingUp, Percent: 42, StateRepo: "home", Agent: true,
				Credentials: Credentials{Checked: true, OK: true, Summary: "SSO session valid until 18:40"},
				Repos: []RepoStatus{{Name: "home", LastBackup: snap.Time, LastResult: "3 files, 5 MiB", LastOK: true, NextRun: now.Add(5 * time.Hour)},
					{Name: "work", LastResult: "AWS login required", NextRun: now.Add(time.Hour)}}}, nil
		},
		repos:     func(context.Context) ([]string, error) { return []string{"home", "work"}, nil },
		snapshots: func(context.Context, string) ([]Snapshot, error) { return []Snapshot{snap}, nil },
		list: func(_ context.Context, _, id, dir string) (Listing, error) {
			if id != snap.ID {
				return Listing{}, fmt.Errorf("%w: snapshot %s", ErrNotFound, id)
			}
			if dir == "/" {
				return Listing{Snapshot: snap, Dir: "/", Entries: []Entry{{Name: "/home/ann/docs", Path: "/home/ann/docs", Type: "dir", MTime: snap.Time}}}, nil
			}
			return Listing{Snapshot: snap, Dir: dir, Entries: []Entry{
				{Name: "letters", Path: dir + "/letters", Type: "dir", MTime: snap.Time},
				{Name: "taxes 2026.pdf", Path: dir + "/taxes 2026.pdf", Type: "file", Size: 123456, MTime: snap.Time},
				{Name: "latest", Path: dir + "/latest", Type: "symlink", Target: "taxes 2026.pdf", MTime: snap.Time},
			}}, nil
		},
		quote: func(_ context.Context, _ string, r RestoreRequest) (Quote, error) {
			return Quote{Files: 7, FileBytes: 3 << 20, Packs: 4, PackBytes: 250 << 20, Days: r.Days, Note: "egress assumes free transfer",
				Tiers: []TierQuote{
					{Tier: "standard", ReadyBy: now.Add(12 * time.Hour), Requests: 0.0004, Retrieval: 0.0052, Copy: 0.0013, Download: 0.0001, Total: 1.2345},
					{Tier: "bulk", ReadyBy: now.Add(48 * time.Hour), Requests: 0.0001, Retrieval: 0.0007, Copy: 0.0013, Download: 0.0001, Total: 0.0022},
				}}, nil
		},
		start: func(context.Context, string, RestoreRequest) (int64, error) { return 42, nil },
		jobs: func(context.Context, string) ([]Job, error) {
			return []Job{
				{ID: 42, State: "active", Snapshot: snap.ID, Paths: []string{"/home/ann/docs/taxes 2026.pdf"}, Target: "/tmp/back", Tier: "bulk", Days: 7,
					Created: now.Add(-time.Hour), Thawing: 3, Ready: 1, Bytes: 400 << 20, Files: 7, ETA: now.Add(47 * time.Hour)},
				{ID: 41, State: "done", Snapshot: snap.ID, Paths: []string{"/home/ann/docs"}, Target: "/tmp/old", Tier: "standard", Days: 1,
					Created: now.Add(-72 * time.Hour), Finished: now.Add(-60 * time.Hour), Downloaded: 2, Bytes: 10 << 20, BytesLocal: 10 << 20, Files: 3, FilesRestored: 4},
			}, nil
		},
		usage: func(context.Context, string) (Usage, error) {
			return Usage{PricesAsOf: "2026-12-01", Points: []UsagePoint{
				{Time: now.Add(-30 * 24 * time.Hour), Objects: 3, Bytes: 2 << 30, Monthly: 0.0021},
				{Time: now.Add(-26 * time.Hour), Objects: 5, Bytes: 5 << 30, Monthly: 0.0053},
				{Time: now, Objects: 5, Bytes: 5 << 30, Monthly: 0.0053},
			}}, nil
		},
	}
}

func serve(t *testing.T, b Backend) *httptest.Server {
	t.Helper()
	srv := httptest.NewServer(New(b, Options{Now: func() time.Time { return now }, Location: time.UTC, DefaultTarget: "/home/ann/Restored"}))
	t.Cleanup(srv.Close)
	return srv
}

type response struct {
	status int
	header http.Header
	body   string
}

func get(t *testing.T, srv *httptest.Server, path string) response {
	t.Helper()
	res, err := http.Get(srv.URL + path)
	if err != nil {
		t.Fatal(err)
	}
	return read(t, res)
}

func post(t *testing.T, srv *httptest.Server, path string, form url.Values, header ...string) response {
	t.Helper()
	req, _ := http.NewRequest(http.MethodPost, srv.URL+path, strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Origin", srv.URL)
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	c := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	res, err := c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	return read(t, res)
}

func read(t *testing.T, res *http.Response) response {
	t.Helper()
	defer res.Body.Close()
	b, err := io.ReadAll(res.Body)
	if err != nil {
		t.Fatal(err)
	}
	return response{res.StatusCode, res.Header, string(b)}
}

func quoteForm() url.Values {
	return url.Values{"repo": {"work"}, "snapshot": {snap.ID}, "path": {"/home/ann/docs/taxes 2026.pdf", "/home/ann/docs/letters"},
		"tier": {"standard"}, "days": {"3"}, "target": {"/home/ann/Restored"}}
}

// inlineProblems parses a page and lists what the CSP would block or what
// reaches outside: inline scripts and styles, event-handler attributes,
// javascript: URLs, resources from elsewhere, a meta refresh.
func inlineProblems(t *testing.T, page string) []string {
	t.Helper()
	d := xml.NewDecoder(strings.NewReader(page))
	d.Strict = false
	d.AutoClose = xml.HTMLAutoClose
	d.Entity = xml.HTMLEntity
	var problems []string
	var inScript bool
	for {
		tok, err := d.Token()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatalf("page does not parse: %v", err)
		}
		switch el := tok.(type) {
		case xml.StartElement:
			name := strings.ToLower(el.Name.Local)
			attrs := map[string]string{}
			for _, a := range el.Attr {
				k := strings.ToLower(a.Name.Local)
				attrs[k] = a.Value
				v := strings.ToLower(strings.TrimSpace(a.Value))
				switch {
				case k == "style":
					problems = append(problems, fmt.Sprintf("<%s style=%q>", name, a.Value))
				case strings.HasPrefix(k, "on"):
					problems = append(problems, fmt.Sprintf("<%s %s=...>", name, k))
				case (k == "href" || k == "src" || k == "action" || k == "formaction") &&
					(strings.HasPrefix(v, "javascript:") || strings.HasPrefix(v, "http:") || strings.HasPrefix(v, "https:") || strings.HasPrefix(v, "//")):
					problems = append(problems, fmt.Sprintf("<%s %s=%q>", name, k, a.Value))
				}
			}
			switch name {
			case "style":
				problems = append(problems, "<style> element")
			case "script":
				if attrs["src"] == "" {
					problems = append(problems, "inline <script>")
				}
				inScript = true
			case "meta":
				if strings.EqualFold(attrs["http-equiv"], "refresh") {
					problems = append(problems, "meta refresh")
				}
			}
		case xml.EndElement:
			if strings.EqualFold(el.Name.Local, "script") {
				inScript = false
			}
		case xml.CharData:
			if inScript && strings.TrimSpace(string(el)) != "" {
				problems = append(problems, "script with a body")
			}
		}
	}
	return problems
}

// TestEveryPageRendersUnderCSP renders each page and checks the CSP header
// and that nothing in it needs more than the CSP allows.
func TestEveryPageRendersUnderCSP(t *testing.T) {
	srv := serve(t, newFake())
	for _, c := range []struct {
		name   string
		do     func() response
		status int
		want   []string
	}{
		{"overview", func() response { return get(t, srv, "/") }, 200,
			[]string{"Backing up · 42%", "SSO session valid until 18:40", "3 files, 5 MiB", "AWS login required", "5.0 GiB", "data-refresh="}},
		{"snapshots", func() response { return get(t, srv, "/snapshots?repo=work") }, 200,
			[]string{"5f3a9c21", "/home/ann/docs", "weekly", "Tue 9 Mar 07:30", `<option value="work" selected>`}},
		{"browse roots", func() response { return get(t, srv, "/browse?snapshot="+snap.ID) }, 200,
			[]string{`value="/home/ann/docs"`, "All backed-up folders"}},
		{"browse folder", func() response { return get(t, srv, "/browse?snapshot="+snap.ID+"&dir=/home/ann/docs") }, 200,
			[]string{"taxes 2026.pdf", "120.6 KiB", "letters", "→ taxes 2026.pdf", `value="/home/ann/Restored"`, "Get the quote"}},
		{"quote", func() response { return post(t, srv, "/restore/quote", quoteForm()) }, 200,
			[]string{"$1.23", "Start the restore"}},
		{"jobs", func() response { return get(t, srv, "/jobs") }, 200,
			[]string{"Job 42", "Job 41", "thawing", "data-refresh="}},
		{"storage", func() response { return get(t, srv, "/storage") }, 200,
			[]string{"<svg", "5.0 GiB", "$0.0053", "2026-12-01"}},
		{"unknown snapshot", func() response { return get(t, srv, "/browse?snapshot=nope") }, 404,
			[]string{"Not found", "snapshot nope"}},
		{"unknown page", func() response { return get(t, srv, "/nope") }, 404, []string{"Not found"}},
		{"unknown repository", func() response { return get(t, srv, "/jobs?repo=elsewhere") }, 404,
			[]string{"no repository named &#34;elsewhere&#34;", "home, work"}},
	} {
		t.Run(c.name, func(t *testing.T) {
			r := c.do()
			if r.status != c.status {
				t.Fatalf("status %d, want %d\n%s", r.status, c.status, r.body)
			}
			if got := r.header.Get("Content-Security-Policy"); got != CSP {
				t.Errorf("CSP header %q", got)
			}
			if ct := r.header.Get("Content-Type"); ct != "text/html; charset=utf-8" {
				t.Errorf("Content-Type %q", ct)
			}
			for _, w := range c.want {
				if !strings.Contains(r.body, w) {
					t.Errorf("page lacks %q:\n%s", w, r.body)
				}
			}
			if p := inlineProblems(t, r.body); len(p) > 0 {
				t.Errorf("the CSP would block or the page reaches outside: %v", p)
			}
		})
	}
	for path, ct := range map[string]string{"/static/app.js": "text/javascript; charset=utf-8", "/static/app.css": "text/css; charset=utf-8"} {
		r := get(t, srv, path)
		if r.status != 200 || r.header.Get("Content-Type") != ct || r.header.Get("Content-Security-Policy") != CSP || len(r.body) < 500 {
			t.Errorf("%s: %d %q, %d bytes", path, r.status, r.header.Get("Content-Type"), len(r.body))
		}
	}
}

// TestInlineCheckCatchesEachKind: the check above must be able to fail.
func TestInlineCheckCatchesEachKind(t *testing.T) {
	for _, bad := range []string{
		`<p style="color:red">x</p>`,
		`<style>p{}</style>`,
		`<script>alert(1)</script>`,
		`<button onclick="go()">x</button>`,
		`<a href="javascript:go()">x</a>`,
		`<link rel="stylesheet" href="https://cdn.example/x.css">`,
		`<meta http-equiv="refresh" content="5">`,
	} {
		if len(inlineProblems(t, "<html><body>"+bad+"</body></html>")) == 0 {
			t.Errorf("not caught: %s", bad)
		}
	}
	if p := inlineProblems(t, `<script src="/static/app.js" defer></script><a href="/x?a=1&amp;b=2">x</a>`); len(p) > 0 {
		t.Errorf("false alarm: %v", p)
	}
}

func TestQuoteShowsTheBackendsNumbers(t *testing.T) {
	f := newFake()
	var gotRepo string
	var got RestoreRequest
	quote := f.quote
	f.quote = func(ctx context.Context, repo string, r RestoreRequest) (Quote, error) {
		gotRepo, got = repo, r
		return quote(ctx, repo, r)
	}
	r := post(t, serve(t, f), "/restore/quote", quoteForm())
	if r.status != 200 {
		t.Fatalf("status %d\n%s", r.status, r.body)
	}
	want := RestoreRequest{Snapshot: snap.ID, Paths: []string{"/home/ann/docs/taxes 2026.pdf", "/home/ann/docs/letters"}, Tier: "standard", Days: 3, Target: "/home/ann/Restored"}
	if gotRepo != "work" || !equalRequest(got, want) {
		t.Fatalf("backend asked for %q %+v, want work %+v", gotRepo, got, want)
	}
	for _, w := range []string{
		`id="q-files">7 files, 3.0 MiB`, `id="q-packs">4 packs, 250.0 MiB`,
		`id="q-total">$1.23`, `id="q-ready">Wed 10 Mar 21:30`, // standard: now + 12 h
		`data-total="standard">$1.23`, `data-total="bulk">$0.0022`,
		"Fri 12 Mar 09:30", // bulk: now + 48 h
		"Thawed copy kept 3 days", "$0.0052", "egress assumes free transfer",
		// The start form carries the whole selection.
		`name="path" value="/home/ann/docs/taxes 2026.pdf"`, `name="path" value="/home/ann/docs/letters"`,
		`name="days" value="3"`, `name="target" value="/home/ann/Restored"`, `name="repo" value="work"`,
		`value="standard" checked`,
	} {
		if !strings.Contains(r.body, w) {
			t.Errorf("quote page lacks %q", w)
		}
	}
}

func equalRequest(a, b RestoreRequest) bool {
	return a.Snapshot == b.Snapshot && slices.Equal(a.Paths, b.Paths) && a.Tier == b.Tier && a.Days == b.Days && a.Target == b.Target
}

func TestStartPostsTheSelection(t *testing.T) {
	f := newFake()
	var calls []RestoreRequest
	var gotRepo string
	f.start = func(_ context.Context, repo string, r RestoreRequest) (int64, error) {
		gotRepo = repo
		calls = append(calls, r)
		return 42, nil
	}
	srv := serve(t, f)
	form := quoteForm()
	form.Set("tier", "bulk") // changed on the quote page
	r := post(t, srv, "/restore/start", form)
	if r.status != http.StatusSeeOther || r.header.Get("Location") != "/jobs?repo=work&started=42" {
		t.Fatalf("start: %d, Location %q\n%s", r.status, r.header.Get("Location"), r.body)
	}
	want := RestoreRequest{Snapshot: snap.ID, Paths: []string{"/home/ann/docs/taxes 2026.pdf", "/home/ann/docs/letters"}, Tier: "bulk", Days: 3, Target: "/home/ann/Restored"}
	if len(calls) != 1 || gotRepo != "work" || !equalRequest(calls[0], want) {
		t.Fatalf("StartRestore calls %+v on %q, want one %+v on work", calls, gotRepo, want)
	}
	if j := get(t, srv, "/jobs?repo=work&started=42"); !strings.Contains(j.body, `data-restore-started="42"`) {
		t.Errorf("the jobs page does not say the job started:\n%s", j.body)
	}
}

// TestRefusals: bad forms and foreign origins never reach the backend, and
// a backend's refusal is a page saying what to do, not a 500.
func TestRefusals(t *testing.T) {
	f := newFake()
	started := 0
	var startErr error
	f.start = func(context.Context, string, RestoreRequest) (int64, error) {
		started++
		return 0, startErr
	}
	srv := serve(t, f)
	bad := func(k, v string) url.Values {
		form := quoteForm()
		if v == "" {
			form.Del(k)
		} else {
			form.Set(k, v)
		}
		return form
	}
	for _, c := range []struct {
		name   string
		form   url.Values
		header []string
		status int
		want   string
	}{
		{"nothing ticked", bad("path", ""), nil, 400, "no file or folder was ticked"},
		{"days 0", bad("days", "0"), nil, 400, "between 1 and 365 days"},
		{"days not a number", bad("days", "seven"), nil, 400, "not a number"},
		{"expedited", bad("tier", "expedited"), nil, 400, "choose standard"},
		{"no target", bad("target", " "), nil, 400, "which folder to restore into"},
		{"foreign origin", quoteForm(), []string{"Origin", "http://evil.example"}, 403, "another site"},
		{"cross-site fetch", quoteForm(), []string{"Sec-Fetch-Site", "cross-site"}, 403, "another site"},
	} {
		r := post(t, srv, "/restore/start", c.form, c.header...)
		if r.status != c.status || !strings.Contains(r.body, c.want) {
			t.Errorf("%s: %d, want %d with %q\n%s", c.name, r.status, c.status, c.want, r.body)
		}
	}
	if started != 0 {
		t.Fatalf("the backend was asked to start %d times", started)
	}

	for _, c := range []struct {
		err    error
		status int
		want   string
	}{
		{fmt.Errorf("%w: another icevault process is using this repository: pid 7 (backup)", ErrBusy), 409, "try again when it has finished"},
		{fmt.Errorf("%w: the SSO session ended", ErrLoginRequired), 503, "icevault login"},
		{fmt.Errorf("%w: /home/ann/Restored/x", ErrConflict), 409, "empty destination folder"},
		{errors.New("disk full"), 500, "disk full"},
	} {
		startErr = c.err
		r := post(t, srv, "/restore/start", quoteForm())
		if r.status != c.status || !strings.Contains(r.body, c.want) || !strings.Contains(r.body, c.err.Error()) ||
			!strings.Contains(r.body, "Back to the file browser") {
			t.Errorf("%v: %d, want %d with %q\n%s", c.err, r.status, c.status, c.want, r.body)
		}
	}
}

func TestRepositorySelection(t *testing.T) {
	f := newFake()
	var asked []string
	f.snapshots = func(_ context.Context, repo string) ([]Snapshot, error) {
		asked = append(asked, repo)
		return nil, nil
	}
	srv := serve(t, f)
	get(t, srv, "/snapshots")
	get(t, srv, "/snapshots?repo=work")
	if !slices.Equal(asked, []string{"home", "work"}) {
		t.Fatalf("snapshots asked of %v, want the default (first) then work", asked)
	}
	f.repos = func(context.Context) ([]string, error) { return nil, nil }
	if r := get(t, srv, "/snapshots"); r.status != 404 || !strings.Contains(r.body, "icevault setup") {
		t.Fatalf("no repository: %d\n%s", r.status, r.body)
	}
}

// TestLivePagesStopRefreshing: the jobs page reloads itself only while a
// job is active.
func TestLivePagesStopRefreshing(t *testing.T) {
	f := newFake()
	srv := serve(t, f)
	if r := get(t, srv, "/jobs"); !strings.Contains(r.body, `id="live" data-refresh="3000"`) {
		t.Fatal("an active job's page does not refresh")
	}
	f.jobs = func(context.Context, string) ([]Job, error) {
		return []Job{{ID: 1, State: "done", Files: 1, FilesRestored: 1}}, nil
	}
	if r := get(t, srv, "/jobs"); strings.Contains(r.body, "data-refresh") || !strings.Contains(r.body, `data-state="done"`) {
		t.Fatalf("a finished job's page:\n%s", r.body)
	}
}

func TestStepChart(t *testing.T) {
	pts := []UsagePoint{{Time: now.Add(-48 * time.Hour), Bytes: 100}, {Time: now.Add(-24 * time.Hour), Bytes: 300}, {Time: now, Bytes: 300}}
	c := stepChart(pts, time.UTC, func(p UsagePoint) float64 { return float64(p.Bytes) }, func(v float64) string { return fmt.Sprint(v) }, true)
	// 300 × 1.1 = 330, rounded up to 500: 100 is a fifth of the height
	// (190 − 176 × 0.2 = 154.8), 300 three fifths (84.4); the middle of the
	// 550-unit-wide plot is at 78 + 275.
	if want := "M78.0 190 V154.8 H353.0 V84.4 H628.0 V84.4 H628"; c.Line != want {
		t.Errorf("line %q, want %q", c.Line, want)
	}
	if c.YTop != "500" || c.YMid != "250" || c.XStart != "8 Mar 2027" || c.XEnd != "10 Mar 2027" {
		t.Errorf("labels %+v", c)
	}
	if a, b := axisDollars(2e-5), axisDollars(5); a != "$0.00002" || b != "$5.00" {
		t.Errorf("axis labels %q, %q", a, b)
	}
	for v, want := range map[float64]float64{0.0042: 0.005, 3: 5, 7: 10, 1.5 * (1 << 30): 2 << 30} {
		if got := niceCeil(v, true); got != want {
			t.Errorf("niceCeil(%v) = %v, want %v", v, got, want)
		}
	}
}
