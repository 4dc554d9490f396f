package policy

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/icevault/icevault/internal/testenv"
)

// The simulator tests evaluate every generated variant with
// @cloud-copilot/iam-simulate (testdata/iamsim, installed by
// .ci/install-iam-simulate.sh): IAM's real evaluation logic for condition
// operators, Null, IfExists and policy variables, rather than this package's
// own idea of it.

const (
	simAccount = "111122223333"
	simUser    = "icevault-backup"
)

type simRequest struct {
	Name     string            `json:"name"`
	Action   string            `json:"action"`
	Resource string            `json:"resource"`
	Context  map[string]string `json:"context"`
	want     string            // Allowed, ExplicitlyDenied or ImplicitlyDenied
}

type simJob struct {
	Name     string       `json:"name"`
	Policy   any          `json:"policy"`
	Requests []simRequest `json:"requests"`
}

type simResult struct {
	Name        string          `json:"name"`
	Decision    string          `json:"decision"`
	Ignored     []string        `json:"ignoredContextKeys"`
	Error       json.RawMessage `json:"error"`
	Explanation string          `json:"-"`
}

const (
	allowed  = "Allowed"
	denied   = "ExplicitlyDenied"
	implicit = "ImplicitlyDenied"
)

// requireSimulator returns the node binary and the harness script, or skips
// (fails under CI) with how to install them.
func requireSimulator(t *testing.T) (node, script string) {
	t.Helper()
	node = testenv.RequireTool(t, "node", "Node.js 20 or later (apt-get install nodejs), then: bash .ci/install-iam-simulate.sh")
	dir, err := filepath.Abs(filepath.Join("testdata", "iamsim"))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(dir, "node_modules", "@cloud-copilot", "iam-simulate", "package.json")); err != nil {
		msg := fmt.Sprintf("@cloud-copilot/iam-simulate is not installed in %s (%v); run: bash .ci/install-iam-simulate.sh", dir, err)
		if testenv.InCI() {
			t.Fatalf("CI=true, so this test may not be skipped: %s", msg)
		}
		t.Skip(msg)
	}
	return node, filepath.Join(dir, "simulate.mjs")
}

// simulate runs the jobs through the harness and checks each decision
// against its request's want.
func simulate(t *testing.T, jobs []simJob) {
	t.Helper()
	node, script := requireSimulator(t)
	in, err := json.Marshal(map[string]any{
		"account":   simAccount,
		"principal": fmt.Sprintf("arn:aws:iam::%s:user/%s", simAccount, simUser),
		"jobs":      jobs,
	})
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(node, script)
	cmd.Dir = filepath.Dir(script)
	cmd.Stdin = bytes.NewReader(in)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("simulate.mjs: %v\n%s", err, stderr.String())
	}
	var res struct {
		Jobs []struct {
			Name    string      `json:"name"`
			Results []simResult `json:"results"`
		} `json:"jobs"`
	}
	if err := json.Unmarshal(out, &res); err != nil {
		t.Fatalf("simulate.mjs output: %v\n%s", err, out)
	}
	if len(res.Jobs) != len(jobs) {
		t.Fatalf("simulate.mjs answered %d jobs, want %d", len(res.Jobs), len(jobs))
	}
	for i, job := range jobs {
		got := res.Jobs[i]
		if len(got.Results) != len(job.Requests) {
			t.Fatalf("%s: %d results for %d requests", job.Name, len(got.Results), len(job.Requests))
		}
		for j, req := range job.Requests {
			r := got.Results[j]
			switch {
			case r.Decision == "Error":
				t.Errorf("%s: %s: the simulator rejected the request or policy: %s", job.Name, req.Name, r.Error)
			case len(r.Ignored) > 0:
				t.Errorf("%s: %s: context keys %v do not apply to %s, so the case tests nothing", job.Name, req.Name, r.Ignored, req.Action)
			case r.Decision != req.want:
				t.Errorf("%s: %s (%s on %s, %v) is %s, want %s", job.Name, req.Name, req.Action, req.Resource, req.Context, r.Decision, req.want)
			}
		}
	}
}

// tls is the context every real request carries; over sets the rest.
func tls(over map[string]string) map[string]string {
	c := map[string]string{
		"aws:SecureTransport": "true",
		"aws:username":        simUser,
		"s3:signatureversion": "AWS4-HMAC-SHA256",
		"s3:authType":         "REST-HEADER",
	}
	for k, v := range over {
		if v == "" {
			delete(c, k)
		} else {
			c[k] = v
		}
	}
	return c
}

