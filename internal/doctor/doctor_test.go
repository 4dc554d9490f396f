package doctor

import (
	"bytes"
	"context"
	"crypto/tls"
	"errors"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"
	"github.com/aws/smithy-go"
	smithyhttp "github.com/aws/smithy-go/transport/http"

	"github.com/icevault/icevault/internal/clock"
	"github.com/icevault/icevault/internal/store"
)

var now = time.Date(2026, 12, 4, 5, 0, 0, 0, time.UTC)

type fakeS3 struct {
	head     func(*s3.HeadBucketInput) (*s3.HeadBucketOutput, error)
	location func() (*s3.GetBucketLocationOutput, error)
	list     func(*s3.ListObjectsV2Input) (*s3.ListObjectsV2Output, error)
	restore  func(*s3.RestoreObjectInput) (*s3.RestoreObjectOutput, error)
	put      func(*s3.PutObjectInput) (*s3.PutObjectOutput, error)
}

func (f *fakeS3) HeadBucket(_ context.Context, in *s3.HeadBucketInput, _ ...func(*s3.Options)) (*s3.HeadBucketOutput, error) {
	return f.head(in)
}
func (f *fakeS3) GetBucketLocation(context.Context, *s3.GetBucketLocationInput, ...func(*s3.Options)) (*s3.GetBucketLocationOutput, error) {
	return f.location()
}
func (f *fakeS3) ListObjectsV2(_ context.Context, in *s3.ListObjectsV2Input, _ ...func(*s3.Options)) (*s3.ListObjectsV2Output, error) {
	return f.list(in)
}
func (f *fakeS3) RestoreObject(_ context.Context, in *s3.RestoreObjectInput, _ ...func(*s3.Options)) (*s3.RestoreObjectOutput, error) {
	return f.restore(in)
}
func (f *fakeS3) PutObject(_ context.Context, in *s3.PutObjectInput, _ ...func(*s3.Options)) (*s3.PutObjectOutput, error) {
	return f.put(in)
}

type fakePutter func(store.PutRequest) (store.PutResult, error)

func (f fakePutter) Put(_ context.Context, p store.PutRequest) (store.PutResult, error) { return f(p) }

// apiErr builds an error shaped like the SDK's: an API error code inside
// an HTTP response error with headers.
func apiErr(status int, code string, hdr http.Header) error {
	if hdr == nil {
		hdr = http.Header{}
	}
	return &smithy.OperationError{ServiceID: "S3", OperationName: "Op", Err: &smithyhttp.ResponseError{
		Response: &smithyhttp.Response{Response: &http.Response{StatusCode: status, Header: hdr}},
		Err:      &smithy.GenericAPIError{Code: code, Message: code},
	}}
}

var errLogin = errors.New("refresh cached SSO token failed: the SSO session has expired or is invalid")

func isLogin(err error) bool { return errors.Is(err, errLogin) }

