package schedule

import (
	"bytes"
	"context"
	"encoding/json"
	"flag"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"howett.net/plist"

	"github.com/icevault/icevault/internal/config"
	"github.com/icevault/icevault/internal/testenv"
)

var update = flag.Bool("update", false, "rewrite testdata golden files")

const sampleBinary = "/opt/ice vault/bin/icevault"

// sampleConfig covers every schedule shape and names that need escaping.
func sampleConfig(t *testing.T) *config.File {
	t.Helper()
	repo := func(s string) *config.Repository {
		return &config.Repository{Bucket: "my-bucket", Region: "eu-west-1", Credentials: "keychain", Schedule: s}
	}
	f := &config.File{Repositories: map[string]*config.Repository{
		"main":          repo("daily 02:30"),
		"photos lib-2":  repo("every 6h"),
		"docs":          repo("daily 09:00,21:00"),
		"odd":           repo("every 90m"),
		"weekly-ish":    repo("every 5h"),
		"quarter":       repo("every 15m"),
		"manual-only":   repo(""),
		"100%$\"quote'": repo("every 24h"),
	}}
	if err := f.Validate(); err != nil {
		t.Fatal(err)
	}
	return f
}

func sampleSpec(t *testing.T, mode Mode, binary string) Spec {
	t.Helper()
	jobs, err := JobsFromConfig(sampleConfig(t))
	if err != nil {
		t.Fatal(err)
	}
	return Spec{Mode: mode, Binary: binary, ConfigPath: "/home/u/.config/icevault/config.toml", Jobs: jobs}
}

func TestSystemdEscape(t *testing.T) {
	names := []string{"main", "photos lib-2", ".hidden", "a/b", `a\b`, "café", "x:y_z.1", "100%$\"quote'"}
	want := map[string]string{"main": "main", "photos lib-2": `photos\x20lib\x2d2`, ".hidden": `\x2ehidden`, "a/b": "a-b", "café": `caf\xc3\xa9`}
	for n, w := range want {
		if got := SystemdEscape(n); got != w {
			t.Errorf("SystemdEscape(%q) = %q, want %q", n, got, w)
		}
	}
	tool := testenv.RequireTool(t, "systemd-escape", "apt-get install systemd")
	for _, n := range names {
		out, err := exec.Command(tool, "--", n).Output()
		if err != nil {
			t.Fatalf("systemd-escape %q: %v", n, err)
		}
		if got, w := SystemdEscape(n), strings.TrimSpace(string(out)); got != w {
			t.Errorf("SystemdEscape(%q) = %q, systemd-escape says %q", n, got, w)
		}
	}
}

func TestGolden(t *testing.T) {
	for _, platform := range []string{"systemd", "launchd"} {
		for _, mode := range []Mode{AgentMode, UnattendedMode} {
			name := platform + "-" + mode.String()
			t.Run(name, func(t *testing.T) {
				p, err := Generate(platform, sampleSpec(t, mode, sampleBinary), "/home/u", "")
				if err != nil {
					t.Fatal(err)
				}
				dir := filepath.Join("testdata", name)
				if *update {
					os.RemoveAll(dir)
					os.MkdirAll(dir, 0o755)
				}
				var names []string
				for _, u := range p.Units {
					names = append(names, u.Name)
					// Backslashes, quotes and percent signs are legal in unit
					// file names but awkward in a checkout.
					g := filepath.Join(dir, goldenName(u.Name))
					if *update {
						if err := os.WriteFile(g, u.Content, 0o644); err != nil {
							t.Fatal(err)
						}
						continue
					}
					want, err := os.ReadFile(g)
					if err != nil {
						t.Fatalf("%v (run go test -run TestGolden -update)", err)
					}
					if !bytes.Equal(u.Content, want) {
						t.Errorf("%s differs from %s:\n%s", u.Name, g, u.Content)
					}
				}
				ents, _ := os.ReadDir(dir)
				if len(ents) != len(names) {
					t.Errorf("%d golden files in %s, generated %v", len(ents), dir, names)
				}
			})
		}
	}
}