// icevaultPut is the context of the one upload icevault makes: PutObject
// with DEEP_ARCHIVE, If-None-Match: * and x-amz-checksum-sha256 (which has
// no IAM key; the payload is signed as unsigned or streamed).
func icevaultPut(over map[string]string) map[string]string {
	c := tls(map[string]string{
		"s3:x-amz-storage-class":     "DEEP_ARCHIVE",
		"s3:if-none-match":           "*",
		"s3:ObjectCreationOperation": "true",
		"s3:x-amz-content-sha256":    "UNSIGNED-PAYLOAD",
	})
	for k, v := range over {
		if v == "" {
			delete(c, k)
		} else {
			c[k] = v
		}
	}
	return c
}

// iamCtx is what an IAM call carries: no s3: keys.
func iamCtx() map[string]string {
	return map[string]string{"aws:SecureTransport": "true", "aws:username": simUser}
}

func pick(cond bool, yes, no string) string {
	if cond {
		return yes
	}
	return no
}

// requestsFor lists the requests every variant must get right.
func requestsFor(o Options) []simRequest {
	n, err := o.Normalize()
	if err != nil {
		panic(err)
	}
	bucket := "arn:aws:s3:::" + n.Bucket
	root := n.Prefix + "photos/" // a repository's root, <prefix><repo>/
	key := bucket + "/" + root + "data/" + strings.Repeat("ab", 32)
	outside := bucket + "/elsewhere/object"
	scoped := !n.WholeBucket
	user := fmt.Sprintf("arn:aws:iam::%s:user/%s", simAccount, simUser)

	reqs := []simRequest{
		// Every call icevault makes is allowed.
		{Name: "icevault PutObject", Action: "s3:PutObject", Resource: key, Context: icevaultPut(nil), want: allowed},
		{Name: "GetObject", Action: "s3:GetObject", Resource: key, Context: tls(nil), want: allowed},
		{Name: "HeadObject (s3:GetObject)", Action: "s3:GetObject", Resource: key, Context: tls(map[string]string{"s3:x-amz-content-sha256": "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"}), want: allowed},
		{Name: "ListObjectsV2 repository root", Action: "s3:ListBucket", Resource: bucket, Context: tls(map[string]string{"s3:prefix": root, "s3:max-keys": "1000"}), want: allowed},
		{Name: "ListObjectsV2 data packs", Action: "s3:ListBucket", Resource: bucket, Context: tls(map[string]string{"s3:prefix": root + "data/"}), want: allowed},
		{Name: "GetBucketLocation", Action: "s3:GetBucketLocation", Resource: bucket, Context: tls(nil), want: allowed},
		{Name: "RestoreObject", Action: "s3:RestoreObject", Resource: key, Context: tls(nil), want: pick(o.Restore, allowed, implicit)},

		// Wrong storage class, missing storage class: denied, here and
		// anywhere else in the bucket.
		{Name: "STANDARD PutObject", Action: "s3:PutObject", Resource: key, Context: icevaultPut(map[string]string{"s3:x-amz-storage-class": "STANDARD"}), want: denied},
		{Name: "GLACIER PutObject", Action: "s3:PutObject", Resource: key, Context: icevaultPut(map[string]string{"s3:x-amz-storage-class": "GLACIER"}), want: denied},
		{Name: "PutObject without storage class", Action: "s3:PutObject", Resource: key, Context: icevaultPut(map[string]string{"s3:x-amz-storage-class": ""}), want: denied},
		{Name: "STANDARD PutObject outside the prefix", Action: "s3:PutObject", Resource: outside, Context: icevaultPut(map[string]string{"s3:x-amz-storage-class": "STANDARD"}), want: denied},
		{Name: "CopyObject to STANDARD", Action: "s3:PutObject", Resource: key, Context: icevaultPut(map[string]string{"s3:x-amz-storage-class": "STANDARD", "s3:x-amz-copy-source": n.Bucket + "/" + root + "x"}), want: denied},

		// Destruction: denied.
		{Name: "DeleteObject", Action: "s3:DeleteObject", Resource: key, Context: tls(nil), want: denied},
		{Name: "DeleteObjectVersion", Action: "s3:DeleteObjectVersion", Resource: key, Context: tls(nil), want: denied},
		{Name: "BypassGovernanceRetention", Action: "s3:BypassGovernanceRetention", Resource: key, Context: tls(nil), want: denied},
		{Name: "PutLifecycleConfiguration", Action: "s3:PutLifecycleConfiguration", Resource: bucket, Context: tls(nil), want: denied},
		{Name: "PutBucketPolicy", Action: "s3:PutBucketPolicy", Resource: bucket, Context: tls(nil), want: denied},
		{Name: "DeleteBucketPolicy", Action: "s3:DeleteBucketPolicy", Resource: bucket, Context: tls(nil), want: denied},
		{Name: "PutBucketVersioning", Action: "s3:PutBucketVersioning", Resource: bucket, Context: tls(nil), want: denied},
		{Name: "DeleteBucket", Action: "s3:DeleteBucket", Resource: bucket, Context: tls(nil), want: denied},
		// Never granted.
		{Name: "PutObjectAcl", Action: "s3:PutObjectAcl", Resource: key, Context: tls(nil), want: implicit},
		{Name: "PutObjectTagging", Action: "s3:PutObjectTagging", Resource: key, Context: tls(nil), want: implicit},
		{Name: "AbortMultipartUpload", Action: "s3:AbortMultipartUpload", Resource: key, Context: tls(nil), want: implicit},
		{Name: "ListAllMyBuckets", Action: "s3:ListAllMyBuckets", Resource: "*", Context: tls(nil), want: implicit},
		{Name: "GetObject in another bucket", Action: "s3:GetObject", Resource: "arn:aws:s3:::someone-elses-bucket/" + root + "x", Context: tls(nil), want: implicit},

		// Outside the prefix: nothing but the bucket-wide denies apply.
		{Name: "GetObject outside the prefix", Action: "s3:GetObject", Resource: outside, Context: tls(nil), want: pick(scoped, implicit, allowed)},
		{Name: "DEEP_ARCHIVE PutObject outside the prefix", Action: "s3:PutObject", Resource: outside, Context: icevaultPut(nil), want: pick(scoped, implicit, allowed)},
		{Name: "ListObjectsV2 of another prefix", Action: "s3:ListBucket", Resource: bucket, Context: tls(map[string]string{"s3:prefix": "elsewhere/"}), want: pick(scoped, implicit, allowed)},
		{Name: "ListObjectsV2 without a prefix / HeadBucket", Action: "s3:ListBucket", Resource: bucket, Context: tls(nil), want: pick(scoped, implicit, allowed)},

		// --create-only: a PUT without If-None-Match could overwrite.
		{Name: "PutObject without If-None-Match", Action: "s3:PutObject", Resource: key, Context: icevaultPut(map[string]string{"s3:if-none-match": ""}), want: pick(o.CreateOnly, denied, allowed)},

		// --tls-only: plain http.
		{Name: "GetObject over http", Action: "s3:GetObject", Resource: key, Context: tls(map[string]string{"aws:SecureTransport": "false"}), want: pick(o.TLSOnly, denied, allowed)},
		{Name: "PutObject over http", Action: "s3:PutObject", Resource: key, Context: icevaultPut(map[string]string{"aws:SecureTransport": "false"}), want: pick(o.TLSOnly, denied, allowed)},
		{Name: "ListBucket over http", Action: "s3:ListBucket", Resource: bucket, Context: tls(map[string]string{"aws:SecureTransport": "false", "s3:prefix": root}), want: pick(o.TLSOnly, denied, allowed)},

		// --rotate-keys: the user's own keys only.
		{Name: "rotate: ListAccessKeys", Action: "iam:ListAccessKeys", Resource: user, Context: iamCtx(), want: pick(o.RotateKeys, allowed, implicit)},
		{Name: "rotate: CreateAccessKey", Action: "iam:CreateAccessKey", Resource: user, Context: iamCtx(), want: pick(o.RotateKeys, allowed, implicit)},
		{Name: "rotate: DeleteAccessKey", Action: "iam:DeleteAccessKey", Resource: user, Context: iamCtx(), want: pick(o.RotateKeys, allowed, implicit)},
		{Name: "rotate: UpdateAccessKey (not needed)", Action: "iam:UpdateAccessKey", Resource: user, Context: iamCtx(), want: implicit},
		{Name: "rotate: user with a path", Action: "iam:CreateAccessKey", Resource: fmt.Sprintf("arn:aws:iam::%s:user/backup/%s", simAccount, simUser), Context: iamCtx(), want: pick(o.RotateKeys, allowed, implicit)},
		{Name: "rotate: someone else's keys", Action: "iam:CreateAccessKey", Resource: fmt.Sprintf("arn:aws:iam::%s:user/admin", simAccount), Context: iamCtx(), want: implicit},
		{Name: "rotate: a user whose name ends like ours", Action: "iam:DeleteAccessKey", Resource: fmt.Sprintf("arn:aws:iam::%s:user/x-%s", simAccount, simUser), Context: iamCtx(), want: implicit},
		{Name: "rotate: CreateUser", Action: "iam:CreateUser", Resource: fmt.Sprintf("arn:aws:iam::%s:user/%s", simAccount, "new"), Context: iamCtx(), want: implicit},
	}
	// Multipart: the table Explain prints.
	for _, c := range UploadCases {
		reqs = append(reqs, uploadRequest(c, key, c.Generated))
	}
	return reqs
}

