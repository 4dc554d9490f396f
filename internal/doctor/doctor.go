package doctor

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"io"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/icevault/icevault/internal/clock"
	"github.com/icevault/icevault/internal/store"
)

// Status is a check's outcome.
type Status string

// Check outcomes.
const (
	OK      Status = "ok"
	Fail    Status = "fail"
	Warn    Status = "warn"
	Skipped Status = "skipped"
)

// Cause says what kind of problem a failed check found, so a caller can
// pick an exit code without parsing text.
type Cause string

// Causes of a failure.
const (
	CauseNone        Cause = ""
	CauseLogin       Cause = "login_required" // log in again (SSO) or store working keys
	CauseCredentials Cause = "credentials"    // credentials that AWS rejects (wrong keys, no source)
	CauseAccess      Cause = "access_denied"  // the IAM or bucket policy refused a call
	CauseNotFound    Cause = "not_found"      // no such bucket
	CauseConfig      Cause = "config"         // the repository config is wrong (region, endpoint)
	CauseNetwork     Cause = "network"        // AWS unreachable or throttling
	CauseClock       Cause = "clock"          // this machine's clock is off
	CausePolicy      Cause = "policy_too_wide"
	CauseOther       Cause = "other"
)

// Check IDs, stable for --json consumers.
const (
	IDIdentity    = "identity"
	IDCredentials = "credentials"
	IDBucket      = "bucket"
	IDList        = "list"
	IDPut         = "put"
	IDRestore     = "restore"
	IDClock       = "clock"
	IDTLS         = "tls"
	IDProbeDeny   = "probe_deny"
)

// Check is one finding.
type Check struct {
	ID     string `json:"id"`
	Name   string `json:"name"`
	Status Status `json:"status"`
	Detail string `json:"detail"`        // what was found
	Fix    string `json:"fix,omitempty"` // what to do: a command or a policy statement
	Cause  Cause  `json:"cause,omitempty"`
}

// Report is every check, in the order they ran.
type Report struct {
	Checks []Check `json:"checks"`
}

// OK reports whether no check failed (warnings and skips are fine).
func (r Report) OK() bool { return len(r.Failed()) == 0 }

// Failed returns the failed checks, in order.
func (r Report) Failed() []Check {
	var f []Check
	for _, c := range r.Checks {
		if c.Status == Fail {
			f = append(f, c)
		}
	}
	return f
}

// Get returns the check with id, if it ran.
func (r Report) Get(id string) (Check, bool) {
	for _, c := range r.Checks {
		if c.ID == id {
			return c, true
		}
	}
	return Check{}, false
}

// Identity is what STS GetCallerIdentity answered.
type Identity struct {
	Account string
	ARN     string
	UserID  string
}

// Credential sources.
const (
	SourceSSO        = "sso"         // an IAM Identity Center profile
	SourceKeychain   = "keychain"    // static IAM user keys in the OS keychain
	SourceStaticFile = "static-file" // static keys in ~/.aws/credentials or the config file
	SourceEnv        = "environment" // AWS_ACCESS_KEY_ID & co.
	SourceOther      = "other"       // assumed role, process, container, instance...
)

// CredentialInfo is what the credential source says about itself. Zero
// times mean "not known" or "does not expire".
type CredentialInfo struct {
	Source   string // one of the Source constants
	Provider string // the SDK's provider name, for the detail
	Profile  string // AWS profile name, if any
	// RoleExpires is when the current AWS credentials (SSO role
	// credentials, assumed role) expire: aws.Credentials.Expires.
	RoleExpires time.Time
	// AccessTokenExpires is when the cached SSO access token expires.
	AccessTokenExpires time.Time
	// RefreshToken is true when the SSO cache holds a refresh token, so the
	// SDK renews the access token by itself until the portal session ends.
	RefreshToken bool
	// RegistrationExpires is when the SSO client registration ends; no
	// refresh works past it.
	RegistrationExpires time.Time
}

// S3 is the part of the S3 client the read-only checks call.
type S3 interface {
	HeadBucket(ctx context.Context, in *s3.HeadBucketInput, optFns ...func(*s3.Options)) (*s3.HeadBucketOutput, error)
	GetBucketLocation(ctx context.Context, in *s3.GetBucketLocationInput, optFns ...func(*s3.Options)) (*s3.GetBucketLocationOutput, error)
	ListObjectsV2(ctx context.Context, in *s3.ListObjectsV2Input, optFns ...func(*s3.Options)) (*s3.ListObjectsV2Output, error)
	RestoreObject(ctx context.Context, in *s3.RestoreObjectInput, optFns ...func(*s3.Options)) (*s3.RestoreObjectOutput, error)
}

// Putter is the store's create-only DEEP_ARCHIVE write (s3store.Store).
type Putter interface {
	Put(ctx context.Context, p store.PutRequest) (store.PutResult, error)
}

// RawPutter is a raw S3 PutObject, used only by the deny probe: see the
// package doc for why this is the one write outside store.Store.
type RawPutter interface {
	PutObject(ctx context.Context, in *s3.PutObjectInput, optFns ...func(*s3.Options)) (*s3.PutObjectOutput, error)
}