func TestTimerSection(t *testing.T) {
	for _, c := range []struct{ sched, want string }{
		{"daily 02:30", "OnCalendar=*-*-* 02:30:00\nPersistent=true\nRandomizedDelaySec=5min\n"},
		{"daily 09:00,21:05", "OnCalendar=*-*-* 09:00:00\nOnCalendar=*-*-* 21:05:00\nPersistent=true\nRandomizedDelaySec=5min\n"},
		{"every 6h", "OnCalendar=*-*-* 00/6:00:00\nPersistent=true\nRandomizedDelaySec=5min\n"},
		{"every 24h", "OnCalendar=*-*-* 00:00:00\nPersistent=true\nRandomizedDelaySec=5min\n"},
		{"every 30m", "OnCalendar=*-*-* *:00/30:00\nPersistent=true\nRandomizedDelaySec=3min\n"},
		{"every 5h", "OnBootSec=15min\nOnUnitActiveSec=5h\nRandomizedDelaySec=5min\n"},
		{"every 48h", "OnBootSec=15min\nOnUnitActiveSec=48h\nRandomizedDelaySec=5min\n"},
	} {
		s, err := config.ParseSchedule(c.sched)
		if err != nil {
			t.Fatal(err)
		}
		got, err := timerSection(Job{Repo: "r", Schedule: s})
		if err != nil || got != c.want {
			t.Errorf("%s: got %q, %v; want %q", c.sched, got, err, c.want)
		}
	}
	s, _ := config.ParseSchedule("every 90m")
	got, _ := timerSection(Job{Repo: "r", Schedule: s})
	if n := strings.Count(got, "OnCalendar="); n != 16 || !strings.Contains(got, "OnCalendar=*-*-* 22:30:00\n") {
		t.Errorf("every 90m: %d OnCalendar lines:\n%s", n, got)
	}
}

// verifyUnits runs systemd-analyze verify in user mode on the files in dir
// and returns its combined output and whether it passed (exit 0 and no
// warnings).
func verifyUnits(t *testing.T, dir string, names ...string) (string, bool) {
	t.Helper()
	tool := testenv.RequireTool(t, "systemd-analyze", "apt-get install systemd")
	rt := t.TempDir()
	args := []string{"--user", "verify", "--man=no"}
	for _, n := range names {
		args = append(args, filepath.Join(dir, n))
	}
	cmd := exec.Command(tool, args...)
	// A user-mode verify needs a runtime directory, not a running systemd.
	cmd.Env = append(os.Environ(), "XDG_RUNTIME_DIR="+rt, "SYSTEMD_LOG_COLOR=0")
	out, err := cmd.CombinedOutput()
	return string(out), err == nil && len(bytes.TrimSpace(out)) == 0
}