var outcomeDecision = map[string]string{OutcomeAllowed: allowed, OutcomeDenied: denied, OutcomeNotAllowed: implicit}

// uploadRequest is an UploadCase as a simulator request. Every
// object-creating case sends If-None-Match so that --create-only does not
// change the answer: the table is about the storage-class statements.
func uploadRequest(c UploadCase, key, outcome string) simRequest {
	ctx := map[string]string{"s3:ObjectCreationOperation": fmt.Sprint(c.Creation)}
	if c.Creation {
		ctx["s3:if-none-match"] = "*"
	}
	if c.StorageClass != "" {
		ctx["s3:x-amz-storage-class"] = c.StorageClass
	}
	return simRequest{Name: "table: " + c.Request, Action: "s3:PutObject", Resource: key, Context: tls(ctx), want: outcomeDecision[outcome]}
}

func TestSimulateEveryVariant(t *testing.T) {
	var jobs []simJob
	for _, o := range allVariants() {
		d, err := Generate(o)
		if err != nil {
			t.Fatal(err)
		}
		jobs = append(jobs, simJob{Name: fmt.Sprintf("%+v", o), Policy: d, Requests: requestsFor(o)})
	}
	simulate(t, jobs)
}

// TestSimulateSeedPolicy checks the claims Explain makes about the seed
// guide's policy (its 5.B shape: PutObject granted outright, plus its
// storage-class Deny).
func TestSimulateSeedPolicy(t *testing.T) {
	deny := SeedDeny
	deny.Resource = List{"arn:aws:s3:::my-backups/*"}
	seed := Document{Version: Version, Statement: []Statement{
		{Sid: "AllowObjectReadWrite", Effect: "Allow", Action: List{"s3:GetObject", "s3:PutObject"}, Resource: List{"arn:aws:s3:::my-backups/*"}},
		deny,
	}}
	key := "arn:aws:s3:::my-backups/icevault/photos/data/x"
	var reqs []simRequest
	for _, c := range UploadCases {
		reqs = append(reqs, uploadRequest(c, key, c.Seed))
	}
	simulate(t, []simJob{{Name: "seed guide 5.B", Policy: seed, Requests: reqs}})
}

