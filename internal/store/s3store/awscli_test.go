package s3store_test

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/icevault/icevault/internal/clock"
	"github.com/icevault/icevault/internal/sim"
	"github.com/icevault/icevault/internal/store/s3store"
	"github.com/icevault/icevault/internal/store/storetest"
	"github.com/icevault/icevault/internal/testenv"
)

// cliTarget is one S3 server the AWS CLI is pointed at.
type cliTarget struct {
	name, url, bucket string
	env               testenv.CLIEnv
	thaw              func() // completes pending restores (nil: instant)
}

func cliTargets(t *testing.T) []cliTarget {
	clk := clock.NewFake(time.Now().UTC())
	srv, err := sim.Start(sim.Options{Clock: clk, Buckets: []string{"crosscheck"}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { srv.Close() })
	m := testenv.Moto(t)
	m.CreateBucket(t, "crosscheck")
	return []cliTarget{
		{"simulator", srv.URL, "crosscheck", testenv.CLIEnv{AccessKey: sim.DefaultAccessKey, SecretKey: sim.DefaultSecretKey, Region: "us-east-1"},
			func() { clk.Advance(13 * time.Hour) }},
		{"moto", m.URL, "crosscheck", testenv.CLIEnv{AccessKey: m.AccessKey, SecretKey: m.SecretKey, Region: "us-east-1"}, nil},
	}
}

// outcome is what a CLI call came to: success, or the S3 error code it printed.
func outcome(code int, stderr string) string {
	if code == 0 {
		return "ok"
	}
	// The CLI prints "An error occurred (Code) when calling the Op operation".
	if i := strings.Index(stderr, "An error occurred ("); i >= 0 {
		rest := stderr[i+len("An error occurred ("):]
		if j := strings.Index(rest, ")"); j > 0 {
			return rest[:j]
		}
	}
	return "failed: " + strings.TrimSpace(stderr)
}

// TestAWSCLIReadsWhatTheStoreWrites checks, with an independent client, that
// the objects icevault's store writes are DEEP_ARCHIVE with the metadata and
// SHA-256 it sent, on the simulator and on moto alike.
func TestAWSCLIReadsWhatTheStoreWrites(t *testing.T) {
	cli := testenv.AWSCLI(t)
	for _, tg := range cliTargets(t) {
		t.Run(tg.name, func(t *testing.T) {
			s, _ := newStores(t, tg.url, tg.bucket, tg.env.AccessKey, tg.env.SecretKey, s3store.Options{})
			o := storetest.NewObject("written-by-icevault/pack one", 4096)
			o.Meta = map[string]string{"icevault-kind": "data"}
			storetest.Put(t, s, o)

			out, stderr, code := cli.Run(t, tg.env, "--endpoint-url", tg.url, "s3api", "list-objects-v2", "--bucket", tg.bucket, "--prefix", "written-by-icevault/")
			var list struct {
				Contents []struct {
					Key, StorageClass string
					Size              int64
				}
			}
			if code != 0 || json.Unmarshal([]byte(out), &list) != nil {
				t.Fatalf("list-objects-v2: exit %d: %s%s", code, out, stderr)
			}
			if len(list.Contents) != 1 || list.Contents[0].Key != o.Key || list.Contents[0].StorageClass != "DEEP_ARCHIVE" || list.Contents[0].Size != 4096 {
				t.Fatalf("list-objects-v2 = %+v", list.Contents)
			}

			out, stderr, code = cli.Run(t, tg.env, "--endpoint-url", tg.url, "s3api", "head-object", "--bucket", tg.bucket, "--key", o.Key, "--checksum-mode", "ENABLED")
			var head struct {
				StorageClass   string
				ContentLength  int64
				ChecksumSHA256 string
				Metadata       map[string]string
				Restore        string
			}
			if code != 0 || json.Unmarshal([]byte(out), &head) != nil {
				t.Fatalf("head-object: exit %d: %s%s", code, out, stderr)
			}
			if head.StorageClass != "DEEP_ARCHIVE" || head.ContentLength != 4096 || head.Metadata["icevault-kind"] != "data" || head.Restore != "" {
				t.Fatalf("head-object = %+v", head)
			}
			if head.ChecksumSHA256 != base64.StdEncoding.EncodeToString(o.Sum[:]) {
				t.Fatalf("head-object checksum %q, want the SHA-256 the store sent", head.ChecksumSHA256)
			}
		})
	}
}

// TestAWSCLIBehavesAlikeOnSimulatorAndMoto runs the AWS CLI's own calls
// against both servers and requires the same outcome at every step: the
// simulator must not drift from what another S3 implementation does.
func TestAWSCLIBehavesAlikeOnSimulatorAndMoto(t *testing.T) {
	cli := testenv.AWSCLI(t)
	body := filepath.Join(t.TempDir(), "body")
	want := bytes.Repeat([]byte("deep archive "), 1000)
	if err := os.WriteFile(body, want, 0o600); err != nil {
		t.Fatal(err)
	}
	type step struct {
		name string
		args []string
	}
	key := "cli/an object+with odd=chars"
	steps := []step{
		{"put", []string{"put-object", "--key", key, "--body", body, "--storage-class", "DEEP_ARCHIVE"}},
		{"head", []string{"head-object", "--key", key}},
		{"get archived", []string{"get-object", "--key", key, "OUT"}},
		{"restore", []string{"restore-object", "--key", key, "--restore-request", `{"Days":1,"GlacierJobParameters":{"Tier":"Standard"}}`}},
		{"thaw", nil},
		{"get restored", []string{"get-object", "--key", key, "OUT"}},
		{"head missing", []string{"head-object", "--key", "cli/missing"}},
		{"get missing", []string{"get-object", "--key", "cli/missing", "OUT"}},
		{"restore missing", []string{"restore-object", "--key", "cli/missing", "--restore-request", `{"Days":1}`}},
		{"bad storage class", []string{"put-object", "--key", "cli/x", "--body", body, "--storage-class", "ICEBOX"}},
	}
	results := map[string][]string{}
	for _, tg := range cliTargets(t) {
		out := filepath.Join(t.TempDir(), "out")
		for _, st := range steps {
			if st.args == nil {
				if tg.thaw != nil {
					tg.thaw()
				}
				continue
			}
			args := append([]string{"--endpoint-url", tg.url, "s3api"}, st.args[0], "--bucket", tg.bucket)
			for _, a := range st.args[1:] {
				if a == "OUT" {
					a = out
				}
				args = append(args, a)
			}
			stdout, stderr, code := cli.Run(t, tg.env, args...)
			res := outcome(code, stderr)
			if st.name == "head" && code == 0 {
				var h struct{ StorageClass, Restore string }
				_ = json.Unmarshal([]byte(stdout), &h)
				res += " " + h.StorageClass + " restore=" + h.Restore
			}
			if st.name == "get restored" && code == 0 {
				got, _ := os.ReadFile(out)
				res += " same-bytes=" + map[bool]string{true: "yes", false: "no"}[bytes.Equal(got, want)]
			}
			results[tg.name] = append(results[tg.name], st.name+": "+res)
		}
	}
	sim, moto := results["simulator"], results["moto"]
	t.Logf("outcomes (simulator):\n%s", strings.Join(sim, "\n"))
	for i := range sim {
		if sim[i] != moto[i] {
			t.Errorf("simulator %q, moto %q", sim[i], moto[i])
		}
	}
	for _, must := range []string{"get archived: InvalidObjectState", "get restored: ok same-bytes=yes", "head: ok DEEP_ARCHIVE restore="} {
		found := false
		for _, r := range sim {
			found = found || r == must
		}
		if !found {
			t.Errorf("simulator results lack %q: %q", must, sim)
		}
	}
}
