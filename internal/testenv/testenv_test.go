package testenv_test

import (
	"bytes"
	"errors"
	"io"
	"os"
	"os/exec"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/smithy-go"

	"github.com/icevault/icevault/internal/testenv"
)

func TestMotoPutHead(t *testing.T) {
	t.Parallel()
	m := testenv.Moto(t)
	m.CreateBucket(t, "vault")
	c := m.S3Client(t)
	ctx := t.Context()

	body := []byte("hello deep archive")
	_, err := c.PutObject(ctx, &s3.PutObjectInput{
		Bucket:   aws.String("vault"),
		Key:      aws.String("data/p1"),
		Body:     bytes.NewReader(body),
		Metadata: map[string]string{"icevault-sha256": "abc"},
	})
	if err != nil {
		t.Fatalf("PutObject: %v", err)
	}
	h, err := c.HeadObject(ctx, &s3.HeadObjectInput{Bucket: aws.String("vault"), Key: aws.String("data/p1")})
	if err != nil {
		t.Fatalf("HeadObject: %v", err)
	}
	if got := aws.ToInt64(h.ContentLength); got != int64(len(body)) {
		t.Errorf("ContentLength = %d, want %d", got, len(body))
	}
	if got := h.Metadata["icevault-sha256"]; got != "abc" {
		t.Errorf("metadata icevault-sha256 = %q, want %q", got, "abc")
	}
	out, err := c.GetObject(ctx, &s3.GetObjectInput{Bucket: aws.String("vault"), Key: aws.String("data/p1")})
	if err != nil {
		t.Fatalf("GetObject: %v", err)
	}
	got, err := io.ReadAll(out.Body)
	out.Body.Close()
	if err != nil || !bytes.Equal(got, body) {
		t.Errorf("GetObject body = %q, %v; want %q", got, err, body)
	}
}

// Each Moto call is its own server: state must not leak between them.
func TestMotoIsolated(t *testing.T) {
	t.Parallel()
	a, b := testenv.Moto(t), testenv.Moto(t)
	if a.URL == b.URL {
		t.Fatalf("two servers share %s", a.URL)
	}
	a.CreateBucket(t, "only-in-a")
	_, err := b.S3Client(t).HeadBucket(t.Context(), &s3.HeadBucketInput{Bucket: aws.String("only-in-a")})
	if err == nil {
		t.Fatal("bucket created on server a is visible on server b")
	}
}

func TestAWSCLIVersion(t *testing.T) {
	t.Parallel()
	cli := testenv.AWSCLI(t)
	stdout, stderr, code := cli.Run(t, testenv.CLIEnv{}, "--version")
	if code != 0 || !strings.HasPrefix(stdout, "aws-cli/2.") {
		t.Fatalf("%s --version: exit %d, stdout %q, stderr %q; want aws-cli/2.*", cli.Path, code, stdout, stderr)
	}
}

// The CLI must see exactly the credentials and endpoint the test gives it:
// an object written through the SDK shows up in its listing.
func TestAWSCLIAgainstMoto(t *testing.T) {
	t.Parallel()
	m := testenv.Moto(t)
	m.CreateBucket(t, "vault")
	_, err := m.S3Client(t).PutObject(t.Context(), &s3.PutObjectInput{
		Bucket:       aws.String("vault"),
		Key:          aws.String("data/p1"),
		Body:         strings.NewReader("x"),
		StorageClass: "DEEP_ARCHIVE",
	})
	if err != nil {
		t.Fatalf("PutObject: %v", err)
	}
	cli := testenv.AWSCLI(t)
	env := testenv.CLIEnv{AccessKey: m.AccessKey, SecretKey: m.SecretKey, Region: m.Region}
	stdout, stderr, code := cli.Run(t, env, "--endpoint-url", m.URL, "--output", "json",
		"s3api", "list-objects-v2", "--bucket", "vault")
	if code != 0 {
		t.Fatalf("list-objects-v2: exit %d\nstderr: %s\nmoto:\n%s", code, stderr, m.Logs())
	}
	for _, want := range []string{`"Key": "data/p1"`, `"StorageClass": "DEEP_ARCHIVE"`} {
		if !strings.Contains(stdout, want) {
			t.Errorf("list-objects-v2 output lacks %s:\n%s", want, stdout)
		}
	}

	// A failing call reports its exit code and the service's error code.
	_, stderr, code = cli.Run(t, env, "--endpoint-url", m.URL,
		"s3api", "head-object", "--bucket", "vault", "--key", "missing")
	if code == 0 || !strings.Contains(stderr, "404") {
		t.Errorf("head-object on a missing key: exit %d, stderr %q; want non-zero and 404", code, stderr)
	}
}

func TestRequireToolMissing(t *testing.T) {
	t.Setenv("CI", "") // the behaviour outside CI; TestRequireToolMissingUnderCI covers CI=true
	var skipped bool
	t.Run("missing", func(t *testing.T) {
		defer func() { skipped = t.Skipped() }()
		testenv.RequireTool(t, "icevault-no-such-tool", "nothing to install")
		t.Error("RequireTool returned for a missing tool")
	})
	if !skipped {
		t.Error("a missing tool did not skip the test")
	}
}

// Under CI=true a missing tool must fail, not skip. A failing test cannot be
// observed from inside, so the test binary runs itself as a child.
func TestRequireToolMissingUnderCI(t *testing.T) {
	if os.Getenv("ICEVAULT_TESTENV_CHILD") == "1" {
		testenv.RequireTool(t, "icevault-no-such-tool", "nothing to install")
		return
	}
	t.Parallel()
	cmd := exec.CommandContext(t.Context(), os.Args[0], "-test.run=^TestRequireToolMissingUnderCI$", "-test.v")
	cmd.Env = append(os.Environ(), "CI=true", "ICEVAULT_TESTENV_CHILD=1")
	out, err := cmd.CombinedOutput()
	var exit *exec.ExitError
	if !errors.As(err, &exit) || !strings.Contains(string(out), "--- FAIL") ||
		!strings.Contains(string(out), "may not be skipped") {
		t.Errorf("child with CI=true: err %v, output:\n%s\nwant a failure saying it may not be skipped", err, out)
	}
}

// errCode is the S3 error code of err, or "" if it has none.
func errCode(err error) string {
	var ae smithy.APIError
	if errors.As(err, &ae) {
		return ae.ErrorCode()
	}
	return ""
}