// healthy is a setup where every check passes.
func healthy() (Deps, Options, *fakeS3) {
	f := &fakeS3{
		head: func(*s3.HeadBucketInput) (*s3.HeadBucketOutput, error) {
			return nil, errors.New("HeadBucket is only a fallback")
		},
		location: func() (*s3.GetBucketLocationOutput, error) {
			return &s3.GetBucketLocationOutput{LocationConstraint: "eu-central-1"}, nil
		},
		list: func(in *s3.ListObjectsV2Input) (*s3.ListObjectsV2Output, error) {
			if aws.ToInt32(in.MaxKeys) != 1 || aws.ToString(in.Prefix) != "icevault/" {
				return nil, errors.New("unexpected list input")
			}
			return &s3.ListObjectsV2Output{}, nil
		},
		restore: func(in *s3.RestoreObjectInput) (*s3.RestoreObjectOutput, error) {
			return nil, apiErr(404, "NoSuchKey", nil)
		},
		put: func(*s3.PutObjectInput) (*s3.PutObjectOutput, error) { return nil, apiErr(403, "AccessDenied", nil) },
	}
	d := Deps{
		CallerIdentity: func(context.Context) (Identity, error) {
			return Identity{Account: "123456789012", ARN: "arn:aws:sts::123456789012:assumed-role/AWSReservedSSO_IcevaultBackup_0123456789abcdef/alice"}, nil
		},
		Credentials: func(context.Context) (CredentialInfo, error) {
			return CredentialInfo{Source: SourceSSO, Profile: "icevault", RoleExpires: now.Add(50 * time.Minute),
				AccessTokenExpires: now.Add(7 * time.Hour), RefreshToken: true, RegistrationExpires: now.Add(80 * 24 * time.Hour)}, nil
		},
		IsLoginRequired: isLogin,
		S3:              f,
		Probe:           f,
		Store: fakePutter(func(p store.PutRequest) (store.PutResult, error) {
			return store.PutResult{}, nil
		}),
		Wire: func() Wire {
			return Wire{Responses: 3, ServerDate: now, LocalDate: now.Add(300 * time.Millisecond), HTTPS: 3, TLSVersion: tls.VersionTLS13}
		},
		Clock: clock.NewFake(now),
		Rand:  bytes.NewReader(bytes.Repeat([]byte{0xab}, 64)),
		Host:  "testhost",
	}
	o := Options{Repo: "main", Bucket: "my-backups", Prefix: "icevault/", Region: "eu-central-1", Profile: "icevault", ProbeDeny: true}
	return d, o, f
}

func TestRunHealthy(t *testing.T) {
	d, o, _ := healthy()
	var put store.PutRequest
	d.Store = fakePutter(func(p store.PutRequest) (store.PutResult, error) { put = p; return store.PutResult{}, nil })
	rep := Run(context.Background(), d, o)
	if !rep.OK() {
		t.Fatalf("healthy setup failed: %+v", rep.Failed())
	}
	var ids []string
	for _, c := range rep.Checks {
		ids = append(ids, c.ID)
		if c.Status != OK {
			t.Errorf("%s: %s (%s)", c.ID, c.Status, c.Detail)
		}
	}
	if got := strings.Join(ids, " "); got != "identity credentials bucket list put restore clock tls probe_deny" {
		t.Errorf("order = %s", got)
	}
	id, _ := rep.Get(IDIdentity)
	if !strings.Contains(id.Detail, `permission set "IcevaultBackup"`) || !strings.Contains(id.Detail, `"alice"`) {
		t.Errorf("identity detail = %q", id.Detail)
	}
	if want := "icevault/doctor/icevault-doctor-20261204T050000Z-abababab.txt"; put.Key != want {
		t.Errorf("put test key = %q, want %q", put.Key, want)
	}
	body, _ := io.ReadAll(put.Body)
	if int64(len(body)) != put.Size || !strings.Contains(string(body), "icevault doctor") || put.SHA256 == [32]byte{} {
		t.Errorf("put test body = %q (size %d)", body, put.Size)
	}
	tlsc, _ := rep.Get(IDTLS)
	if !strings.Contains(tlsc.Detail, "TLS 1.3") {
		t.Errorf("tls detail = %q", tlsc.Detail)
	}
}

