package policy

import (
	"bytes"
	"encoding/json"
	"errors"
	"flag"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata/")

// goldenVariants are frozen in testdata/: a change to the generated JSON
// must be deliberate (and re-checked by the simulator tests).
var goldenVariants = []struct {
	file string
	opts Options
}{
	{"default.json", Options{Bucket: "my-backups"}},
	{"restore.json", Options{Bucket: "my-backups", Restore: true}},
	{"all.json", Options{Bucket: "my-backups", Prefix: "team/photos", Restore: true, CreateOnly: true, TLSOnly: true, RotateKeys: true}},
	{"whole-bucket.json", Options{Bucket: "archive.example.com", WholeBucket: true, CreateOnly: true}},
}

func TestGolden(t *testing.T) {
	for _, v := range goldenVariants {
		t.Run(v.file, func(t *testing.T) {
			d, err := Generate(v.opts)
			if err != nil {
				t.Fatal(err)
			}
			got, err := d.JSON()
			if err != nil {
				t.Fatal(err)
			}
			path := filepath.Join("testdata", v.file)
			if *update {
				if err := os.WriteFile(path, got, 0o644); err != nil {
					t.Fatal(err)
				}
			}
			want, err := os.ReadFile(path)
			if err != nil {
				t.Fatalf("%v (run go test -update to create it)", err)
			}
			if !bytes.Equal(got, want) {
				t.Errorf("policy for %+v differs from %s:\n%s", v.opts, path, got)
			}
			// Deterministic: a second run gives the same bytes.
			d2, _ := Generate(v.opts)
			again, _ := d2.JSON()
			if !bytes.Equal(got, again) {
				t.Error("two runs gave different JSON")
			}
			// Round trip: the golden file parses back into the same document.
			var back Document
			if err := json.Unmarshal(want, &back); err != nil {
				t.Fatal(err)
			}
			backJSON, _ := back.JSON()
			if !bytes.Equal(backJSON, want) {
				t.Errorf("round trip changed the JSON:\n%s", backJSON)
			}
		})
	}
}

func TestShape(t *testing.T) {
	for _, o := range allVariants() {
		d, err := Generate(o)
		if err != nil {
			t.Fatal(err)
		}
		raw, _ := d.Compact()
		if bytes.Contains(raw, []byte("Principal")) {
			t.Errorf("%+v: a Principal makes the policy unusable as an identity policy", o)
		}
		if d.Version != Version {
			t.Errorf("Version = %q", d.Version)
		}
		seen := map[string]bool{}
		for _, s := range d.Statement {
			if seen[s.Sid] {
				t.Errorf("%+v: duplicate Sid %s", o, s.Sid)
			}
			seen[s.Sid] = true
			for _, r := range s.Sid {
				if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9') {
					t.Errorf("Sid %q: IAM allows only ASCII letters and digits", s.Sid)
				}
			}
			if s.Why == "" {
				t.Errorf("statement %s has no explanation", s.Sid)
			}
			if s.Effect == "Allow" {
				for _, a := range s.Action {
					if strings.Contains(strings.ToLower(a), "delete") && !strings.HasPrefix(a, "iam:") || strings.Contains(a, "*") {
						t.Errorf("%+v: statement %s allows %s", o, s.Sid, a)
					}
				}
			}
		}
		for sid, want := range map[string]bool{
			SidRestore: o.Restore, SidDenyOverwrite: o.CreateOnly, SidDenyInsecure: o.TLSOnly, SidRotateKeys: o.RotateKeys,
			SidList: true, SidLocation: true, SidRead: true, SidPut: true, SidDenyWrongClass: true, SidDenyNoClass: true, SidDenyDestructive: true,
		} {
			if seen[sid] != want {
				t.Errorf("%+v: statement %s present = %v, want %v", o, sid, seen[sid], want)
			}
		}
		if d.Size() > ManagedPolicyLimit {
			t.Errorf("%+v: %d characters, over the managed-policy quota", o, d.Size())
		}
	}
	// The everyday variants fit an IAM user's inline-policy quota.
	d, _ := Generate(Options{Bucket: "jane-doe-backups-2026", Restore: true, CreateOnly: true})
	if d.Size() > UserInlineLimit {
		t.Errorf("backup+restore+create-only policy is %d characters, over the %d of a user's inline policies", d.Size(), UserInlineLimit)
	}
}

