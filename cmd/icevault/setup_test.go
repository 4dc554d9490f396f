package main

import (
	"context"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	awsconfig "github.com/aws/aws-sdk-go-v2/config"

	"github.com/icevault/icevault/internal/auth/ssofake"
	"github.com/icevault/icevault/internal/config"
	"github.com/icevault/icevault/internal/sim"
)

const userAWSConfig = "# my settings\n[default]\nregion = us-east-1\n\n[profile work] ; work stuff\nsso_session = work\n"

var ssoFlags = []string{"--sso-start-url", "https://d-1234567890.awsapps.com/start", "--sso-region", "eu-central-1",
	"--account-id", "123456789012", "--role-name", "IcevaultBackup"}

func setupArgs(extra ...string) []string {
	return append(append([]string{"setup", "--yes"}, ssoFlags...), append([]string{"--bucket", "my-archive", "--region", "eu-west-1"}, extra...)...)
}

func loadTestConfig(t *testing.T) *config.File {
	t.Helper()
	p, err := config.DefaultPath()
	if err != nil {
		t.Fatal(err)
	}
	f, err := config.Load(p)
	if err != nil {
		t.Fatal(err)
	}
	return f
}

func TestSetupSSOScripted(t *testing.T) {
	dir := cliEnv(t, "AKIAUNUSEDUNUSED0000", "unused-unused-unused-unused")
	awsPath := os.Getenv("AWS_CONFIG_FILE")
	os.WriteFile(awsPath, []byte(userAWSConfig), 0o600)
	src := filepath.Join(dir, "photos")
	os.MkdirAll(src, 0o755)

	out := mustRun(t, setupArgs("--source", src)...)
	for _, want := range []string{"Wrote AWS profile \"icevault\"", "icevault-backup-", `Saved repository "default"`, "next: icevault login", "next: icevault init", "next: icevault doctor"} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}
	data, _ := os.ReadFile(awsPath)
	if !strings.HasPrefix(string(data), userAWSConfig+"\n[profile icevault]\n") {
		t.Fatalf("AWS config:\n%s", data)
	}
	backups, _ := filepath.Glob(awsPath + ".icevault-backup-*")
	if len(backups) != 1 {
		t.Fatalf("backups: %v", backups)
	}
	if b, _ := os.ReadFile(backups[0]); string(b) != userAWSConfig {
		t.Fatalf("backup: %q", b)
	}
	sc, err := awsconfig.LoadSharedConfigProfile(context.Background(), "icevault", func(o *awsconfig.LoadSharedConfigOptions) {
		o.ConfigFiles = []string{awsPath}
	})
	if err != nil || sc.SSOAccountID != "123456789012" || sc.SSORoleName != "IcevaultBackup" || sc.SSOSession == nil ||
		sc.SSOSession.SSOStartURL != "https://d-1234567890.awsapps.com/start" || sc.Region != "eu-west-1" {
		t.Fatalf("SDK reads %+v, %v", sc, err)
	}
	f := loadTestConfig(t)
	r := f.Repositories["default"]
	if f.Default != "default" || r == nil || r.Bucket != "my-archive" || r.Prefix != "icevault/" || r.Region != "eu-west-1" ||
		r.Credentials != "profile" || r.Profile != "icevault" || len(r.Sources) != 1 || r.Sources[0] != src {
		t.Fatalf("config: %+v %+v", f, r)
	}

	// Idempotent.
	out = mustRun(t, setupArgs("--source", src)...)
	if !strings.Contains(out, "already set up; unchanged") || strings.Contains(out, "Wrote") || strings.Contains(out, "Saved") {
		t.Errorf("second run:\n%s", out)
	}
	if again, _ := os.ReadFile(awsPath); string(again) != string(data) {
		t.Error("second run changed the AWS config")
	}
	if b, _ := filepath.Glob(awsPath + ".icevault-backup-*"); len(b) != 1 {
		t.Errorf("second run made a backup: %v", b)
	}

	// Another bucket under the same repository name is refused.
	_, stderr, code := runCLI(t, "setup", "--yes", "--static-keys", "--bucket", "other-bucket", "--region", "eu-west-1")
	if code != exitUsage || !strings.Contains(stderr, "choose another name with --repo") {
		t.Fatalf("changing the bucket: exit %d, %s", code, stderr)
	}
	// --profile names the profile block and the repository's profile.
	mustRun(t, append(setupArgs(), "--profile", "vault2", "--repo", "second")...)
	if f := loadTestConfig(t); f.Repositories["second"].Profile != "vault2" || f.Default != "default" {
		t.Fatalf("second repository: %+v", f.Repositories["second"])
	}
	if data, _ := os.ReadFile(awsPath); !strings.Contains(string(data), "[profile vault2]\nsso_session = vault2\n") ||
		!strings.Contains(string(data), "[sso-session vault2]") {
		t.Fatalf("AWS config with --profile:\n%s", data)
	}
}