func TestChecks(t *testing.T) {
	for _, tc := range []struct {
		name   string
		setup  func(*Deps, *Options, *fakeS3)
		id     string
		status Status
		cause  Cause
		detail string // substring of Detail
		fix    string // substring of Fix
		// skipped lists checks that must then be skipped.
		skipped []string
	}{
		{name: "IAM user", id: IDIdentity, status: OK, detail: `IAM user "backup"`,
			setup: func(d *Deps, _ *Options, _ *fakeS3) {
				d.CallerIdentity = func(context.Context) (Identity, error) {
					return Identity{Account: "1", ARN: "arn:aws:iam::1:user/svc/backup"}, nil
				}
			}},
		{name: "root is a warning", id: IDIdentity, status: Warn, detail: "root", fix: "do not back up with root",
			setup: func(d *Deps, _ *Options, _ *fakeS3) {
				d.CallerIdentity = func(context.Context) (Identity, error) { return Identity{ARN: "arn:aws:iam::1:root"}, nil }
			}},
		{name: "STS login required", id: IDIdentity, status: Fail, cause: CauseLogin, fix: "AWS login required: run `icevault login`",
			skipped: []string{IDBucket, IDList, IDPut, IDRestore, IDProbeDeny},
			setup: func(d *Deps, _ *Options, _ *fakeS3) {
				d.CallerIdentity = func(context.Context) (Identity, error) { return Identity{}, errLogin }
			}},
		{name: "STS rejects the keys", id: IDIdentity, status: Fail, cause: CauseCredentials, fix: "icevault keys set",
			skipped: []string{IDBucket},
			setup: func(d *Deps, _ *Options, _ *fakeS3) {
				d.CallerIdentity = func(context.Context) (Identity, error) {
					return Identity{}, apiErr(403, "InvalidClientTokenId", nil)
				}
			}},
		{name: "no STS in this setup", id: IDIdentity, status: Skipped,
			setup: func(d *Deps, _ *Options, _ *fakeS3) { d.CallerIdentity = nil }},
		{name: "credentials login required", id: IDCredentials, status: Fail, cause: CauseLogin, fix: "AWS login required: run `icevault login`",
			skipped: []string{IDBucket, IDList, IDPut},
			setup: func(d *Deps, _ *Options, _ *fakeS3) {
				d.Credentials = func(context.Context) (CredentialInfo, error) { return CredentialInfo{}, errLogin }
			}},
		{name: "no credentials at all", id: IDCredentials, status: Fail, cause: CauseCredentials, fix: "aws configure list-profiles",
			setup: func(d *Deps, _ *Options, _ *fakeS3) {
				d.Credentials = func(context.Context) (CredentialInfo, error) { return CredentialInfo{}, errors.New("no profile") }
			}},
		{name: "SSO under an hour without refresh token", id: IDCredentials, status: Warn, detail: "in 40m0s", fix: "icevault login",
			setup: func(d *Deps, _ *Options, _ *fakeS3) {
				d.Credentials = func(context.Context) (CredentialInfo, error) {
					return CredentialInfo{Source: SourceSSO, Profile: "icevault", AccessTokenExpires: now.Add(40 * time.Minute)}, nil
				}
			}},
		{name: "SSO token expired", id: IDCredentials, status: Fail, cause: CauseLogin, detail: "expired",
			setup: func(d *Deps, _ *Options, _ *fakeS3) {
				d.Credentials = func(context.Context) (CredentialInfo, error) {
					return CredentialInfo{Source: SourceSSO, AccessTokenExpires: now.Add(-time.Minute)}, nil
				}
			}},
		{name: "refresh token outlives the role credentials", id: IDCredentials, status: OK, detail: "refresh token present",
			setup: func(d *Deps, _ *Options, _ *fakeS3) {
				d.Credentials = func(context.Context) (CredentialInfo, error) {
					return CredentialInfo{Source: SourceSSO, RoleExpires: now.Add(5 * time.Minute), AccessTokenExpires: now.Add(10 * time.Minute),
						RefreshToken: true, RegistrationExpires: now.Add(30 * 24 * time.Hour)}, nil
				}
			}},
		{name: "keychain keys", id: IDCredentials, status: OK, detail: "OS keychain",
			setup: func(d *Deps, _ *Options, _ *fakeS3) {
				d.Credentials = func(context.Context) (CredentialInfo, error) { return CredentialInfo{Source: SourceKeychain}, nil }
			}},
		{name: "plaintext keys warn", id: IDCredentials, status: Warn, fix: "icevault keys set",
			setup: func(d *Deps, _ *Options, _ *fakeS3) {
				d.Credentials = func(context.Context) (CredentialInfo, error) { return CredentialInfo{Source: SourceStaticFile}, nil }
			}},
		{name: "wrong region from the 301 header", id: IDBucket, status: Fail, cause: CauseConfig, detail: "is in us-west-2",
			fix: `set region = "us-west-2" in [repository.main]`, skipped: []string{IDList, IDPut, IDRestore, IDProbeDeny},
			setup: func(_ *Deps, _ *Options, f *fakeS3) {
				f.location = func() (*s3.GetBucketLocationOutput, error) {
					return nil, apiErr(301, "PermanentRedirect", http.Header{"X-Amz-Bucket-Region": {"us-west-2"}})
				}
			}},
		{name: "wrong region from GetBucketLocation's error body", id: IDBucket, status: Fail, cause: CauseConfig, fix: `region = "ap-south-1"`,
			setup: func(d *Deps, _ *Options, f *fakeS3) {
				f.location = func() (*s3.GetBucketLocationOutput, error) {
					return nil, apiErr(400, "AuthorizationHeaderMalformed", nil)
				}
				d.Wire = func() Wire { return Wire{ErrorRegion: "ap-south-1"} }
			}},
		{name: "wrong region from HeadBucket's 403 header", id: IDBucket, status: Fail, cause: CauseConfig, fix: `region = "sa-east-1"`,
			setup: func(_ *Deps, _ *Options, f *fakeS3) {
				f.location = func() (*s3.GetBucketLocationOutput, error) { return nil, apiErr(403, "AccessDenied", nil) }
				f.head = func(*s3.HeadBucketInput) (*s3.HeadBucketOutput, error) {
					return nil, apiErr(403, "Forbidden", http.Header{"X-Amz-Bucket-Region": {"sa-east-1"}})
				}
			}},
		{name: "wrong region, us-east-1 location", id: IDBucket, status: Fail, cause: CauseConfig, fix: `region = "us-east-1"`,
			setup: func(_ *Deps, _ *Options, f *fakeS3) {
				f.location = func() (*s3.GetBucketLocationOutput, error) { return &s3.GetBucketLocationOutput{}, nil }
			}},
		{name: "no such bucket", id: IDBucket, status: Fail, cause: CauseNotFound, fix: "aws s3api create-bucket --bucket my-backups",
			skipped: []string{IDList, IDPut},
			setup: func(_ *Deps, _ *Options, f *fakeS3) {
				f.location = func() (*s3.GetBucketLocationOutput, error) { return nil, apiErr(404, "NoSuchBucket", nil) }
			}},
		{name: "location refused, HeadBucket confirms the region", id: IDBucket, status: Warn, cause: CauseAccess, detail: "in eu-central-1", fix: `"s3:GetBucketLocation"`,
			setup: func(_ *Deps, _ *Options, f *fakeS3) {
				f.location = func() (*s3.GetBucketLocationOutput, error) { return nil, apiErr(403, "AccessDenied", nil) }
				f.head = func(*s3.HeadBucketInput) (*s3.HeadBucketOutput, error) {
					return nil, apiErr(403, "Forbidden", http.Header{"X-Amz-Bucket-Region": {"eu-central-1"}})
				}
			}},
		{name: "bucket of another account", id: IDBucket, status: Fail, cause: CauseAccess, fix: `check bucket = "my-backups"`,
			setup: func(_ *Deps, _ *Options, f *fakeS3) {
				f.location = func() (*s3.GetBucketLocationOutput, error) { return nil, apiErr(403, "AccessDenied", nil) }
				f.head = func(*s3.HeadBucketInput) (*s3.HeadBucketOutput, error) { return nil, apiErr(403, "Forbidden", nil) }
			}},
		{name: "list denied", id: IDList, status: Fail, cause: CauseAccess, fix: `"s3:prefix": ["icevault/*"]`,
			setup: func(_ *Deps, _ *Options, f *fakeS3) {
				f.list = func(*s3.ListObjectsV2Input) (*s3.ListObjectsV2Output, error) {
					return nil, apiErr(403, "AccessDenied", nil)
				}
			}},
		{name: "list shows objects", id: IDList, status: OK, detail: "first: icevault/main/config",
			setup: func(_ *Deps, _ *Options, f *fakeS3) {
				f.list = func(*s3.ListObjectsV2Input) (*s3.ListObjectsV2Output, error) {
					return &s3.ListObjectsV2Output{Contents: []types.Object{{Key: aws.String("icevault/main/config")}}}, nil
				}
			}},
		{name: "put refused", id: IDPut, status: Fail, cause: CauseAccess, detail: "was refused", fix: `"Action": "s3:PutObject", "Resource": "arn:aws:s3:::my-backups/icevault/*"`,
			setup: func(d *Deps, _ *Options, _ *fakeS3) {
				d.Store = fakePutter(func(store.PutRequest) (store.PutResult, error) {
					return store.PutResult{}, &store.Error{Op: "put", Kind: store.KindAccessDenied, Code: "AccessDenied"}
				})
			}},
		{name: "put login required", id: IDPut, status: Fail, cause: CauseLogin, fix: "icevault login",
			setup: func(d *Deps, _ *Options, _ *fakeS3) {
				d.Store = fakePutter(func(store.PutRequest) (store.PutResult, error) {
					return store.PutResult{}, &store.Error{Op: "put", Kind: store.KindLoginRequired}
				})
			}},
		{name: "put skipped", id: IDPut, status: Skipped, detail: "undeletable",
			setup: func(d *Deps, o *Options, _ *fakeS3) {
				o.SkipPutTest = true
				d.Store = fakePutter(func(store.PutRequest) (store.PutResult, error) { panic("put with --no-put-test") })
			}},
		{name: "restore denied warns", id: IDRestore, status: Warn, cause: CauseAccess, fix: `"s3:RestoreObject"`,
			setup: func(_ *Deps, _ *Options, f *fakeS3) {
				f.restore = func(*s3.RestoreObjectInput) (*s3.RestoreObjectOutput, error) {
					return nil, apiErr(403, "AccessDenied", nil)
				}
			}},
		{name: "restore denied fails when required", id: IDRestore, status: Fail, cause: CauseAccess,
			setup: func(_ *Deps, o *Options, f *fakeS3) {
				o.RequireRestore = true
				f.restore = func(*s3.RestoreObjectInput) (*s3.RestoreObjectOutput, error) {
					return nil, apiErr(403, "AccessDenied", nil)
				}
			}},
		{name: "restore ambiguous without list", id: IDRestore, status: Warn, cause: CauseAccess, detail: "hides missing keys",
			setup: func(_ *Deps, _ *Options, f *fakeS3) {
				f.list = func(*s3.ListObjectsV2Input) (*s3.ListObjectsV2Output, error) {
					return nil, apiErr(403, "AccessDenied", nil)
				}
				f.restore = func(*s3.RestoreObjectInput) (*s3.RestoreObjectOutput, error) {
					return nil, apiErr(403, "AccessDenied", nil)
				}
			}},
		{name: "clock far off", id: IDClock, status: Fail, cause: CauseClock, detail: "7m0s ahead of", fix: "NTP",
			setup: func(d *Deps, _ *Options, _ *fakeS3) {
				d.Wire = func() Wire { return Wire{ServerDate: now, LocalDate: now.Add(7 * time.Minute)} }
			}},
		{name: "clock a bit off", id: IDClock, status: Warn, detail: "2m0s behind",
			setup: func(d *Deps, _ *Options, _ *fakeS3) {
				d.Wire = func() Wire { return Wire{ServerDate: now, LocalDate: now.Add(-2 * time.Minute)} }
			}},
		{name: "no Date seen", id: IDClock, status: Skipped,
			setup: func(d *Deps, _ *Options, _ *fakeS3) { d.Wire = func() Wire { return Wire{} } }},
		{name: "plain http off loopback", id: IDTLS, status: Fail, cause: CauseConfig, fix: "https://",
			setup: func(_ *Deps, o *Options, _ *fakeS3) { o.Endpoint = "http://s3.example.com" }},
		{name: "plain http on loopback", id: IDTLS, status: OK, detail: "this machine",
			setup: func(_ *Deps, o *Options, _ *fakeS3) { o.Endpoint = "http://127.0.0.1:9000" }},
		{name: "old TLS", id: IDTLS, status: Fail, cause: CauseConfig, detail: "TLS 1.0",
			setup: func(d *Deps, _ *Options, _ *fakeS3) {
				d.Wire = func() Wire { return Wire{HTTPS: 1, TLSVersion: tls.VersionTLS10} }
			}},
		{name: "probe accepted", id: IDProbeDeny, status: Fail, cause: CausePolicy, detail: "ACCEPTED a STANDARD upload", fix: `"StringNotEquals": {"s3:x-amz-storage-class": "DEEP_ARCHIVE"}`,
			setup: func(_ *Deps, _ *Options, f *fakeS3) {
				f.put = func(in *s3.PutObjectInput) (*s3.PutObjectOutput, error) {
					if in.StorageClass != types.StorageClassStandard || aws.ToString(in.IfNoneMatch) != "*" {
						return nil, errors.New("probe must be a create-only STANDARD put")
					}
					return &s3.PutObjectOutput{}, nil
				}
			}},
		{name: "probe not asked for", id: IDProbeDeny, status: Skipped, detail: "--probe-deny",
			setup: func(_ *Deps, o *Options, f *fakeS3) {
				o.ProbeDeny = false
				f.put = func(*s3.PutObjectInput) (*s3.PutObjectOutput, error) { panic("probe without --probe-deny") }
			}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			d, o, f := healthy()
			tc.setup(&d, &o, f)
			rep := Run(context.Background(), d, o)
			c, ok := rep.Get(tc.id)
			if !ok {
				t.Fatalf("no check %s", tc.id)
			}
			if c.Status != tc.status || c.Cause != tc.cause || !strings.Contains(c.Detail, tc.detail) || !strings.Contains(c.Fix, tc.fix) {
				t.Errorf("%s = %+v\nwant status %s, cause %q, detail ~ %q, fix ~ %q", tc.id, c, tc.status, tc.cause, tc.detail, tc.fix)
			}
			if c.Status == Fail && rep.OK() {
				t.Errorf("report OK = %v with %s %s", rep.OK(), tc.id, c.Status)
			}
			for _, id := range tc.skipped {
				if s, _ := rep.Get(id); s.Status != Skipped || s.Detail == "" {
					t.Errorf("%s = %+v, want skipped with a reason", id, s)
				}
			}
		})
	}
}