// Deps is everything the checks call. A nil func or interface skips the
// checks that need it, with the reason.
type Deps struct {
	// CallerIdentity calls STS GetCallerIdentity.
	CallerIdentity func(ctx context.Context) (Identity, error)
	// Credentials retrieves the credentials and describes their source.
	Credentials func(ctx context.Context) (CredentialInfo, error)
	// IsLoginRequired is the credential classifier (auth.IsLoginRequired).
	IsLoginRequired func(error) bool
	S3              S3
	Store           Putter
	Probe           RawPutter
	// Wire reports what the HTTP layer saw (a *Recorder's Observed).
	Wire func() Wire
	// Clock stamps the test objects; default clock.Real.
	Clock clock.Clock
	// Rand makes test keys unique; default crypto/rand.
	Rand io.Reader
	// Host names this machine in the test object's body.
	Host string
}

// Options say what to check.
type Options struct {
	Repo     string // repository name, for fixes that name the config section
	Bucket   string
	Prefix   string // the repository's prefix, "" or ending in "/"
	Region   string // the configured region
	Endpoint string // the configured endpoint, "" = AWS
	Profile  string // the AWS profile in use, for fixes
	// SkipPutTest skips the create-only DEEP_ARCHIVE test upload.
	SkipPutTest bool
	// ProbeDeny sends a STANDARD PutObject that the policy must refuse.
	ProbeDeny bool
	// RequireRestore makes a denied RestoreObject a failure instead of a
	// warning (for repositories that are restored from this machine).
	RequireRestore bool
	// CheckTimeout bounds each network check; 0 means 30s.
	CheckTimeout time.Duration
}

// Thresholds.
const (
	// WarnTimeLeft: less than this before a login is needed is a warning; a
	// long backup would pause half way.
	WarnTimeLeft = time.Hour
	// FailSkew: SigV4 refuses requests more than 15 minutes off; fail well
	// before, because a drifting clock keeps drifting.
	FailSkew = 5 * time.Minute
	// WarnSkew is worth a warning.
	WarnSkew = time.Minute
)

// Run runs every check in order and returns the report. It never fails as
// a whole: a check that cannot run says so.
func Run(ctx context.Context, d Deps, o Options) Report {
	if d.Clock == nil {
		d.Clock = clock.Real{}
	}
	if d.Rand == nil {
		d.Rand = rand.Reader
	}
	if d.IsLoginRequired == nil {
		d.IsLoginRequired = func(error) bool { return false }
	}
	if o.CheckTimeout <= 0 {
		o.CheckTimeout = 30 * time.Second
	}
	r := &runner{d: d, o: o}
	var rep Report
	add := func(c Check) { rep.Checks = append(rep.Checks, c) }

	add(r.timed(ctx, r.identity))
	add(r.timed(ctx, r.credentials))
	add(r.timed(ctx, r.bucket))
	add(r.timed(ctx, r.list))
	add(r.timed(ctx, r.put))
	add(r.timed(ctx, r.restore))
	add(r.timed(ctx, r.probeDeny))
	// Clock and TLS last: they read what every call above saw on the wire,
	// error responses included (a skewed clock fails the calls but the
	// server's Date still arrives).
	add(r.clock())
	add(r.tls())
	rep.Checks = reorder(rep.Checks)
	return rep
}

// reorder puts the report in reading order: the deny probe is run before
// the clock and TLS checks (so they see its response) but shown last.
func reorder(cs []Check) []Check {
	out := make([]Check, 0, len(cs))
	var probe []Check
	for _, c := range cs {
		if c.ID == IDProbeDeny {
			probe = append(probe, c)
			continue
		}
		out = append(out, c)
	}
	return append(out, probe...)
}

type runner struct {
	d Deps
	o Options

	// What later checks need from earlier ones.
	credsBroken  string // why S3 checks cannot run ("" = they can)
	bucketBroken string
	listDenied   bool
	nonce        string
}

func (r *runner) timed(ctx context.Context, f func(context.Context) Check) Check {
	ctx, cancel := context.WithTimeout(ctx, r.o.CheckTimeout)
	defer cancel()
	return f(ctx)
}

// stamp is the UTC time and a random suffix that make the test keys unique
// and self-explanatory.
func (r *runner) stamp() string {
	if r.nonce == "" {
		b := make([]byte, 4)
		if _, err := io.ReadFull(r.d.Rand, b); err != nil {
			b = []byte{0, 0, 0, 0}
		}
		r.nonce = r.d.Clock.Now().UTC().Format("20060102T150405Z") + "-" + hex.EncodeToString(b)
	}
	return r.nonce
}

// s3Skip says why an S3 check cannot run, or "".
func (r *runner) s3Skip(needBucket bool) string {
	switch {
	case r.credsBroken != "":
		return r.credsBroken
	case r.d.S3 == nil:
		return "no S3 client"
	case needBucket && r.bucketBroken != "":
		return r.bucketBroken
	}
	return ""
}
