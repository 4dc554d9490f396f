package main

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/iam"

	"github.com/icevault/icevault/internal/sim"
	"github.com/icevault/icevault/internal/testenv"
)

const (
	testKeyID  = "AKIAKEYSTESTKEYS0001"
	testSecret = "keys/test/secret/never/printed/000000001"
)

// runIn runs the CLI with stdin and checks that no known secret leaks into
// its output.
func runIn(t *testing.T, stdin string, secrets []string, args ...string) (string, string, int) {
	t.Helper()
	var out, errb bytes.Buffer
	code := run(context.Background(), args, strings.NewReader(stdin), &out, &errb)
	for _, s := range secrets {
		if strings.Contains(out.String()+errb.String(), s) {
			t.Fatalf("icevault %v printed a secret:\n%s%s", args, out.String(), errb.String())
		}
	}
	return out.String(), errb.String(), code
}

func TestKeysSetShowRemove(t *testing.T) {
	dir := cliEnv(t, "AKIAUNUSEDUNUSED0000", "unused-unused-unused-unused")
	sec := []string{testSecret}

	if _, stderr, code := runIn(t, "", sec, "keys", "show"); code != exitUsage || !strings.Contains(stderr, "keys set") {
		t.Fatalf("show before set: exit %d, %s", code, stderr)
	}
	out, stderr, code := runIn(t, testKeyID+"\n"+testSecret+"\n", sec, "keys", "set")
	if code != 0 || !strings.Contains(out, testKeyID) || !strings.Contains(out, `"default"`) {
		t.Fatalf("set: exit %d\n%s%s", code, out, stderr)
	}
	// Filed under the repository name, in the passphrase-protected key file
	// (ICEVAULT_KEYSTORE=file), encrypted.
	kf := filepath.Join(dir, "home", ".config", "icevault", "keys", "iam.default.age")
	data, err := os.ReadFile(kf)
	if err != nil || bytes.Contains(data, []byte(testSecret)) || bytes.Contains(data, []byte(testKeyID)) {
		t.Fatalf("key file %s: err %v, plaintext inside: %v", kf, err, bytes.Contains(data, []byte(testSecret)))
	}

	out, _, code = runIn(t, "", sec, "keys", "show")
	if code != 0 || !strings.Contains(out, testKeyID) || !strings.Contains(out, "iam.default/static-key") || !strings.Contains(out, "file ") {
		t.Fatalf("show: exit %d, %s", code, out)
	}
	out, _, _ = runIn(t, "", sec, "keys", "show", "--json")
	var js map[string]any
	if json.Unmarshal([]byte(out), &js) != nil || js["access_key_id"] != testKeyID || js["store"] != "file" {
		t.Fatalf("show --json: %s", out)
	}

	// --access-key-id plus the secret on stdin replaces the stored pair.
	const id2, sec2 = "AKIAKEYSTESTKEYS0002", "second/secret/value/also/never/shown/0002"
	sec = append(sec, sec2)
	if out, stderr, code := runIn(t, sec2+"\n", sec, "keys", "set", "--access-key-id", id2); code != 0 {
		t.Fatalf("set --access-key-id: %d %s%s", code, out, stderr)
	}
	if out, _, _ := runIn(t, "", sec, "keys", "show"); !strings.Contains(out, id2) {
		t.Fatalf("show after replace: %s", out)
	}

	for _, c := range []struct {
		name, stdin string
		args        []string
		want        string
	}{
		{"one line", testKeyID + "\n", nil, "two lines"},
		{"three lines", "a\nb\nc\n", nil, "two lines"},
		{"flag and two lines", testKeyID + "\n" + testSecret + "\n", []string{"--access-key-id", testKeyID}, "one line"},
		{"bad key ID", "akia-lower\n" + testSecret + "\n", nil, "not valid"},
		{"secret with spaces", testKeyID + "\nnot a secret with spaces " + testSecret + "\n", nil, "secret access key is not valid"},
		{"no secret flag", "", []string{"--secret-access-key", testSecret}, "unknown flag"},
	} {
		t.Run(c.name, func(t *testing.T) {
			_, stderr, code := runIn(t, c.stdin, sec, append([]string{"keys", "set"}, c.args...)...)
			if code != exitUsage || !strings.Contains(stderr, c.want) {
				t.Fatalf("exit %d, %s", code, stderr)
			}
		})
	}
	if out, _, _ := runIn(t, "", sec, "keys", "show"); !strings.Contains(out, id2) {
		t.Fatalf("a refused set changed the keys: %s", out)
	}

	out, _, code = runIn(t, "", sec, "keys", "remove")
	if code != 0 || !strings.Contains(out, id2) || !strings.Contains(out, "still exists in IAM") {
		t.Fatalf("remove: %d %s", code, out)
	}
	if _, _, code := runIn(t, "", sec, "keys", "show"); code != exitUsage {
		t.Fatalf("show after remove: exit %d", code)
	}
	if out, _, code := runIn(t, "", sec, "keys", "remove"); code != 0 || !strings.Contains(out, "nothing to remove") {
		t.Fatalf("second remove: %d %s", code, out)
	}

	// --repo files keys under another name.
	runIn(t, testKeyID+"\n"+testSecret+"\n", sec, "keys", "set", "--repo", "laptop")
	if out, _, _ := runIn(t, "", sec, "keys", "show", "--repo", "laptop"); !strings.Contains(out, "iam.laptop/static-key") {
		t.Fatalf("show --repo: %s", out)
	}
	if _, _, code := runIn(t, "", sec, "keys", "show"); code != exitUsage {
		t.Fatal("keys of repository laptop visible as default")
	}
}