func TestParseARN(t *testing.T) {
	for _, tc := range []struct {
		arn  string
		want Principal
	}{
		{"arn:aws:sts::123456789012:assumed-role/AWSReservedSSO_Icevault_Backup_a1b2c3d4e5f60718/bob@example.com",
			Principal{Kind: PrincipalSSO, Name: "AWSReservedSSO_Icevault_Backup_a1b2c3d4e5f60718", PermissionSet: "Icevault_Backup", Session: "bob@example.com"}},
		{"arn:aws:iam::123456789012:user/backup", Principal{Kind: PrincipalIAMUser, Name: "backup"}},
		{"arn:aws-cn:iam::123456789012:user/a/b/backup", Principal{Kind: PrincipalIAMUser, Name: "backup"}},
		{"arn:aws:sts::123456789012:assumed-role/Deployer/ci", Principal{Kind: PrincipalRole, Name: "Deployer", Session: "ci"}},
		{"arn:aws:iam::123456789012:root", Principal{Kind: PrincipalRoot, Name: "root"}},
		{"arn:aws:sts::123456789012:federated-user/x", Principal{Kind: PrincipalOther, Name: "federated-user/x"}},
		{"garbage", Principal{Kind: PrincipalOther, Name: "garbage"}},
	} {
		if got := ParseARN(tc.arn); got != tc.want {
			t.Errorf("ParseARN(%q) = %+v, want %+v", tc.arn, got, tc.want)
		}
	}
}

