package awsprofile

import (
	"bytes"
	"context"
	"errors"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	awsconfig "github.com/aws/aws-sdk-go-v2/config"
)

var update = flag.Bool("update", false, "rewrite the golden files")

var testSSO = SSO{
	Profile: "icevault", StartURL: "https://d-1234567890.awsapps.com/start", SSORegion: "eu-central-1",
	AccountID: "123456789012", RoleName: "IcevaultBackup", Region: "eu-west-1",
}

var now = time.Date(2026, 12, 4, 5, 6, 7, 0, time.UTC)

func edits(t *testing.T) []SectionEdit {
	t.Helper()
	e, err := testSSO.Edits()
	if err != nil {
		t.Fatal(err)
	}
	return e
}

// copyIn puts a testdata file into a temp dir as "config".
func copyIn(t *testing.T, name string, mode os.FileMode) (string, []byte) {
	t.Helper()
	data, err := os.ReadFile(filepath.Join("testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	p := filepath.Join(t.TempDir(), "config")
	if err := os.WriteFile(p, data, mode); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(p, mode); err != nil {
		t.Fatal(err)
	}
	return p, data
}

func TestGolden(t *testing.T) {
	for _, name := range []string{"existing", "crlf", "notrailing"} {
		t.Run(name, func(t *testing.T) {
			p, orig := copyIn(t, name+".input", 0o640)
			res, err := Edit(p, edits(t), now)
			if err != nil {
				t.Fatal(err)
			}
			got, _ := os.ReadFile(p)
			golden := filepath.Join("testdata", name+".golden")
			if *update {
				os.WriteFile(golden, got, 0o644)
			}
			want, err := os.ReadFile(golden)
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(got, want) {
				t.Errorf("result differs from %s:\n%s", golden, got)
			}
			if !res.Changed || res.Created {
				t.Errorf("result = %+v", res)
			}
			backup, err := os.ReadFile(res.Backup)
			if err != nil || !bytes.Equal(backup, orig) {
				t.Errorf("backup %s: err %v, equal to the original: %v", res.Backup, err, bytes.Equal(backup, orig))
			}
			if !strings.HasSuffix(res.Backup, ".icevault-backup-20261204T050607Z") {
				t.Errorf("backup name %s", res.Backup)
			}
			for _, f := range []string{p, res.Backup} {
				if fi, _ := os.Stat(f); fi.Mode().Perm() != 0o640 {
					t.Errorf("%s mode %v, want the original 0640", f, fi.Mode().Perm())
				}
			}
			// Idempotent: a second run writes nothing and makes no backup.
			res2, err := Edit(p, edits(t), now.Add(time.Second))
			if err != nil || res2.Changed || res2.Backup != "" {
				t.Errorf("second run: %+v, %v", res2, err)
			}
			again, _ := os.ReadFile(p)
			if !bytes.Equal(again, got) {
				t.Error("second run changed the file")
			}
			checkSDK(t, p)
		})
	}
}

// Every original line must survive unchanged, except the lines of keys
// icevault sets.
func TestUnrelatedLinesPreserved(t *testing.T) {
	p, orig := copyIn(t, "existing.input", 0o600)
	if _, err := Edit(p, edits(t), now); err != nil {
		t.Fatal(err)
	}
	got, _ := os.ReadFile(p)
	out := string(got)
	for _, l := range strings.SplitAfter(string(orig), "\n") {
		if strings.HasPrefix(l, "region = us-west-2") || strings.HasPrefix(l, "sso_role_name = OldRole") {
			if strings.Contains(out, l) {
				t.Errorf("old value %q kept", l)
			}
			continue
		}
		if !strings.Contains(out, l) {
			t.Errorf("line %q lost", l)
		}
	}
	if !strings.Contains(out, "cli_pager =\n") {
		t.Error("unknown key in the icevault profile dropped")
	}
}

func checkSDK(t *testing.T, path string) {
	t.Helper()
	sc, err := awsconfig.LoadSharedConfigProfile(context.Background(), "icevault", func(o *awsconfig.LoadSharedConfigOptions) {
		o.ConfigFiles = []string{path}
		o.CredentialsFiles = []string{filepath.Join(t.TempDir(), "none")}
	})
	if err != nil {
		t.Fatalf("SDK reading %s: %v", path, err)
	}
	if sc.SSOSessionName != "icevault" || sc.SSOAccountID != "123456789012" || sc.SSORoleName != "IcevaultBackup" || sc.Region != "eu-west-1" {
		t.Errorf("SDK sees profile %+v", sc)
	}
	if s := sc.SSOSession; s == nil || s.SSOStartURL != testSSO.StartURL || s.SSORegion != "eu-central-1" {
		t.Errorf("SDK sees sso-session %+v", s)
	}
}

func TestBackupsNeverOverwritten(t *testing.T) {
	p, orig := copyIn(t, "crlf.input", 0o600)
	first, err := Edit(p, edits(t), now)
	if err != nil {
		t.Fatal(err)
	}
	e2 := []SectionEdit{{Section: "profile icevault", Set: []KV{{"region", "us-east-2"}}}}
	second, err := Edit(p, e2, now) // the same second
	if err != nil || second.Backup != first.Backup+"-2" {
		t.Fatalf("second backup %q (first %q), %v", second.Backup, first.Backup, err)
	}
	if b, _ := os.ReadFile(first.Backup); !bytes.Equal(b, orig) {
		t.Error("the first backup was overwritten")
	}
}

func TestNewFile(t *testing.T) {
	p := filepath.Join(t.TempDir(), "dot-aws", "config")
	res, err := Edit(p, edits(t), now)
	if err != nil {
		t.Fatal(err)
	}
	if !res.Created || !res.Changed || res.Backup != "" {
		t.Errorf("result %+v", res)
	}
	fi, err := os.Stat(p)
	if err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("new file: %v %v", fi, err)
	}
	got, _ := os.ReadFile(p)
	want := "[profile icevault]\nsso_session = icevault\nsso_account_id = 123456789012\nsso_role_name = IcevaultBackup\nregion = eu-west-1\n\n" +
		"[sso-session icevault]\nsso_start_url = https://d-1234567890.awsapps.com/start\nsso_region = eu-central-1\nsso_registration_scopes = sso:account:access\n"
	if string(got) != want {
		t.Errorf("new file:\n%s", got)
	}
	checkSDK(t, p)
}

func TestSymlinkEditsTarget(t *testing.T) {
	p, _ := copyIn(t, "crlf.input", 0o600)
	link := filepath.Join(t.TempDir(), "config-link")
	if err := os.Symlink(p, link); err != nil {
		t.Fatal(err)
	}
	res, err := Edit(link, edits(t), now)
	if err != nil || res.Path != p {
		t.Fatalf("%+v %v", res, err)
	}
	if fi, _ := os.Lstat(link); fi.Mode()&os.ModeSymlink == 0 {
		t.Error("the symlink was replaced by a file")
	}
}

func TestMalformedUntouched(t *testing.T) {
	for _, c := range []struct {
		name, data string
		line       int
		want       string
	}{
		{"garbage", "[default]\nregion = us-east-1\nthis is not ini\n", 3, "not a [section]"},
		{"unterminated", "[default]\nregion = x\n\n[profile icevault\nregion = y\n", 4, "no closing ]"},
		{"outside", "region = x\n[default]\n", 1, "outside any [section]"},
		{"noname", "[default]\n= x\n", 2, "without a name"},
		{"after header", "[default] junk\n", 1, "after the section header"},
		{"empty section", "[ ]\n", 1, "empty section"},
	} {
		t.Run(c.name, func(t *testing.T) {
			p := filepath.Join(t.TempDir(), "config")
			os.WriteFile(p, []byte(c.data), 0o600)
			_, err := Edit(p, edits(t), now)
			var pe *ParseError
			if !errors.As(err, &pe) || pe.Line != c.line || !strings.Contains(err.Error(), c.want) || !strings.Contains(err.Error(), p) {
				t.Fatalf("err = %v, want line %d: %s", err, c.line, c.want)
			}
			got, _ := os.ReadFile(p)
			if string(got) != c.data {
				t.Error("file changed")
			}
			if m, _ := filepath.Glob(p + ".icevault-backup-*"); len(m) != 0 {
				t.Errorf("backup written for a malformed file: %v", m)
			}
		})
	}
}

func TestFailedRenameLeavesFile(t *testing.T) {
	p, orig := copyIn(t, "existing.input", 0o600)
	renameFile = func(string, string) error { return errors.New("disk on fire") }
	defer func() { renameFile = os.Rename }()
	if _, err := Edit(p, edits(t), now); err == nil || !strings.Contains(err.Error(), "unchanged") {
		t.Fatalf("err = %v", err)
	}
	got, _ := os.ReadFile(p)
	if !bytes.Equal(got, orig) {
		t.Error("file changed")
	}
	if m, _ := filepath.Glob(filepath.Join(filepath.Dir(p), ".icevault-aws-config-*")); len(m) != 0 {
		t.Errorf("temp file left: %v", m)
	}
}

func TestApplyCases(t *testing.T) {
	set := []SectionEdit{{Section: "profile x", Set: []KV{{"region", "eu-west-1"}, {"output", "json"}}}}
	for _, c := range []struct{ name, in, want string }{
		{"update keeps order and others", "[profile x]\noutput = text\nfoo = bar\nregion = us-east-1\n",
			"[profile x]\noutput = json\nfoo = bar\nregion = eu-west-1\n"},
		{"add after last setting, before comment and next section", "[profile x]\nfoo = bar\n# note\n\n[profile y]\nregion = z\n",
			"[profile x]\nfoo = bar\nregion = eu-west-1\noutput = json\n# note\n\n[profile y]\nregion = z\n"},
		{"replaces continuation lines", "[profile x]\nregion =\n  nested = 1\noutput = json\n",
			"[profile x]\nregion = eu-west-1\noutput = json\n"},
		{"header spacing", "[profile   x]\nregion = eu-west-1\n", "[profile   x]\nregion = eu-west-1\noutput = json\n"},
		{"same value, odd spacing untouched", "[profile x]\nregion=eu-west-1\noutput   =   json\n", "[profile x]\nregion=eu-west-1\noutput   =   json\n"},
		{"empty", "", "[profile x]\nregion = eu-west-1\noutput = json\n"},
		{"only a comment", "# hi", "# hi\n\n[profile x]\nregion = eu-west-1\noutput = json\n"},
		{"byte-order mark kept", "\ufeff[profile x]\nregion = eu-west-1\n", "\ufeff[profile x]\nregion = eu-west-1\noutput = json\n"},
	} {
		t.Run(c.name, func(t *testing.T) {
			got, err := Apply("f", []byte(c.in), set)
			if err != nil || string(got) != c.want {
				t.Errorf("got %q, %v\nwant %q", got, err, c.want)
			}
		})
	}
}

// A legacy SSO profile (sso_start_url in the profile itself) gets the new
// session and matching legacy values, or the SDK would refuse it.
func TestLegacyProfileKeptConsistent(t *testing.T) {
	p := filepath.Join(t.TempDir(), "config")
	os.WriteFile(p, []byte("[profile icevault]\nsso_start_url = https://old.awsapps.com/start\nsso_region = us-east-1\nsso_account_id = 999999999999\n"), 0o600)
	if _, err := Edit(p, edits(t), now); err != nil {
		t.Fatal(err)
	}
	got, _ := os.ReadFile(p)
	if strings.Contains(string(got), "old.awsapps") || !strings.Contains(string(got), "[profile icevault]\nsso_start_url = https://d-1234567890.awsapps.com/start\nsso_region = eu-central-1\n") {
		t.Fatalf("legacy keys:\n%s", got)
	}
	checkSDK(t, p)
	// In a new profile they are not added.
	p2 := filepath.Join(t.TempDir(), "config")
	Edit(p2, edits(t), now)
	if b, _ := os.ReadFile(p2); strings.Count(string(b), "sso_start_url") != 1 {
		t.Fatalf("legacy keys added:\n%s", b)
	}
}

func TestSSOEditsValidate(t *testing.T) {
	for _, mut := range []func(*SSO){
		func(s *SSO) { s.AccountID = "12345" },
		func(s *SSO) { s.StartURL = "http://x" },
		func(s *SSO) { s.RoleName = "" },
		func(s *SSO) { s.Profile = "a b" },
		func(s *SSO) { s.Region = "eu\nwest" },
	} {
		s := testSSO
		mut(&s)
		e, err := s.Edits()
		if err == nil {
			_, err = Apply("f", nil, e)
		}
		if err == nil {
			t.Errorf("%+v accepted", s)
		}
	}
}
