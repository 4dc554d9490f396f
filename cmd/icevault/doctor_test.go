package main

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/icevault/icevault/internal/config"
	"github.com/icevault/icevault/internal/doctor"
	"github.com/icevault/icevault/internal/sim"
)

// doctorEnv is a user's setup for `icevault doctor` against the simulator:
// cliEnv's static-key profile, a config naming the simulator, and STS
// answered by a tiny awsQuery handler (AWS_ENDPOINT_URL_STS).
func doctorEnv(t *testing.T, o sim.Options, region string) *sim.Running {
	t.Helper()
	o.Buckets = []string{"doctor-bucket"}
	srv, err := sim.Start(o)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { srv.Close() })
	dir := cliEnv(t, sim.DefaultAccessKey, sim.DefaultSecretKey)
	sts := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		if !strings.Contains(string(b), "Action=GetCallerIdentity") {
			http.Error(w, "unexpected", http.StatusBadRequest)
			return
		}
		w.Header().Set("Content-Type", "text/xml")
		io.WriteString(w, `<GetCallerIdentityResponse xmlns="https://sts.amazonaws.com/doc/2011-06-15/"><GetCallerIdentityResult>`+
			`<Arn>arn:aws:iam::111122223333:user/icevault-backup</Arn><UserId>AIDAFAKE</UserId><Account>111122223333</Account>`+
			`</GetCallerIdentityResult><ResponseMetadata><RequestId>fake</RequestId></ResponseMetadata></GetCallerIdentityResponse>`)
	}))
	t.Cleanup(sts.Close)
	t.Setenv("AWS_ENDPOINT_URL_STS", sts.URL)
	t.Setenv("AWS_ENDPOINT_URL", "")
	cfgPath := filepath.Join(dir, "home", ".config", "icevault", config.FileName)
	if err := config.Save(cfgPath, &config.File{Repositories: map[string]*config.Repository{
		"main": {Bucket: "doctor-bucket", Prefix: "icevault/", Region: region, Endpoint: srv.URL},
	}}); err != nil {
		t.Fatal(err)
	}
	return srv
}

func TestCLIDoctorHealthy(t *testing.T) {
	srv := doctorEnv(t, sim.Options{EnforcePolicy: true}, "us-east-1")
	out, stderr, code := runCLI(t, "doctor", "--probe-deny")
	if code != exitOK {
		t.Fatalf("doctor: exit %d\n%s%s", code, out, stderr)
	}
	t.Logf("icevault doctor --probe-deny:\n%s", out)
	for _, want := range []string{
		`✓ who am I: IAM user "icevault-backup" in account 111122223333`,
		// Plaintext keys are a warning (with its fix), not a failure.
		"! credentials: static keys in a plaintext AWS credentials file",
		"    fix: keys in a plaintext file",
		"✓ bucket: s3://doctor-bucket is reachable, in us-east-1",
		"✓ listing: allowed",
		"✓ put test: created s3://doctor-bucket/icevault/doctor/icevault-doctor-",
		"undeletable",
		"✓ restore permission: RestoreObject is allowed",
		"✓ clock:",
		"✓ TLS: plain http://",
		"✓ deny probe: a STANDARD upload was refused",
		"all checks passed, with 1 warning",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}
	if n := srv.Counts()["PutObject"]; n != 2 {
		t.Errorf("%d PutObject, want the put test and the probe", n)
	}

	// --no-put-test without --probe-deny writes nothing at all.
	before := srv.Counts()["PutObject"]
	if out, _, code := runCLI(t, "doctor", "--no-put-test"); code != exitOK || !strings.Contains(out, "- put test: skipped: --no-put-test") {
		t.Errorf("--no-put-test: exit %d\n%s", code, out)
	}
	if srv.Counts()["PutObject"] != before {
		t.Error("--no-put-test sent a PutObject")
	}
}