type rtFunc func(*http.Request) (*http.Response, error)

func (f rtFunc) Do(r *http.Request) (*http.Response, error) { return f(r) }

func TestRecorder(t *testing.T) {
	body := `<?xml version="1.0"?><Error><Code>AuthorizationHeaderMalformed</Code><Region>eu-west-1</Region></Error>`
	rec := NewRecorder(rtFunc(func(r *http.Request) (*http.Response, error) {
		return &http.Response{StatusCode: 400, Header: http.Header{"Date": {"Fri, 04 Dec 2026 05:00:00 GMT"}},
			Body: io.NopCloser(strings.NewReader(body)), TLS: &tls.ConnectionState{Version: tls.VersionTLS12}}, nil
	}))
	local := now.Add(10 * time.Second)
	rec.Now = func() time.Time { return local }
	req, _ := http.NewRequest(http.MethodGet, "https://s3.amazonaws.com/b?location", nil)
	resp, err := rec.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	got, _ := io.ReadAll(resp.Body)
	if string(got) != body {
		t.Fatalf("body after recording = %q", got)
	}
	w := rec.Observed()
	if w.Responses != 1 || w.ErrorRegion != "eu-west-1" || !w.ServerDate.Equal(now) || !w.LocalDate.Equal(local) || w.TLSVersion != tls.VersionTLS12 || w.HTTPS != 1 {
		t.Fatalf("observed %+v", w)
	}
}

