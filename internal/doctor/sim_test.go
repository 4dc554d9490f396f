package doctor

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"

	"github.com/icevault/icevault/internal/sim"
	"github.com/icevault/icevault/internal/testenv"
	"github.com/icevault/icevault/internal/testrepo"
)

// STSFake answers GetCallerIdentity in STS's awsQuery XML, with ARN, or
// with the error code Code if it is set.
type STSFake struct {
	ARN   string
	Code  string
	Calls int
}

// Start serves the fake until the test ends and returns its URL.
func (f *STSFake) Start(t testing.TB) string {
	t.Helper()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		f.Calls++
		b, _ := io.ReadAll(r.Body)
		form, _ := url.ParseQuery(string(b))
		if form.Get("Action") != "GetCallerIdentity" || !strings.HasPrefix(r.Header.Get("Authorization"), "AWS4-HMAC-SHA256 ") {
			http.Error(w, "unexpected request", http.StatusBadRequest)
			return
		}
		w.Header().Set("Content-Type", "text/xml")
		if f.Code != "" {
			w.WriteHeader(http.StatusForbidden)
			io.WriteString(w, `<ErrorResponse xmlns="https://sts.amazonaws.com/doc/2011-06-15/"><Error><Type>Sender</Type><Code>`+f.Code+
				`</Code><Message>refused by the fake</Message></Error><RequestId>fake</RequestId></ErrorResponse>`)
			return
		}
		account := strings.Split(f.ARN, ":")[4]
		io.WriteString(w, `<GetCallerIdentityResponse xmlns="https://sts.amazonaws.com/doc/2011-06-15/"><GetCallerIdentityResult>`+
			`<Arn>`+f.ARN+`</Arn><UserId>AROAFAKE:alice</UserId><Account>`+account+`</Account>`+
			`</GetCallerIdentityResult><ResponseMetadata><RequestId>fake</RequestId></ResponseMetadata></GetCallerIdentityResponse>`)
	}))
	t.Cleanup(srv.Close)
	return srv.URL
}

const ssoARN = "arn:aws:sts::111122223333:assumed-role/AWSReservedSSO_IcevaultBackup_0123456789abcdef/alice"

type simCase struct {
	policy   bool   // simulator in policy mode
	region   string // the simulator's region ("" = us-east-1)
	cfgRegio string // the configured region ("" = us-east-1)
	stsCode  string
	creds    aws.CredentialsProvider
	opts     func(*Options)
	fault    *sim.Fault
}

func runOnSim(t *testing.T, c simCase) (Report, *sim.Running) {
	t.Helper()
	srv, err := sim.Start(sim.Options{Buckets: []string{"backups"}, EnforcePolicy: c.policy, Region: c.region})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { srv.Close() })
	if c.fault != nil {
		srv.InjectFault(*c.fault)
	}
	fake := &STSFake{ARN: ssoARN, Code: c.stsCode}
	region := c.cfgRegio
	if region == "" {
		region = "us-east-1"
	}
	creds := c.creds
	if creds == nil {
		creds = credentials.NewStaticCredentialsProvider(sim.DefaultAccessKey, sim.DefaultSecretKey, "")
	}
	cfg := aws.Config{Region: region, Credentials: aws.NewCredentialsCache(creds), BaseEndpoint: aws.String(fake.Start(t))}
	d, err := NewAWS(cfg, AWSOptions{Endpoint: srv.URL, Bucket: "backups", Profile: "icevault", IsLoginRequired: isLogin})
	if err != nil {
		t.Fatal(err)
	}
	d.Host = "testhost"
	o := Options{Repo: "main", Bucket: "backups", Prefix: "icevault/", Region: region, Endpoint: srv.URL, Profile: "icevault"}
	if c.opts != nil {
		c.opts(&o)
	}
	return Run(context.Background(), d, o), srv
}

func statuses(rep Report) map[string]Status {
	m := map[string]Status{}
	for _, c := range rep.Checks {
		m[c.ID] = c.Status
	}
	return m
}