func TestCLIDoctorFailures(t *testing.T) {
	for _, tc := range []struct {
		name   string
		sim    sim.Options
		region string
		fault  *sim.Fault
		args   []string
		code   int
		want   []string
	}{
		{name: "probe accepted without the policy", sim: sim.Options{}, region: "us-east-1", args: []string{"--probe-deny"}, code: exitAccessDenied,
			want: []string{"✗ deny probe: the policy ACCEPTED a STANDARD upload", "    fix: add to the policy: {\"Effect\": \"Deny\""}},
		{name: "wrong region", sim: sim.Options{EnforcePolicy: true, Region: "eu-west-1"}, region: "us-east-1", code: exitUsage,
			want: []string{"✗ bucket: s3://doctor-bucket is in eu-west-1", `    fix: set region = "eu-west-1" in [repository.main]`, "- listing: skipped"}},
		{name: "put refused", sim: sim.Options{EnforcePolicy: true}, region: "us-east-1", code: exitAccessDenied,
			fault: &sim.Fault{Op: "PutObject", Status: 403, Code: "AccessDenied"},
			want:  []string{"✗ put test: create-only DEEP_ARCHIVE PutObject", "s3:PutObject"}},
		{name: "no list permission", sim: sim.Options{EnforcePolicy: true}, region: "us-east-1", code: exitAccessDenied,
			fault: &sim.Fault{Op: "ListObjectsV2", Status: 403, Code: "AccessDenied"},
			want:  []string{"✗ listing: ListObjectsV2 on s3://doctor-bucket/icevault/ was refused", "s3:ListBucket"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			srv := doctorEnv(t, tc.sim, tc.region)
			if tc.fault != nil {
				srv.InjectFault(*tc.fault)
			}
			out, stderr, code := runCLI(t, append([]string{"doctor"}, tc.args...)...)
			if code != tc.code || !strings.HasPrefix(stderr, "icevault: doctor: ") {
				t.Errorf("exit %d (want %d), stderr %q", code, tc.code, stderr)
			}
			for _, w := range tc.want {
				if !strings.Contains(out, w) {
					t.Errorf("output lacks %q:\n%s", w, out)
				}
			}
		})
	}
}

// TestCLIDoctorLoginRequired: an SSO profile that was never logged in (no
// token cache file) is "AWS login required", exit 4, and no S3 call is made.
func TestCLIDoctorLoginRequired(t *testing.T) {
	srv := doctorEnv(t, sim.Options{EnforcePolicy: true}, "us-east-1")
	os.WriteFile(os.Getenv("AWS_CONFIG_FILE"), []byte(`[profile icevault]
sso_session = corp
sso_account_id = 111122223333
sso_role_name = IcevaultBackup
region = us-east-1

[sso-session corp]
sso_start_url = https://example.awsapps.com/start
sso_region = us-east-1
sso_registration_scopes = sso:account:access
`), 0o600)
	os.WriteFile(os.Getenv("AWS_SHARED_CREDENTIALS_FILE"), nil, 0o600)
	text, _, code := runCLI(t, "doctor")
	if code != exitLoginRequired || !strings.Contains(text, "✗ credentials: ") || !strings.Contains(text, "    fix: AWS login required: run `icevault login`") {
		t.Errorf("doctor: exit %d\n%s", code, text)
	}
	t.Logf("icevault doctor:\n%s", text)
	out, stderr, code := runCLI(t, "doctor", "--json")
	if code != exitLoginRequired {
		t.Fatalf("exit %d, want %d\n%s%s", code, exitLoginRequired, out, stderr)
	}
	var rep struct {
		Event  string
		OK     bool
		Checks []struct{ ID, Status, Detail, Fix, Cause string }
	}
	if err := json.Unmarshal([]byte(strings.Split(out, "\n")[0]), &rep); err != nil || rep.Event != "doctor" || rep.OK {
		t.Fatalf("report %q: %v", out, err)
	}
	got := map[string]string{}
	for _, c := range rep.Checks {
		got[c.ID] = c.Status
		if c.ID == "credentials" && (c.Cause != "login_required" || c.Fix != "AWS login required: run `icevault login`") {
			t.Errorf("credentials check = %+v", c)
		}
	}
	if got["credentials"] != "fail" || got["identity"] != "fail" || got["bucket"] != "skipped" || got["put"] != "skipped" {
		t.Errorf("statuses %v", got)
	}
	if n := len(srv.Requests()); n != 0 {
		t.Errorf("%d S3 requests without credentials", n)
	}
}

func TestDoctorExitCodes(t *testing.T) {
	for _, tc := range []struct {
		cause doctor.Cause
		want  int
	}{
		{doctor.CauseLogin, exitLoginRequired},
		{doctor.CauseCredentials, exitLoginRequired},
		{doctor.CauseAccess, exitAccessDenied},
		{doctor.CausePolicy, exitAccessDenied},
		{doctor.CauseNetwork, exitTransient},
		{doctor.CauseNotFound, exitNotFound},
		{doctor.CauseConfig, exitUsage},
		{doctor.CauseClock, exitError},
	} {
		rep := doctor.Report{Checks: []doctor.Check{{ID: "a", Status: doctor.OK}, {ID: "b", Name: "b", Status: doctor.Fail, Cause: tc.cause}}}
		if got := exitCode(doctorError(rep)); got != tc.want {
			t.Errorf("%s: exit %d, want %d", tc.cause, got, tc.want)
		}
	}
	if err := doctorError(doctor.Report{Checks: []doctor.Check{{Status: doctor.Warn}, {Status: doctor.Skipped}}}); err != nil {
		t.Errorf("warnings only: %v", err)
	}
}