func TestSetupUsageErrors(t *testing.T) {
	cliEnv(t, "AKIAUNUSEDUNUSED0000", "unused-unused-unused-unused")
	awsPath := os.Getenv("AWS_CONFIG_FILE")
	os.WriteFile(awsPath, []byte(userAWSConfig), 0o600)
	drop := func(args []string, flag string) []string {
		var res []string
		for i := 0; i < len(args); i++ {
			if args[i] == flag {
				i++
				continue
			}
			res = append(res, args[i])
		}
		return res
	}
	for _, c := range []struct {
		name string
		args []string
		want string
	}{
		{"no bucket", drop(setupArgs(), "--bucket"), "--bucket is required"},
		{"no region", drop(setupArgs(), "--region"), "--region is required"},
		{"no start URL", drop(setupArgs(), "--sso-start-url"), "--sso-start-url is required"},
		{"no role", drop(setupArgs(), "--role-name"), "--role-name is required"},
		{"bad account", append(drop(setupArgs(), "--account-id"), "--account-id", "12"), "not 12 digits"},
		{"bad bucket", append(drop(setupArgs(), "--bucket"), "--bucket", "Bad_Bucket"), "not valid"},
		{"both", append(setupArgs(), "--static-keys"), "exclude each other"},
		{"static without keys", []string{"setup", "--yes", "--static-keys", "--bucket", "my-archive", "--region", "eu-west-1"}, "two lines on stdin"},
	} {
		t.Run(c.name, func(t *testing.T) {
			_, stderr, code := runCLI(t, c.args...)
			if code != exitUsage || !strings.Contains(stderr, c.want) {
				t.Fatalf("exit %d, %s", code, stderr)
			}
			if data, _ := os.ReadFile(awsPath); string(data) != userAWSConfig {
				t.Error("AWS config changed")
			}
			if p, _ := config.DefaultPath(); fileExists(p) {
				t.Error("icevault config written")
			}
		})
	}
}

func fileExists(p string) bool { _, err := os.Stat(p); return err == nil }

func TestSetupMalformedAWSConfig(t *testing.T) {
	cliEnv(t, "AKIAUNUSEDUNUSED0000", "unused-unused-unused-unused")
	awsPath := os.Getenv("AWS_CONFIG_FILE")
	bad := "[default]\nregion = us-east-1\n[profile broken\n"
	os.WriteFile(awsPath, []byte(bad), 0o600)
	_, stderr, code := runCLI(t, setupArgs()...)
	if code == 0 || !strings.Contains(stderr, awsPath+" line 3") || !strings.Contains(stderr, "was not changed") {
		t.Fatalf("exit %d, %s", code, stderr)
	}
	if data, _ := os.ReadFile(awsPath); string(data) != bad {
		t.Error("malformed file changed")
	}
	if b, _ := filepath.Glob(awsPath + ".icevault-backup-*"); len(b) != 0 {
		t.Errorf("backup of a malformed file: %v", b)
	}
	if p, _ := config.DefaultPath(); fileExists(p) {
		t.Error("icevault config written although the AWS profile was not")
	}
}