func TestSourceOf(t *testing.T) {
	for _, tc := range []struct {
		provider string
		keychain bool
		want     string
	}{
		{"SSOProvider", false, SourceSSO},
		{"SharedConfigCredentials: /home/u/.aws/credentials", false, SourceStaticFile},
		{"EnvConfigCredentials", false, SourceEnv},
		{"StaticCredentials", true, SourceKeychain},
		{"StaticCredentials", false, SourceOther},
		{"AssumeRoleProvider", false, SourceOther},
	} {
		if got := sourceOf(tc.provider, tc.keychain); got != tc.want {
			t.Errorf("sourceOf(%q, %v) = %q, want %q", tc.provider, tc.keychain, got, tc.want)
		}
	}
}

func TestSTSAvailable(t *testing.T) {
	env := func(m map[string]string) func(string) string { return func(k string) string { return m[k] } }
	for _, tc := range []struct {
		endpoint string
		env      map[string]string
		want     bool
	}{
		{"", nil, true},
		{"http://127.0.0.1:9000", nil, false}, // the simulator's key must not go to AWS STS
		{"http://127.0.0.1:9000", map[string]string{"AWS_ENDPOINT_URL_STS": "http://127.0.0.1:9001"}, true},
		{"http://127.0.0.1:9000", map[string]string{"AWS_ENDPOINT_URL": "http://127.0.0.1:9001"}, true},
		{"", map[string]string{"AWS_ENDPOINT_URL_S3": "http://127.0.0.1:9000"}, false}, // the simulator, by environment
		{"", map[string]string{"AWS_ENDPOINT_URL_S3": "http://127.0.0.1:9000", "AWS_ENDPOINT_URL_STS": "http://127.0.0.1:9001"}, true},
	} {
		if got := STSAvailable(tc.endpoint, env(tc.env)); got != tc.want {
			t.Errorf("STSAvailable(%q, %v) = %v", tc.endpoint, tc.env, got)
		}
	}
}
