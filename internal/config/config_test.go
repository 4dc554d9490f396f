package config

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func write(t *testing.T, body string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "config.toml")
	if err := os.WriteFile(p, []byte(body), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestLoadFillsDefaults(t *testing.T) {
	p := write(t, `
[repository.photos]
bucket = "my-archive"
prefix = "icevault"
region = "eu-west-1"
sources = ["~/Pictures"]
schedule = "daily 02:30"
`)
	f, err := Load(p)
	if err != nil {
		t.Fatal(err)
	}
	name, r, err := f.Repo("")
	if err != nil {
		t.Fatal(err)
	}
	if name != "photos" || r.Prefix != "icevault/" || r.Credentials != CredentialsProfile || r.Profile != DefaultProfile {
		t.Fatalf("got %s %+v", name, r)
	}
}

func TestLoadErrors(t *testing.T) {
	for _, c := range []struct{ body, want string }{
		{`[repository.a]
bucket = "My_Bucket"
region = "us-east-1"`, "not valid"},
		{`[repository.a]
bucket = "ok-bucket"`, "region is not set"},
		{`[repository.a]
bucket = "ok-bucket"
region = "us-east-1"
credentials = "file"`, `credentials = "file"`},
		{`[repository.a]
bucket = "ok-bucket"
region = "us-east-1"
schedule = "hourly"`, `schedule "hourly"`},
		{`[repository.a]
bucket = "ok-bucket"
region = "us-east-1"
buckett = "typo"`, "unknown setting(s) repository.a.buckett"},
		{`default = "b"
[repository.a]
bucket = "ok-bucket"
region = "us-east-1"`, `default repository "b"`},
		{`[repository.a
bucket = `, "reading"},
		{`[agent]
login_with = "browser"`, `login_with = "browser"`},
		{`[agent.notifications]
quite = ["backup_finished"]`, "unknown setting(s) agent.notifications.quite"},
	} {
		_, err := Load(write(t, c.body))
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("Load(%q) error = %v, want it to mention %q", c.body, err, c.want)
		}
	}
}

func TestAgentSection(t *testing.T) {
	f, err := Load(write(t, `default = "b"
[repository.a]
bucket = "bucket-a"
region = "us-east-1"
[repository.b]
bucket = "bucket-b"
region = "us-east-1"
[repository.c]
bucket = "bucket-c"
region = "us-east-1"
[agent]
login_with = "aws-cli"
dashboard = "127.0.0.1:8787"
[agent.notifications]
quiet = ["backup_finished"]
`))
	if err != nil {
		t.Fatal(err)
	}
	if a := f.Agent; a.LoginWith != LoginWithAWSCLI || a.Dashboard != "127.0.0.1:8787" || a.Notifications.Off ||
		len(a.Notifications.Quiet) != 1 || a.Notifications.Quiet[0] != "backup_finished" {
		t.Errorf("agent section %+v", a)
	}
	if got := strings.Join(f.Names(), ","); got != "b,a,c" {
		t.Errorf("Names() = %s, want the default first, then by name", got)
	}
}

func TestLoadMissing(t *testing.T) {
	_, err := Load(filepath.Join(t.TempDir(), "none.toml"))
	if !errors.Is(err, ErrNoConfig) || !strings.Contains(err.Error(), "icevault setup") {
		t.Fatalf("err = %v", err)
	}
}

func TestSaveRoundTrip(t *testing.T) {
	p := filepath.Join(t.TempDir(), "sub", "config.toml")
	in := &File{Default: "b", Repositories: map[string]*Repository{
		"a": {Bucket: "bucket-a", Region: "us-east-1", Credentials: CredentialsKeychain},
		"b": {Bucket: "bucket.b", Prefix: "x/", Region: "us-west-2", Excludes: []string{"*.tmp"}, Schedule: "every 6h"},
	}}
	if err := Save(p, in); err != nil {
		t.Fatal(err)
	}
	st, err := os.Stat(filepath.Dir(p))
	if err != nil || st.Mode().Perm() != 0o700 {
		t.Fatalf("config dir mode = %v, %v", st.Mode(), err)
	}
	out, err := Load(p)
	if err != nil {
		t.Fatal(err)
	}
	_, b, err := out.Repo("")
	if err != nil || b.Bucket != "bucket.b" || b.Excludes[0] != "*.tmp" || b.Profile != DefaultProfile {
		t.Fatalf("round trip: %+v %v", b, err)
	}
	if _, _, err := (&File{Repositories: out.Repositories}).Repo(""); err == nil || !strings.Contains(err.Error(), "--repo") {
		t.Fatalf("ambiguous Repo error = %v", err)
	}
}

func TestParseSchedule(t *testing.T) {
	for _, c := range []struct {
		in   string
		want Schedule
		bad  bool
	}{
		{"", Schedule{}, false},
		{"every 6h", Schedule{Interval: 6 * time.Hour}, false},
		{"daily 21:00, 09:00,09:00", Schedule{Times: []int{540, 1260}}, false},
		{"every 1m", Schedule{}, true},
		{"daily 25:00", Schedule{}, true},
		{"weekly", Schedule{}, true},
	} {
		got, err := ParseSchedule(c.in)
		if (err != nil) != c.bad {
			t.Errorf("ParseSchedule(%q) err = %v", c.in, err)
			continue
		}
		if got.Interval != c.want.Interval || len(got.Times) != len(c.want.Times) {
			t.Errorf("ParseSchedule(%q) = %+v, want %+v", c.in, got, c.want)
		}
		for i := range got.Times {
			if got.Times[i] != c.want.Times[i] {
				t.Errorf("ParseSchedule(%q) = %+v, want %+v", c.in, got, c.want)
			}
		}
	}
}
