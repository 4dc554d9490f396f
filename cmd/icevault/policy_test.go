package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/icevault/icevault/internal/policy"
)

func TestPolicyCmd(t *testing.T) {
	dir := t.TempDir()
	cfg := filepath.Join(dir, "config.toml")
	if err := os.WriteFile(cfg, []byte(`[repository.photos]
bucket = "cfg-bucket"
prefix = "team/"
region = "eu-west-1"

[repository.root]
bucket = "root-bucket"
prefix = ""
region = "eu-west-1"
`), 0o600); err != nil {
		t.Fatal(err)
	}
	missing := filepath.Join(dir, "none.toml")
	want := func(o policy.Options) string {
		d, err := policy.Generate(o)
		if err != nil {
			t.Fatal(err)
		}
		b, err := d.JSON()
		if err != nil {
			t.Fatal(err)
		}
		return string(b)
	}
	for _, c := range []struct {
		name string
		args []string
		want string
	}{
		{"flags", []string{"policy", "--config", missing, "--bucket", "my-backups"}, want(policy.Options{Bucket: "my-backups"})},
		{"all options", []string{"policy", "--config", missing, "--bucket", "my-backups", "--prefix", "p/q", "--restore", "--create-only", "--tls-only", "--rotate-keys"},
			want(policy.Options{Bucket: "my-backups", Prefix: "p/q/", Restore: true, CreateOnly: true, TLSOnly: true, RotateKeys: true})},
		{"empty prefix is the whole bucket", []string{"policy", "--config", missing, "--bucket", "my-backups", "--prefix", ""}, want(policy.Options{Bucket: "my-backups", WholeBucket: true})},
		{"from the config", []string{"policy", "--config", cfg, "--repo", "photos", "--restore"}, want(policy.Options{Bucket: "cfg-bucket", Prefix: "team/", Restore: true})},
		{"config prefix overridden", []string{"policy", "--config", cfg, "--repo", "photos", "--prefix", "other/"}, want(policy.Options{Bucket: "cfg-bucket", Prefix: "other/"})},
		{"config at the bucket root", []string{"policy", "--config", cfg, "--repo", "root"}, want(policy.Options{Bucket: "root-bucket", WholeBucket: true})},
	} {
		t.Run(c.name, func(t *testing.T) {
			out, errOut, code := runCLI(t, c.args...)
			if code != exitOK || out != c.want {
				t.Fatalf("exit %d, stderr %q, stdout:\n%s\nwant:\n%s", code, errOut, out, c.want)
			}
		})
	}

	t.Run("json is one line", func(t *testing.T) {
		out, _, code := runCLI(t, "policy", "--config", missing, "--bucket", "my-backups", "--json")
		var d policy.Document
		if code != exitOK || strings.Count(out, "\n") != 1 || json.Unmarshal([]byte(out), &d) != nil || d.Version != policy.Version {
			t.Fatalf("exit %d, stdout %q", code, out)
		}
	})
	t.Run("explain", func(t *testing.T) {
		out, _, code := runCLI(t, "policy", "--config", missing, "--bucket", "my-backups", "--restore", "--explain")
		if code != exitOK || !strings.Contains(out, policy.SidPut+":") || !strings.Contains(out, policy.SidRestore+":") || !strings.Contains(out, "CompleteMultipartUpload") {
			t.Fatalf("exit %d, stdout:\n%s", code, out)
		}
	})
	for _, c := range []struct {
		name string
		args []string
		msg  string
	}{
		{"no bucket, no config", []string{"policy", "--config", missing}, "--bucket is required"},
		{"no bucket, two repositories", []string{"policy", "--config", cfg}, "--repo"},
		{"bad bucket", []string{"policy", "--config", missing, "--bucket", "My_Bucket"}, "not valid"},
		{"wildcard prefix", []string{"policy", "--config", missing, "--bucket", "my-backups", "--prefix", "a*"}, "wildcard"},
		{"argument", []string{"policy", "--config", missing, "--bucket", "my-backups", "extra"}, ""},
	} {
		t.Run(c.name, func(t *testing.T) {
			out, errOut, code := runCLI(t, c.args...)
			if code != exitUsage || out != "" || !strings.Contains(errOut, c.msg) {
				t.Fatalf("exit %d, stdout %q, stderr %q; want exit %d mentioning %q", code, out, errOut, exitUsage, c.msg)
			}
		})
	}
}