func want(t *testing.T, rep Report, exp map[string]Status) {
	t.Helper()
	got := statuses(rep)
	for id, s := range exp {
		if got[id] != s {
			c, _ := rep.Get(id)
			t.Errorf("%s = %s, want %s: %s / %s", id, got[id], s, c.Detail, c.Fix)
		}
	}
}

func TestSimHealthyWithDenyProbe(t *testing.T) {
	rep, srv := runOnSim(t, simCase{policy: true, opts: func(o *Options) { o.ProbeDeny = true }})
	want(t, rep, map[string]Status{IDIdentity: OK, IDCredentials: OK, IDBucket: OK, IDList: OK, IDPut: OK,
		IDRestore: OK, IDClock: OK, IDTLS: OK, IDProbeDeny: OK})
	if !rep.OK() {
		t.Fatalf("failed: %+v", rep.Failed())
	}
	// The put test went through store.Put: create-only DEEP_ARCHIVE with
	// a SHA-256, under <prefix>doctor/; the probe was STANDARD and refused.
	var puts int
	for _, r := range srv.Requests() {
		switch r.Op {
		case "PutObject":
			puts++
			if !strings.HasPrefix(r.Key, "icevault/doctor/icevault-doctor-") {
				t.Errorf("put to %q", r.Key)
			}
			if r.StorageClass == "DEEP_ARCHIVE" && (r.IfNoneMatch != "*" || r.ChecksumSHA256 == "" || r.Status != 200) {
				t.Errorf("put test %+v", r)
			}
			if r.StorageClass != "DEEP_ARCHIVE" && r.Code != "AccessDenied" {
				t.Errorf("probe %+v was not refused", r)
			}
		case "RestoreObject":
			if r.Code != "NoSuchKey" {
				t.Errorf("restore probe answered %q", r.Code)
			}
		case "DeleteObject", "CopyObject", "CreateMultipartUpload":
			t.Errorf("doctor sent %s", r.Op)
		}
	}
	if puts != 2 {
		t.Errorf("%d PutObject, want the put test and the probe", puts)
	}
	if id, _ := rep.Get(IDIdentity); !strings.Contains(id.Detail, "IcevaultBackup") {
		t.Errorf("identity: %s", id.Detail)
	}
}

func TestSimCases(t *testing.T) {
	for _, tc := range []struct {
		name string
		c    simCase
		exp  map[string]Status
		id   string // check whose fix must contain fix
		fix  string
	}{
		{name: "probe accepted without the policy", c: simCase{opts: func(o *Options) { o.ProbeDeny = true }},
			exp: map[string]Status{IDPut: OK, IDProbeDeny: Fail}, id: IDProbeDeny, fix: `"s3:x-amz-storage-class": "DEEP_ARCHIVE"`},
		{name: "wrong region", c: simCase{policy: true, region: "eu-west-1"},
			exp: map[string]Status{IDBucket: Fail, IDList: Skipped, IDPut: Skipped, IDRestore: Skipped},
			id:  IDBucket, fix: `set region = "eu-west-1" in [repository.main]`},
		{name: "no list permission", c: simCase{policy: true, fault: &sim.Fault{Op: "ListObjectsV2", Status: 403, Code: "AccessDenied"}},
			exp: map[string]Status{IDBucket: OK, IDList: Fail, IDPut: OK}, id: IDList, fix: "s3:ListBucket"},
		{name: "put refused", c: simCase{policy: true, fault: &sim.Fault{Op: "PutObject", Status: 403, Code: "AccessDenied"}},
			exp: map[string]Status{IDList: OK, IDPut: Fail, IDRestore: OK}, id: IDPut, fix: "s3:PutObject"},
		{name: "restore refused", c: simCase{policy: true, fault: &sim.Fault{Op: "RestoreObject", Status: 403, Code: "AccessDenied"}},
			exp: map[string]Status{IDPut: OK, IDRestore: Warn}, id: IDRestore, fix: "s3:RestoreObject"},
		{name: "login required", c: simCase{policy: true, creds: aws.CredentialsProviderFunc(func(context.Context) (aws.Credentials, error) {
			return aws.Credentials{}, errLogin
		})},
			exp: map[string]Status{IDIdentity: Fail, IDCredentials: Fail, IDBucket: Skipped, IDPut: Skipped},
			id:  IDCredentials, fix: "AWS login required: run `icevault login`"},
		{name: "expired token at STS", c: simCase{policy: true, stsCode: "ExpiredToken"},
			exp: map[string]Status{IDIdentity: Fail, IDBucket: Skipped}, id: IDIdentity, fix: "icevault login"},
		{name: "put test off", c: simCase{policy: true, opts: func(o *Options) { o.SkipPutTest = true }},
			exp: map[string]Status{IDPut: Skipped, IDRestore: OK, IDProbeDeny: Skipped}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			rep, srv := runOnSim(t, tc.c)
			want(t, rep, tc.exp)
			if tc.id != "" {
				if c, _ := rep.Get(tc.id); !strings.Contains(c.Fix, tc.fix) {
					t.Errorf("%s fix = %q, want ~ %q", tc.id, c.Fix, tc.fix)
				}
			}
			if tc.name == "put test off" && srv.Counts()["PutObject"] != 0 {
				t.Errorf("--no-put-test sent %d PutObject", srv.Counts()["PutObject"])
			}
		})
	}
}