// TestSetupStaticKeysInit: the scripted unattended path — keys from stdin,
// config, init — then a backup signed with the stored keys.
func TestSetupStaticKeysInit(t *testing.T) {
	srv := startSim(t, sim.Options{Buckets: []string{"setup-bucket"}, EnforcePolicy: true})
	dir := cliEnv(t, "AKIAWRONGWRONGWRONG0", "wrong-secret-for-the-simulator")
	awsPath := os.Getenv("AWS_CONFIG_FILE")
	os.WriteFile(awsPath, []byte(userAWSConfig), 0o600)
	src := filepath.Join(dir, "docs")
	os.MkdirAll(src, 0o755)
	os.WriteFile(filepath.Join(src, "a.txt"), []byte("hello"), 0o644)

	out, stderr, code := runIn(t, sim.DefaultSecretKey+"\n", []string{sim.DefaultSecretKey},
		"setup", "--yes", "--static-keys", "--access-key-id", sim.DefaultAccessKey, "--bucket", "setup-bucket",
		"--region", "us-east-1", "--endpoint", srv.URL, "--source", src, "--init")
	if code != 0 {
		t.Fatalf("setup: exit %d\n%s%s", code, out, stderr)
	}
	// setup ends with the real doctor against the simulator (policy mode):
	// its create-only DEEP_ARCHIVE test upload is accepted.
	if !strings.Contains(out, "Stored access key "+sim.DefaultAccessKey) || !strings.Contains(out, "Created repository") ||
		strings.Contains(out, "next: icevault doctor") || !strings.Contains(out, "Checking the setup (icevault doctor)") {
		t.Fatalf("setup output:\n%s", out)
	}
	doctorPut := false
	for _, r := range srv.Requests() {
		doctorPut = doctorPut || r.Op == "PutObject" && strings.Contains(r.Key, "/doctor/icevault-doctor-") && r.Status == 200
	}
	if !doctorPut {
		t.Fatalf("doctor's test upload did not reach the simulator; setup output:\n%s", out)
	}
	if data, _ := os.ReadFile(awsPath); string(data) != userAWSConfig {
		t.Error("static-keys setup touched the AWS config")
	}
	if r := loadTestConfig(t).Repositories["default"]; r.Credentials != "keychain" || r.Profile != "" || r.Endpoint != srv.URL {
		t.Fatalf("config: %+v", r)
	}
	mustRun(t, "backup")
}

// TestSetupInteractive answers the prompts as a user at a terminal would.
func TestSetupInteractive(t *testing.T) {
	cliEnv(t, "AKIAUNUSEDUNUSED0000", "unused-unused-unused-unused")
	orig := stdinIsTerminal
	stdinIsTerminal = func(io.Reader) bool { return true }
	defer func() { stdinIsTerminal = orig }()
	answers := strings.Join([]string{
		"n",          // static keys instead of SSO?
		"my-archive", // bucket
		"eu-west-1",  // region
		"",           // prefix: keep the default
		"",           // sources: later
		"https://d-1234567890.awsapps.com/start",
		"eu-central-1",
		"123456789012",
		"IcevaultBackup",
		"n", // log in now? (so init and doctor are left for later)
	}, "\n") + "\n"
	out, stderr, code := runIn(t, answers, nil, "setup")
	if code != 0 {
		t.Fatalf("exit %d\n%s%s", code, out, stderr)
	}
	for _, q := range []string{"S3 bucket", "Key prefix in the bucket [icevault/]", "IAM Identity Center start URL", "Log in to AWS IAM Identity Center now"} {
		if !strings.Contains(stderr, q) {
			t.Errorf("no prompt %q in:\n%s", q, stderr)
		}
	}
	if r := loadTestConfig(t).Repositories["default"]; r.Bucket != "my-archive" || r.Prefix != "icevault/" || r.Region != "eu-west-1" {
		t.Fatalf("config: %+v", r)
	}
	data, _ := os.ReadFile(os.Getenv("AWS_CONFIG_FILE"))
	if !strings.Contains(string(data), "sso_role_name = IcevaultBackup") {
		t.Fatalf("AWS config:\n%s", data)
	}
	if !strings.Contains(out, "next: icevault login --profile icevault") || !strings.Contains(out, "next: icevault init") ||
		!strings.Contains(out, "next: icevault doctor") || strings.Contains(stderr, "Create the repository") {
		t.Errorf("without a login, setup must leave init and doctor for later; output:\n%s%s", out, stderr)
	}
}