// TestKeysRotateAgainstMoto rotates through the CLI, with the SDK pointed at
// moto's IAM and STS by AWS_ENDPOINT_URL_IAM / _STS, as a user would.
func TestKeysRotateAgainstMoto(t *testing.T) {
	m := testenv.Moto(t)
	cliEnv(t, "AKIAUNUSEDUNUSED0000", "unused-unused-unused-unused")
	t.Setenv("AWS_ENDPOINT_URL_IAM", m.URL)
	t.Setenv("AWS_ENDPOINT_URL_STS", m.URL)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	admin := iam.New(iam.Options{Region: m.Region, BaseEndpoint: aws.String(m.URL),
		Credentials: credentials.NewStaticCredentialsProvider(m.AccessKey, m.SecretKey, "")})
	if _, err := admin.CreateUser(ctx, &iam.CreateUserInput{UserName: aws.String("backup-bot")}); err != nil {
		t.Fatal(err)
	}
	ak, err := admin.CreateAccessKey(ctx, &iam.CreateAccessKeyInput{UserName: aws.String("backup-bot")})
	if err != nil {
		t.Fatal(err)
	}
	oldID, oldSecret := aws.ToString(ak.AccessKey.AccessKeyId), aws.ToString(ak.AccessKey.SecretAccessKey)
	sec := []string{oldSecret}
	if _, stderr, code := runIn(t, oldID+"\n"+oldSecret+"\n", sec, "keys", "set"); code != 0 {
		t.Fatal(stderr)
	}
	out, stderr, code := runIn(t, "", sec, "keys", "rotate", "--json")
	if code != 0 {
		t.Fatalf("rotate: exit %d\n%s%s", code, out, stderr)
	}
	var res map[string]any
	if err := json.Unmarshal([]byte(out), &res); err != nil || res["old_access_key_id"] != oldID || res["user"] != "backup-bot" {
		t.Fatalf("rotate --json: %s", out)
	}
	newID := res["access_key_id"].(string)
	list, err := admin.ListAccessKeys(ctx, &iam.ListAccessKeysInput{UserName: aws.String("backup-bot")})
	if err != nil || len(list.AccessKeyMetadata) != 1 || aws.ToString(list.AccessKeyMetadata[0].AccessKeyId) != newID {
		t.Fatalf("IAM keys after rotate: %+v %v", list, err)
	}
	if out, _, _ := runIn(t, "", sec, "keys", "show"); !strings.Contains(out, newID) {
		t.Fatalf("show after rotate: %s", out)
	}

	// Two active keys: refused, naming the other key, exit 2.
	other, err := admin.CreateAccessKey(ctx, &iam.CreateAccessKeyInput{UserName: aws.String("backup-bot")})
	if err != nil {
		t.Fatal(err)
	}
	otherID := aws.ToString(other.AccessKey.AccessKeyId)
	sec = append(sec, aws.ToString(other.AccessKey.SecretAccessKey))
	_, stderr, code = runIn(t, "", sec, "keys", "rotate")
	if code != exitUsage || !strings.Contains(stderr, otherID) || !strings.Contains(stderr, "Nothing was changed") {
		t.Fatalf("rotate with two keys: exit %d, %s", code, stderr)
	}
	// Inactive and --delete-inactive: it is deleted and rotation goes on.
	if _, err := admin.UpdateAccessKey(ctx, &iam.UpdateAccessKeyInput{UserName: aws.String("backup-bot"), AccessKeyId: aws.String(otherID), Status: "Inactive"}); err != nil {
		t.Fatal(err)
	}
	if _, stderr, code := runIn(t, "", sec, "keys", "rotate"); code != exitUsage || !strings.Contains(stderr, "--delete-inactive") {
		t.Fatalf("rotate with an inactive key, no flag: exit %d, %s", code, stderr)
	}
	out, stderr, code = runIn(t, "", sec, "keys", "rotate", "--delete-inactive")
	if code != 0 || !strings.Contains(out, otherID) {
		t.Fatalf("rotate --delete-inactive: exit %d\n%s%s", code, out, stderr)
	}
	list, _ = admin.ListAccessKeys(ctx, &iam.ListAccessKeysInput{UserName: aws.String("backup-bot")})
	if len(list.AccessKeyMetadata) != 1 {
		t.Fatalf("keys after --delete-inactive: %+v", list.AccessKeyMetadata)
	}
}