// TestSimulatorCatchesMistakes makes sure the harness can fail: a policy
// with the seed's Deny in place of the generated ones must not pass the
// generated policy's table, and a broken request must be reported.
func TestSimulatorCatchesMistakes(t *testing.T) {
	node, script := requireSimulator(t)
	d, _ := Generate(Options{Bucket: "my-backups"})
	var broken []Statement
	for _, s := range d.Statement {
		if s.Sid == SidDenyWrongClass || s.Sid == SidDenyNoClass {
			continue
		}
		broken = append(broken, s)
	}
	deny := SeedDeny
	deny.Resource = List{"arn:aws:s3:::my-backups/*"}
	broken = append(broken, deny)
	key := "arn:aws:s3:::my-backups/icevault/photos/data/x"
	in, _ := json.Marshal(map[string]any{"jobs": []simJob{{
		Name:   "broken",
		Policy: Document{Version: Version, Statement: broken},
		Requests: []simRequest{
			uploadRequest(UploadCase{Request: "CreateMultipartUpload, STANDARD", StorageClass: "STANDARD"}, key, ""),
			{Name: "typo", Action: "s3:PutObjekt", Resource: key},
		},
	}}})
	cmd := exec.Command(node, script)
	cmd.Stdin = bytes.NewReader(in)
	out, err := cmd.Output()
	if err != nil {
		t.Fatal(err)
	}
	var res struct {
		Jobs []struct{ Results []simResult } `json:"jobs"`
	}
	if err := json.Unmarshal(out, &res); err != nil || len(res.Jobs) != 1 || len(res.Jobs[0].Results) != 2 {
		t.Fatalf("unexpected output %s (%v)", out, err)
	}
	r := res.Jobs[0].Results
	// Without the generated Denies, the Allow's StringEquals alone refuses
	// the STANDARD CreateMultipartUpload only implicitly: another policy
	// could grant it. The generated policy denies it explicitly.
	if r[0].Decision != implicit {
		t.Errorf("CreateMultipartUpload STANDARD without the generated Denies = %s, want %s", r[0].Decision, implicit)
	}
	if r[1].Decision != "Error" {
		t.Errorf("a misspelt action = %s, want Error", r[1].Decision)
	}
}
