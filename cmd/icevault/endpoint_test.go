package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/icevault/icevault/internal/sim"
)

// endpointEnv is cliEnv with the SDK's endpoint variables cleared, and a
// source folder; it returns the source.
func endpointEnv(t *testing.T) string {
	t.Helper()
	dir := cliEnv(t, sim.DefaultAccessKey, sim.DefaultSecretKey)
	for _, v := range []string{"AWS_ENDPOINT_URL", "AWS_ENDPOINT_URL_S3", "AWS_IGNORE_CONFIGURED_ENDPOINT_URLS"} {
		t.Setenv(v, "")
		os.Unsetenv(v) // the SDK checks presence, not only value
	}
	src := filepath.Join(dir, "src")
	if err := os.MkdirAll(src, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(src, "a.txt"), []byte("endpoint test"), 0o644); err != nil {
		t.Fatal(err)
	}
	return src
}

// TestEndpointFromEnvironmentCLI: a repository without an endpoint uses
// AWS_ENDPOINT_URL_S3 as the SDK resolves it — on loopback over http, the
// simulator, path-style — and refuses a plain-http one on another host in
// one line that names the variable, before sending anything.
func TestEndpointFromEnvironmentCLI(t *testing.T) {
	srv := startSim(t, sim.Options{Buckets: []string{"env-bucket"}, EnforcePolicy: true})
	src := endpointEnv(t)
	// "localhost", so that only path-style addressing finds the bucket.
	t.Setenv("AWS_ENDPOINT_URL_S3", strings.Replace(srv.URL, "127.0.0.1", "localhost", 1))

	mustRun(t, "init", "--bucket", "env-bucket", "--region", "us-east-1", "--source", src)
	if out := mustRun(t, "backup", "--json"); lastSummary(t, out)["files_new"].(float64) != 1 {
		t.Fatalf("backup through AWS_ENDPOINT_URL_S3: %s", out)
	}
	if srv.Counts()["PutObject"] == 0 {
		t.Fatal("the simulator received no PutObject: AWS_ENDPOINT_URL_S3 was not used")
	}

	for _, c := range []struct{ name, value string }{
		{"AWS_ENDPOINT_URL_S3", "http://192.0.2.10:9000"},
		{"AWS_ENDPOINT_URL", "http://s3.example.com"},
	} {
		t.Run(c.name, func(t *testing.T) {
			t.Setenv("AWS_ENDPOINT_URL_S3", "")
			os.Unsetenv("AWS_ENDPOINT_URL_S3")
			t.Setenv(c.name, c.value)
			before := len(srv.Requests())
			os.WriteFile(filepath.Join(src, "b.txt"), []byte("not uploaded"), 0o644)
			stdout, stderr, code := runCLI(t, "backup")
			if code != exitUsage {
				t.Fatalf("backup with %s=%s: exit %d, want %d\n%s%s", c.name, c.value, code, exitUsage, stdout, stderr)
			}
			line := strings.TrimSuffix(stderr, "\n")
			t.Logf("refused: %s", line)
			for _, want := range []string{c.value, "plain http://", "$" + c.name, "use https://", "endpoint in the repository config"} {
				if !strings.Contains(line, want) {
					t.Errorf("stderr lacks %q: %q", want, line)
				}
			}
			if strings.Contains(line, "\n") {
				t.Errorf("the error is not one line: %q", stderr)
			}
			if n := len(srv.Requests()); n != before {
				t.Errorf("the simulator received %d requests", n-before)
			}
		})
	}
}

// TestEndpointRepositoryWinsCLI: the repository's endpoint is used even
// when AWS_ENDPOINT_URL_S3 names another (here one that would be refused).
func TestEndpointRepositoryWinsCLI(t *testing.T) {
	srv := startSim(t, sim.Options{Buckets: []string{"repo-bucket"}, EnforcePolicy: true})
	src := endpointEnv(t)
	t.Setenv("AWS_ENDPOINT_URL_S3", "http://192.0.2.10:9000")
	t.Setenv("AWS_ENDPOINT_URL", "http://192.0.2.11:9000")

	mustRun(t, "init", "--bucket", "repo-bucket", "--region", "us-east-1", "--endpoint", srv.URL, "--source", src)
	mustRun(t, "backup")
	if srv.Counts()["PutObject"] == 0 {
		t.Fatal("the simulator named by the repository received no PutObject")
	}
}