// TestKeychainCredentialsUsed: a repository with credentials = "keychain"
// signs with the stored keys, not with the shared credentials file (which
// here holds keys the simulator rejects).
func TestKeychainCredentialsUsed(t *testing.T) {
	srv := startSim(t, sim.Options{Buckets: []string{"kc-bucket"}, EnforcePolicy: true})
	dir := cliEnv(t, "AKIAWRONGWRONGWRONG0", "wrong-secret-for-the-simulator")
	src := filepath.Join(dir, "src")
	os.MkdirAll(src, 0o755)
	os.WriteFile(filepath.Join(src, "a.txt"), []byte("hello"), 0o644)
	sec := []string{sim.DefaultSecretKey}

	if _, stderr, code := runIn(t, "", sec, "init", "--bucket", "kc-bucket", "--region", "us-east-1", "--endpoint", srv.URL,
		"--credentials", "keychain", "--source", src); code != exitUsage || !strings.Contains(stderr, "keys set") {
		t.Fatalf("init without stored keys: exit %d, %s", code, stderr)
	}
	if _, stderr, code := runIn(t, sim.DefaultSecretKey+"\n", sec, "keys", "set", "--access-key-id", sim.DefaultAccessKey); code != 0 {
		t.Fatal(stderr)
	}
	if out, stderr, code := runIn(t, "", sec, "init"); code != 0 {
		t.Fatalf("init with keychain credentials: exit %d\n%s%s", code, out, stderr)
	}
	if out, stderr, code := runIn(t, "", sec, "backup"); code != 0 {
		t.Fatalf("backup with keychain credentials: exit %d\n%s%s", code, out, stderr)
	}
	// A wrong stored secret must fail: the stored keys are what signs.
	if _, stderr, code := runIn(t, "wrong-secret-wrong-secret-000\n", sec, "keys", "set", "--access-key-id", sim.DefaultAccessKey); code != 0 {
		t.Fatal(stderr)
	}
	os.WriteFile(filepath.Join(src, "b.txt"), []byte("more"), 0o644)
	if _, stderr, code := runIn(t, "", sec, "backup"); code == 0 || !strings.Contains(stderr, "Signature") {
		t.Fatalf("backup with a wrong stored secret: exit %d, %s", code, stderr)
	}
}