func TestValidation(t *testing.T) {
	for _, c := range []struct {
		name string
		opts Options
		want string
	}{
		{"no bucket", Options{}, "bucket is not set"},
		{"uppercase", Options{Bucket: "My-Backups"}, "not valid"},
		{"too short", Options{Bucket: "ab"}, "not valid"},
		{"underscore", Options{Bucket: "my_backups"}, "not valid"},
		{"double dot", Options{Bucket: "my..backups"}, "two adjacent dots"},
		{"ip address", Options{Bucket: "192.168.1.1"}, "IP address"},
		{"xn--", Options{Bucket: "xn--backups"}, "xn--"},
		{"s3alias", Options{Bucket: "backups-s3alias"}, "-s3alias"},
		{"arn as bucket", Options{Bucket: "arn:aws:s3:::b"}, "not valid"},
		{"leading slash", Options{Bucket: "my-backups", Prefix: "/icevault"}, "must not start with '/'"},
		{"wildcard", Options{Bucket: "my-backups", Prefix: "ice*"}, "wildcards"},
		{"question mark", Options{Bucket: "my-backups", Prefix: "ice?"}, "wildcards"},
		{"policy variable", Options{Bucket: "my-backups", Prefix: "${aws:username}/"}, "policy variable"},
		{"empty segment", Options{Bucket: "my-backups", Prefix: "a//b/"}, "empty path segment"},
		{"control char", Options{Bucket: "my-backups", Prefix: "a\nb/"}, "control character"},
		{"bad utf8", Options{Bucket: "my-backups", Prefix: "a\xffb/"}, "UTF-8"},
		{"long", Options{Bucket: "my-backups", Prefix: strings.Repeat("a", 600)}, "512"},
		{"prefix and whole bucket", Options{Bucket: "my-backups", Prefix: "x/", WholeBucket: true}, "both"},
		{"partition", Options{Bucket: "my-backups", Partition: "azure"}, "partition"},
	} {
		t.Run(c.name, func(t *testing.T) {
			_, err := Generate(c.opts)
			if err == nil || !errors.Is(err, ErrInvalid) || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("Generate(%+v) = %v, want ErrInvalid mentioning %q", c.opts, err, c.want)
			}
		})
	}
}

func TestNormalize(t *testing.T) {
	for _, c := range []struct {
		in         Options
		wantPrefix string
	}{
		{Options{Bucket: "my-backups"}, "icevault/"},
		{Options{Bucket: "my-backups", Prefix: "photos"}, "photos/"},
		{Options{Bucket: "my-backups", Prefix: "a/b/"}, "a/b/"},
		{Options{Bucket: "my-backups", WholeBucket: true}, ""},
	} {
		o, err := c.in.Normalize()
		if err != nil || o.Prefix != c.wantPrefix || o.Partition != "aws" {
			t.Errorf("Normalize(%+v) = %+v, %v; want prefix %q", c.in, o, err, c.wantPrefix)
		}
	}
	d, _ := Generate(Options{Bucket: "b-cn", Partition: "aws-cn"})
	raw, _ := d.Compact()
	if !bytes.Contains(raw, []byte(`"arn:aws-cn:s3:::b-cn/icevault/*"`)) || bytes.Contains(raw, []byte(`arn:aws:`)) {
		t.Errorf("aws-cn policy has the wrong ARNs: %s", raw)
	}
}

func TestExplain(t *testing.T) {
	for _, o := range allVariants() {
		d, _ := Generate(o)
		text := strings.Join(strings.Fields(Explain(d)), " ")
		for _, s := range d.Statement {
			if !strings.Contains(text, s.Sid+":") {
				t.Errorf("%+v: explanation does not mention %s", o, s.Sid)
			}
		}
		for _, want := range []string{"CompleteMultipartUpload", "StringNotEquals is true when the key is absent", "guide's policy"} {
			if !strings.Contains(text, want) {
				t.Errorf("explanation lacks %q", want)
			}
		}
	}
	small, _ := Generate(Options{Bucket: "my-backups"})
	if !strings.Contains(Explain(small), "fits every one") {
		t.Error("a small policy should say it fits every quota")
	}
	big, _ := Generate(Options{Bucket: "my-backups", Restore: true, CreateOnly: true, TLSOnly: true, RotateKeys: true})
	if big.Size() > UserInlineLimit && !strings.Contains(Explain(big), "customer managed policy") {
		t.Error("an oversized policy should say to attach it as a managed policy")
	}
	// Every table row is in the text (the simulator test checks the
	// outcomes themselves).
	text := Explain(small)
	for _, c := range UploadCases {
		if !strings.Contains(text, c.Request) {
			t.Errorf("table lacks %q", c.Request)
		}
	}
}

func TestListJSON(t *testing.T) {
	for _, c := range []struct {
		l    List
		want string
	}{{List{"a"}, `"a"`}, {List{"a", "b"}, `["a","b"]`}, {List{"${aws:username}<&>"}, `"${aws:username}<&>"`}} {
		b, err := marshal(c.l)
		if err != nil || string(b) != c.want {
			t.Errorf("Marshal(%q) = %s, %v; want %s", c.l, b, err, c.want)
		}
		var back List
		if err := json.Unmarshal(b, &back); err != nil || !slices.Equal(back, c.l) {
			t.Errorf("Unmarshal(%s) = %q, %v", b, back, err)
		}
	}
}

// allVariants is every combination of the flags, for three prefix shapes.
func allVariants() []Options {
	var out []Options
	for _, base := range []Options{
		{Bucket: "my-backups"},
		{Bucket: "my-backups", Prefix: "team/photos/"},
		{Bucket: "archive.example.com", WholeBucket: true},
	} {
		for bits := range 16 {
			o := base
			o.Restore = bits&1 != 0
			o.CreateOnly = bits&2 != 0
			o.TLSOnly = bits&4 != 0
			o.RotateKeys = bits&8 != 0
			out = append(out, o)
		}
	}
	return out
}