// realBinary is an executable at a path with a space, as verify checks that
// ExecStart's program exists.
func realBinary(t *testing.T) string {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "ice vault")
	if err := os.Mkdir(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	bin := filepath.Join(dir, "icevault")
	if err := os.WriteFile(bin, []byte("#!/bin/sh\nexit 0\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	return bin
}

func TestSystemdAnalyzeVerify(t *testing.T) {
	bin := realBinary(t)
	for _, mode := range []Mode{AgentMode, UnattendedMode} {
		t.Run(mode.String(), func(t *testing.T) {
			p, err := Generate("systemd", sampleSpec(t, mode, bin), "/home/u", "")
			if err != nil {
				t.Fatal(err)
			}
			dir := t.TempDir()
			var names []string
			for _, u := range p.Units {
				if err := os.WriteFile(filepath.Join(dir, u.Name), u.Content, 0o644); err != nil {
					t.Fatal(err)
				}
				if u.Activate {
					names = append(names, u.Name)
				}
			}
			if mode == UnattendedMode {
				// Verify the template through a concrete instance too.
				tmpl, _ := os.ReadFile(filepath.Join(dir, BackupTemplate))
				inst := "icevault-backup@" + SystemdEscape("photos lib-2") + ".service"
				os.WriteFile(filepath.Join(dir, inst), tmpl, 0o644)
				names = append(names, inst)
			}
			if out, ok := verifyUnits(t, dir, names...); !ok {
				t.Fatalf("systemd-analyze verify failed:\n%s", out)
			}
		})
	}
}

// TestSystemdAnalyzeVerifyCatchesBreakage proves the check above can fail.
func TestSystemdAnalyzeVerifyCatchesBreakage(t *testing.T) {
	bin := realBinary(t)
	p, err := Generate("systemd", sampleSpec(t, AgentMode, bin), "/home/u", "")
	if err != nil {
		t.Fatal(err)
	}
	good := string(p.Units[0].Content)
	for name, broken := range map[string]string{
		"missing binary": strings.Replace(good, bin, bin+"-gone", 1),
		"unknown key":    strings.Replace(good, "Restart=on-failure", "Restart=on-failure\nRestartt=always", 1),
		"bad value":      strings.Replace(good, "Restart=on-failure", "Restart=sometimes", 1),
	} {
		dir := t.TempDir()
		os.WriteFile(filepath.Join(dir, AgentUnit), []byte(broken), 0o644)
		if out, ok := verifyUnits(t, dir, AgentUnit); ok {
			t.Errorf("%s: verify passed a broken unit:\n%s", name, broken)
		} else {
			t.Logf("%s: %s", name, strings.TrimSpace(out))
		}
	}
}

func TestPlistParsesBack(t *testing.T) {
	spec := sampleSpec(t, UnattendedMode, sampleBinary)
	p, err := Generate("launchd", spec, "/Users/u", "")
	if err != nil {
		t.Fatal(err)
	}
	a, err := Generate("launchd", sampleSpec(t, AgentMode, sampleBinary), "/Users/u", "")
	if err != nil {
		t.Fatal(err)
	}
	units := append(a.Units, p.Units...)
	if len(units) != 1+len(spec.Jobs) {
		t.Fatalf("%d plists for %d jobs + agent", len(units), len(spec.Jobs))
	}
	for _, u := range units {
		var m map[string]any
		if _, err := plist.Unmarshal(u.Content, &m); err != nil {
			t.Fatalf("%s: %v", u.Name, err)
		}
		if m["Label"] != u.ID || u.Name != u.ID+".plist" {
			t.Errorf("%s: Label %v", u.Name, m["Label"])
		}
		args, ok := m["ProgramArguments"].([]any)
		if !ok || len(args) < 4 || args[0] != sampleBinary || args[1] != "--config" {
			t.Errorf("%s: ProgramArguments %#v", u.Name, m["ProgramArguments"])
		}
		for _, k := range []string{"StandardOutPath", "StandardErrorPath"} {
			if s, _ := m[k].(string); !strings.HasPrefix(s, "/Users/u/Library/Logs/icevault/") {
				t.Errorf("%s: %s = %#v", u.Name, k, m[k])
			}
		}
		if m["LowPriorityIO"] != true {
			t.Errorf("%s: LowPriorityIO %#v", u.Name, m["LowPriorityIO"])
		}
		if u.ID == AgentLabel {
			ka, _ := m["KeepAlive"].(map[string]any)
			if m["RunAtLoad"] != true || ka["SuccessfulExit"] != false || args[len(args)-1] != "agent" {
				t.Errorf("agent plist: %#v", m)
			}
			continue
		}
		if m["ProcessType"] != "Background" || args[len(args)-3] != "backup" || args[len(args)-2] != "--repo" {
			t.Errorf("%s: %#v", u.Name, m)
		}
		_, cal := m["StartCalendarInterval"].([]any)
		_, iv := m["StartInterval"].(uint64)
		if cal == iv {
			t.Errorf("%s: want exactly one of StartCalendarInterval (array) or StartInterval (integer): %#v", u.Name, m)
		}
		if _, ok := m["EnvironmentVariables"]; ok {
			t.Errorf("%s: unattended job sets EnvironmentVariables", u.Name)
		}
	}
	// The repository name, with quotes and percent signs, reaches the
	// command line intact.
	var got map[string]any
	for _, u := range p.Units {
		if u.ID == BackupLabel(`100%$"quote'`) {
			plist.Unmarshal(u.Content, &got)
		}
	}
	if args, _ := got["ProgramArguments"].([]any); len(args) == 0 || args[len(args)-1] != `100%$"quote'` {
		t.Errorf("odd repository name: %#v", got)
	}
}

// TestPlistPythonPlistlib parses every plist with an independent parser.
func TestPlistPythonPlistlib(t *testing.T) {
	py := testenv.RequireTool(t, "python3", "apt-get install python3")
	for _, mode := range []Mode{AgentMode, UnattendedMode} {
		p, err := Generate("launchd", sampleSpec(t, mode, sampleBinary), "/Users/u", "")
		if err != nil {
			t.Fatal(err)
		}
		for _, u := range p.Units {
			cmd := exec.Command(py, "-c", `import sys, json, plistlib
d = plistlib.loads(sys.stdin.buffer.read())
json.dump({k: [type(v).__name__, v] for k, v in d.items()}, sys.stdout)`)
			cmd.Stdin = bytes.NewReader(u.Content)
			out, err := cmd.Output()
			if err != nil {
				t.Fatalf("%s: plistlib: %v\n%s", u.Name, err, u.Content)
			}
			var py map[string][2]any
			if err := json.Unmarshal(out, &py); err != nil {
				t.Fatal(err)
			}
			var ours map[string]any
			plist.Unmarshal(u.Content, &ours)
			if len(py) != len(ours) {
				t.Errorf("%s: plistlib sees %d keys, howett %d", u.Name, len(py), len(ours))
			}
			wantType := map[string]string{"Label": "str", "ProgramArguments": "list", "RunAtLoad": "bool", "KeepAlive": "dict",
				"StartCalendarInterval": "list", "StartInterval": "int", "ProcessType": "str", "LowPriorityIO": "bool",
				"Nice": "int", "EnvironmentVariables": "dict", "StandardOutPath": "str", "StandardErrorPath": "str"}
			for k, v := range py {
				if wantType[k] != v[0] {
					t.Errorf("%s: %s is a %s to plistlib, want %s", u.Name, k, v[0], wantType[k])
				}
			}
			if lbl := py["Label"][1]; lbl != u.ID {
				t.Errorf("%s: plistlib Label %v", u.Name, lbl)
			}
			if !reflect.DeepEqual(py["ProgramArguments"][1], ours["ProgramArguments"]) {
				t.Errorf("%s: ProgramArguments differ: %v vs %v", u.Name, py["ProgramArguments"][1], ours["ProgramArguments"])
			}
		}
	}
}

func TestGenerateErrors(t *testing.T) {
	ctx := context.Background()
	_ = ctx
	if _, err := Systemd(Spec{Mode: UnattendedMode, Binary: "/bin/icevault"}, "/d"); err == nil || !strings.Contains(err.Error(), "no repository has a schedule") {
		t.Errorf("unattended with no jobs: %v", err)
	}
	if _, err := Systemd(Spec{Binary: "icevault"}, "/d"); err == nil {
		t.Error("relative binary accepted")
	}
	f := &config.File{Repositories: map[string]*config.Repository{"a\nb": {Bucket: "my-bucket", Region: "r", Schedule: "every 1h"}}}
	if _, err := JobsFromConfig(f); err == nil {
		t.Error("a repository name with a newline was accepted")
	}
}

func goldenName(n string) string {
	return strings.Map(func(r rune) rune {
		if r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || strings.ContainsRune(".@_-", r) {
			return r
		}
		return '_'
	}, n)
}
