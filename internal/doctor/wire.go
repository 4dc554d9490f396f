package doctor

import (
	"bytes"
	"io"
	"net/http"
	"regexp"
	"sync"
	"time"
)

// HTTPClient is what the SDK sends requests through (aws.HTTPClient).
type HTTPClient interface {
	Do(*http.Request) (*http.Response, error)
}

// Wire is what the HTTP layer saw during the checks.
type Wire struct {
	Responses int // responses received, errors included
	// ServerDate is the Date header of the latest response that had one,
	// and LocalDate this machine's clock at the middle of that exchange.
	ServerDate time.Time
	LocalDate  time.Time
	// HTTPS counts responses that came over TLS; TLSVersion is the
	// lowest version seen (tls.VersionTLS12, ...), 0 if none.
	HTTPS      int
	TLSVersion uint16
	// ErrorRegion is the <Region> of the latest error body that named one
	// (S3's AuthorizationHeaderMalformed: "the region 'x' is wrong;
	// expecting 'y'").
	ErrorRegion string
}

// Recorder wraps the SDK's HTTP client and remembers what the clock and TLS
// checks need. Time stamps use Now (default time.Now): skew is about the
// wall clock, never a fake one.
type Recorder struct {
	Next HTTPClient
	Now  func() time.Time

	mu sync.Mutex
	w  Wire
}

// NewRecorder wraps next (nil: http.DefaultClient).
func NewRecorder(next HTTPClient) *Recorder {
	if next == nil {
		next = http.DefaultClient
	}
	return &Recorder{Next: next, Now: time.Now}
}

var regionRE = regexp.MustCompile(`<Region>([a-z0-9-]+)</Region>`)

// maxErrorBody bounds how much of an error body is read to find a region;
// S3's error documents are well under a kilobyte.
const maxErrorBody = 16 << 10

// Do implements HTTPClient.
func (r *Recorder) Do(req *http.Request) (*http.Response, error) {
	now := r.Now
	if now == nil {
		now = time.Now
	}
	sent := now()
	resp, err := r.Next.Do(req)
	if err != nil {
		return resp, err
	}
	got := now()
	var region string
	if resp.StatusCode >= 300 && resp.Body != nil && req.Method != http.MethodHead {
		b, rerr := io.ReadAll(io.LimitReader(resp.Body, maxErrorBody))
		rest := resp.Body
		resp.Body = struct {
			io.Reader
			io.Closer
		}{io.MultiReader(bytes.NewReader(b), rest), rest}
		if rerr == nil {
			if m := regionRE.FindSubmatch(b); m != nil {
				region = string(m[1])
			}
		}
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	r.w.Responses++
	if d, perr := http.ParseTime(resp.Header.Get("Date")); perr == nil {
		r.w.ServerDate = d
		r.w.LocalDate = sent.Add(got.Sub(sent) / 2)
	}
	if resp.TLS != nil {
		r.w.HTTPS++
		if r.w.TLSVersion == 0 || resp.TLS.Version < r.w.TLSVersion {
			r.w.TLSVersion = resp.TLS.Version
		}
	}
	if region != "" {
		r.w.ErrorRegion = region
	}
	return resp, nil
}

// Observed returns what was recorded so far.
func (r *Recorder) Observed() Wire {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.w
}
