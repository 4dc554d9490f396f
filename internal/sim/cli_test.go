package sim

import (
	"bytes"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/icevault/icevault/internal/clock"
)

// awsCLIv2 is the Debian AWS CLI v2; the `aws` first on PATH may be a v1.
const awsCLIv2 = "/usr/bin/aws"

// TestAWSCLI drives the simulator with botocore through the real AWS CLI:
// a second, independent SigV4 implementation with its own URL encoding
// (and encoding-type=url listings).
func TestAWSCLI(t *testing.T) {
	clis := []struct{ name, path string }{{"v2", awsCLIv2}}
	if p, err := exec.LookPath("aws"); err == nil && p != awsCLIv2 {
		clis = append(clis, struct{ name, path string }{"PATH", p})
	}
	for _, cli := range clis {
		t.Run(cli.name, func(t *testing.T) {
			if _, err := os.Stat(cli.path); err != nil {
				if cli.path == awsCLIv2 && os.Getenv("CI") == "true" {
					t.Fatalf("AWS CLI v2 missing at %s under CI=true: %v", cli.path, err)
				}
				t.Skipf("AWS CLI not installed at %s", cli.path)
			}
			testAWSCLI(t, cli.path)
		})
	}
}

func testAWSCLI(t *testing.T, bin string) {
	fc := clock.NewFake(t0)
	rn := start(t, Options{Clock: fc})
	tmp := t.TempDir()
	// Only our AWS_* settings: a developer's profile must not leak in.
	var env []string
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "AWS_") {
			env = append(env, kv)
		}
	}
	env = append(env,
		"AWS_ACCESS_KEY_ID="+DefaultAccessKey,
		"AWS_SECRET_ACCESS_KEY="+DefaultSecretKey,
		"AWS_DEFAULT_REGION=us-east-1",
		"AWS_CONFIG_FILE="+filepath.Join(tmp, "config"),
		"AWS_SHARED_CREDENTIALS_FILE="+filepath.Join(tmp, "credentials"),
		"AWS_EC2_METADATA_DISABLED=true",
		"AWS_PAGER=",
	)
	run := func(args ...string) (string, string, error) {
		t.Helper()
		cmd := exec.Command(bin, append([]string{"--endpoint-url", rn.URL, "--output", "json"}, args...)...)
		cmd.Env = env
		var stdout, stderr bytes.Buffer
		cmd.Stdout, cmd.Stderr = &stdout, &stderr
		err := cmd.Run()
		return stdout.String(), stderr.String(), err
	}
	mustRun := func(args ...string) map[string]any {
		t.Helper()
		out, errOut, err := run(args...)
		if err != nil {
			t.Fatalf("aws %s: %v\n%s", strings.Join(args, " "), err, errOut)
		}
		var v map[string]any
		if strings.TrimSpace(out) != "" {
			if err := json.Unmarshal([]byte(out), &v); err != nil {
				t.Fatalf("aws %s: output %q: %v", strings.Join(args, " "), out, err)
			}
		}
		return v
	}
	wantFail := func(code string, args ...string) {
		t.Helper()
		_, errOut, err := run(args...)
		if err == nil || !strings.Contains(errOut, code) {
			t.Fatalf("aws %s: err %v, stderr %q, want %s", strings.Join(args, " "), err, errOut, code)
		}
	}

	key := "cli/with space+plus=é~.bin"
	body := bytes.Repeat([]byte("archived by the aws cli\n"), 1000)
	src := filepath.Join(tmp, "src")
	if err := os.WriteFile(src, body, 0o600); err != nil {
		t.Fatal(err)
	}
	mustRun("s3api", "put-object", "--bucket", testBucket, "--key", key, "--body", src,
		"--storage-class", "DEEP_ARCHIVE", "--metadata", "kind=pack")
	t.Logf("%s sent x-amz-content-sha256 %q", bin, lastRequest(t, rn.Server, "PutObject").ContentSHA256)
	if got := lastRequest(t, rn.Server, "PutObject"); got.Key != key || got.StorageClass != "DEEP_ARCHIVE" || got.Size != int64(len(body)) {
		t.Errorf("logged put %+v", got)
	}
	head := mustRun("s3api", "head-object", "--bucket", testBucket, "--key", key)
	if head["StorageClass"] != "DEEP_ARCHIVE" || head["ContentLength"] != float64(len(body)) || head["Restore"] != nil {
		t.Errorf("head-object = %v", head)
	}
	if m, _ := head["Metadata"].(map[string]any); m["kind"] != "pack" {
		t.Errorf("head-object metadata = %v", head["Metadata"])
	}
	dst := filepath.Join(tmp, "dst")
	wantFail("InvalidObjectState", "s3api", "get-object", "--bucket", testBucket, "--key", key, dst)

	mustRun("s3api", "restore-object", "--bucket", testBucket, "--key", key,
		"--restore-request", "Days=2,GlacierJobParameters={Tier=Bulk}")
	if head := mustRun("s3api", "head-object", "--bucket", testBucket, "--key", key); head["Restore"] != `ongoing-request="true"` {
		t.Errorf("head-object while thawing: %v", head["Restore"])
	}
	wantFail("RestoreAlreadyInProgress", "s3api", "restore-object", "--bucket", testBucket, "--key", key,
		"--restore-request", "Days=2,GlacierJobParameters={Tier=Bulk}")

	fc.Advance(48 * time.Hour)
	mustRun("s3api", "get-object", "--bucket", testBucket, "--key", key, dst)
	if got, _ := os.ReadFile(dst); !bytes.Equal(got, body) {
		t.Errorf("get-object wrote %d bytes, want %d", len(got), len(body))
	}
	mustRun("s3api", "get-object", "--bucket", testBucket, "--key", key, "--range", "bytes=0-7", dst)
	if got, _ := os.ReadFile(dst); string(got) != "archived" {
		t.Errorf("ranged get-object wrote %q", got)
	}

	list := mustRun("s3api", "list-objects-v2", "--bucket", testBucket, "--prefix", "cli/with space")
	contents, _ := list["Contents"].([]any)
	if len(contents) != 1 {
		t.Fatalf("list-objects-v2 = %v", list)
	}
	obj := contents[0].(map[string]any)
	if obj["Key"] != key || obj["StorageClass"] != "DEEP_ARCHIVE" {
		t.Errorf("listed %v", obj)
	}
	if q := lastRequest(t, rn.Server, "ListObjectsV2").Query; !strings.Contains(q, "encoding-type=url") {
		t.Logf("note: this CLI did not ask for encoding-type=url (query %q)", q)
	}
	wantFail("NotImplemented", "s3api", "delete-object", "--bucket", testBucket, "--key", key)
	if rn.Counts()["DeleteObject"] != 1 {
		t.Errorf("delete-object not logged: %v", rn.Counts())
	}
}