// TestSetupSSOLoginInitDoctor is the whole scripted SSO path against the
// IAM Identity Center fake and the simulator: setup writes the profile, logs
// in (PKCE; an HTTP client plays the browser), creates the repository with
// the role credentials the SDK gets from that login, and doctor checks it
// all (STS from the fake); then a backup runs on the same login.
func TestSetupSSOLoginInitDoctor(t *testing.T) {
	dir := cliEnv(t, "unused", "unused")
	os.WriteFile(filepath.Join(dir, "aws-credentials"), nil, 0o600) // SSO only: no static keys for the profile
	f := ssofake.New(t)
	f.Setenv(t)
	srv := startSim(t, sim.Options{Buckets: []string{"sso-bucket"}, EnforcePolicy: true,
		Keys: map[string]string{f.RoleAccessKeyID: f.RoleSecretKey}})
	playBrowser(t)
	src := filepath.Join(dir, "docs")
	os.MkdirAll(src, 0o755)
	os.WriteFile(filepath.Join(src, "a.txt"), []byte("hello"), 0o644)

	out, stderr, code := runIn(t, "", nil, "setup", "--yes", "--sso-start-url", "https://corp.awsapps.com/start",
		"--sso-region", "eu-west-1", "--account-id", f.AccountID, "--role-name", f.RoleName, "--bucket", "sso-bucket",
		"--region", "us-east-1", "--endpoint", srv.URL, "--source", src, "--login", "--init")
	if code != 0 {
		t.Fatalf("setup: exit %d\n%s%s", code, out, stderr)
	}
	if f.Calls("Authorize") != 1 || !strings.Contains(out, "Logged in to https://corp.awsapps.com/start") ||
		!strings.Contains(out, "Created repository") || !strings.Contains(out, "Checking the setup (icevault doctor)") {
		t.Fatalf("authorize calls %d; setup output:\n%s", f.Calls("Authorize"), out)
	}
	if !strings.Contains(out, f.AccountID) {
		t.Errorf("doctor did not show the account from STS; output:\n%s", out)
	}
	mustRun(t, "backup")
	for _, r := range srv.Requests() {
		if r.AccessKey != "" && r.AccessKey != f.RoleAccessKeyID {
			t.Fatalf("a request was signed with %q, not the SSO role credentials", r.AccessKey)
		}
	}

	// A second setup with the same values changes nothing and needs no new
	// login: the cached token is current.
	out, stderr, code = runIn(t, "", nil, "setup", "--yes", "--sso-start-url", "https://corp.awsapps.com/start",
		"--sso-region", "eu-west-1", "--account-id", f.AccountID, "--role-name", f.RoleName, "--bucket", "sso-bucket",
		"--region", "us-east-1", "--endpoint", srv.URL, "--source", src, "--login", "--no-doctor")
	if code != 0 || f.Calls("Authorize") != 1 || !strings.Contains(out, "unchanged") {
		t.Fatalf("second setup: exit %d, authorize calls %d\n%s%s", code, f.Calls("Authorize"), out, stderr)
	}
}