// TestSimPolicyModeHelper keeps the test on the same simulator setup the
// rest of the project uses (testrepo.StartSim: policy mode, fake clock).
func TestSimPolicyModeHelper(t *testing.T) {
	srv, clk := testrepo.StartSim(t, "", "backups")
	cfg := aws.Config{Region: "us-east-1", Credentials: credentials.NewStaticCredentialsProvider(sim.DefaultAccessKey, sim.DefaultSecretKey, "")}
	d, err := NewAWS(cfg, AWSOptions{Endpoint: srv.URL, Bucket: "backups", NoSTS: true})
	if err != nil {
		t.Fatal(err)
	}
	d.Clock = clk
	rep := Run(context.Background(), d, Options{Bucket: "backups", Prefix: "icevault/", Region: "us-east-1", Endpoint: srv.URL, ProbeDeny: true})
	want(t, rep, map[string]Status{IDIdentity: Skipped, IDCredentials: OK, IDPut: OK, IDProbeDeny: OK})
	if put, _ := rep.Get(IDPut); !strings.Contains(put.Detail, clk.Now().UTC().Format("20060102T150405Z")) {
		t.Errorf("put test key not stamped with the injected clock: %s", put.Detail)
	}
}

// TestMoto runs the doctor against moto, a third-party emulator that serves
// S3 and STS on one port: it answers RestoreObject on a missing key with
// NoSuchKey like S3 (so the restore check's reasoning holds there too), and
// evaluates no policy, so the deny probe must report the STANDARD upload as
// accepted.
func TestMoto(t *testing.T) {
	m := testenv.Moto(t)
	m.CreateBucket(t, "moto-bucket")
	cfg := aws.Config{Region: m.Region, BaseEndpoint: aws.String(m.URL),
		Credentials: credentials.NewStaticCredentialsProvider(m.AccessKey, m.SecretKey, "")}
	d, err := NewAWS(cfg, AWSOptions{Endpoint: m.URL, Bucket: "moto-bucket"})
	if err != nil {
		t.Fatal(err)
	}
	rep := Run(context.Background(), d, Options{Bucket: "moto-bucket", Prefix: "icevault/", Region: m.Region, Endpoint: m.URL, ProbeDeny: true})
	want(t, rep, map[string]Status{IDIdentity: OK, IDCredentials: OK, IDBucket: OK, IDList: OK, IDPut: OK,
		IDRestore: OK, IDClock: OK, IDTLS: OK, IDProbeDeny: Fail})
	if c, _ := rep.Get(IDRestore); !strings.Contains(c.Detail, "NoSuchKey") {
		t.Errorf("restore on moto: %s", c.Detail)
	}
}
