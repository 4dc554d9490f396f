package schedule

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// fakeRunner records commands and answers with fn.
type fakeRunner struct {
	calls []string
	fn    func(cmd string) (string, error)
}

func (f *fakeRunner) Run(_ context.Context, name string, args ...string) (string, error) {
	cmd := name + " " + strings.Join(args, " ")
	f.calls = append(f.calls, cmd)
	if f.fn != nil {
		return f.fn(cmd)
	}
	return "", nil
}

func TestInstallIdempotentAndUninstall(t *testing.T) {
	ctx := context.Background()
	home := t.TempDir()
	fr := &fakeRunner{}
	m := NewManager("systemd", fr, 1000)
	spec := sampleSpec(t, UnattendedMode, sampleBinary)
	p, err := Generate("systemd", spec, home, "")
	if err != nil {
		t.Fatal(err)
	}
	foreign := filepath.Join(p.Dir, "icevault-mine.service")
	os.MkdirAll(p.Dir, 0o755)
	os.WriteFile(foreign, []byte("[Service]\nExecStart=/bin/true\n"), 0o644)

	r, err := Install(ctx, p, m)
	if err != nil || len(r.Written) != len(p.Units) || r.NotActivated != nil {
		t.Fatalf("first install: %+v, %v", r, err)
	}
	fi, _ := os.Stat(filepath.Join(p.Dir, BackupTemplate))
	if fi.Mode().Perm() != 0o644 {
		t.Errorf("mode %v", fi.Mode())
	}
	if fr.calls[0] != "systemctl --user daemon-reload" || !contains(fr.calls, "systemctl --user enable --now icevault-backup@main.timer") {
		t.Errorf("calls: %q", fr.calls)
	}

	fr.calls = nil
	r, err = Install(ctx, p, m)
	if err != nil || len(r.Written) != 0 || len(r.Unchanged) != len(p.Units) {
		t.Fatalf("second install: %+v, %v", r, err)
	}
	if contains(fr.calls, "systemctl --user daemon-reload") || contains(fr.calls, "systemctl --user try-restart icevault-backup@main.timer") {
		t.Errorf("unchanged install reloaded or restarted: %q", fr.calls)
	}

	// Switching to the agent removes the timers and template.
	fr.calls = nil
	pa, _ := Generate("systemd", sampleSpec(t, AgentMode, sampleBinary), home, "")
	r, err = Install(ctx, pa, m)
	if err != nil || len(r.Removed) != len(p.Units) || len(r.Written) != 1 {
		t.Fatalf("agent install: %+v, %v", r, err)
	}
	if !contains(fr.calls, "systemctl --user disable --now icevault-backup@main.timer") || contains(fr.calls, "systemctl --user disable --now "+BackupTemplate) {
		t.Errorf("calls: %q", fr.calls)
	}

	// Changed content is replaced and restarted.
	fr.calls = nil
	pa2, _ := Generate("systemd", Spec{Binary: "/usr/bin/icevault"}, home, "")
	if r, err = Install(ctx, pa2, m); err != nil || len(r.Written) != 1 || !contains(fr.calls, "systemctl --user try-restart "+AgentUnit) {
		t.Fatalf("changed install: %+v, %v, %q", r, err, fr.calls)
	}

	fr.fn = func(cmd string) (string, error) {
		return "UnitFileState=enabled\nActiveState=active\nNextElapseUSecRealtime=n/a\nResult=success\n", nil
	}
	st, err := Status(ctx, "systemd", p.Dir, m)
	if err != nil || len(st) != 1 || !st[0].Enabled || st[0].Active != "active" {
		t.Fatalf("status: %+v, %v", st, err)
	}
	fr.fn = nil

	for i := 0; i < 2; i++ {
		r, err = Uninstall(ctx, "systemd", p.Dir, m)
		if err != nil || len(r.Removed) != 1-i {
			t.Fatalf("uninstall %d: %+v, %v", i, r, err)
		}
	}
	if _, err := os.Stat(foreign); err != nil {
		t.Errorf("uninstall touched a file it did not write: %v", err)
	}
}

func TestInstallRefusesForeignFile(t *testing.T) {
	home := t.TempDir()
	p, _ := Generate("systemd", Spec{Binary: "/usr/bin/icevault"}, home, "")
	os.MkdirAll(p.Dir, 0o755)
	path := filepath.Join(p.Dir, AgentUnit)
	os.WriteFile(path, []byte("# mine\n"), 0o644)
	if _, err := Install(context.Background(), p, NewManager("systemd", &fakeRunner{}, 0)); err == nil || !strings.Contains(err.Error(), "not written by icevault") {
		t.Fatalf("err = %v", err)
	}
	if b, _ := os.ReadFile(path); string(b) != "# mine\n" {
		t.Error("foreign file replaced")
	}
}

func TestInstallWithoutUserBus(t *testing.T) {
	home := t.TempDir()
	p, _ := Generate("systemd", Spec{Binary: "/usr/bin/icevault"}, home, filepath.Join(home, "xdg"))
	fr := &fakeRunner{fn: func(string) (string, error) {
		return "", &RunError{Cmd: "systemctl", Stderr: "Failed to connect to bus: No medium found", Err: fmt.Errorf("exit status 1")}
	}}
	r, err := Install(context.Background(), p, NewManager("systemd", fr, 0))
	if err != nil || r.NotActivated == nil || len(r.Written) != 1 || !strings.Contains(r.Hint, "systemctl --user enable --now icevault-agent.service") {
		t.Fatalf("%+v, %v", r, err)
	}
	if _, err := os.Stat(filepath.Join(home, "xdg", "systemd", "user", AgentUnit)); err != nil {
		t.Error(err)
	}
}

func TestLaunchctl(t *testing.T) {
	home := t.TempDir()
	p, _ := Generate("launchd", Spec{Binary: "/usr/local/bin/icevault"}, home, "")
	loaded := false
	fr := &fakeRunner{fn: func(cmd string) (string, error) {
		switch {
		case strings.HasPrefix(cmd, "launchctl print"):
			if !loaded {
				return "", &RunError{Cmd: cmd, Stderr: "Could not find service", Err: fmt.Errorf("exit status 113")}
			}
			return "gui/501/dev.icevault.agent = {\n\tstate = running\n\tlast exit code = 0\n}\n", nil
		case strings.HasPrefix(cmd, "launchctl bootstrap"):
			loaded = true
		case strings.HasPrefix(cmd, "launchctl bootout"):
			loaded = false
		}
		return "", nil
	}}
	m := NewManager("launchd", fr, 501)
	if _, err := Install(context.Background(), p, m); err != nil {
		t.Fatal(err)
	}
	want := "launchctl bootstrap gui/501 " + filepath.Join(home, "Library/LaunchAgents/dev.icevault.agent.plist")
	if !contains(fr.calls, want) || !contains(fr.calls, "launchctl enable gui/501/dev.icevault.agent") {
		t.Fatalf("calls %q", fr.calls)
	}
	if fi, err := os.Stat(filepath.Join(home, "Library/Logs/icevault")); err != nil || !fi.IsDir() {
		t.Errorf("log dir: %v", err)
	}
	fr.calls = nil
	if _, err := Install(context.Background(), p, m); err != nil || contains(fr.calls, want) {
		t.Fatalf("re-install bootstrapped again: %q, %v", fr.calls, err)
	}
	st, _ := Status(context.Background(), "launchd", p.Dir, m)
	if len(st) != 1 || st[0].Active != "running" || st[0].LastResult != "0" {
		t.Errorf("status %+v", st)
	}
	if r, err := Uninstall(context.Background(), "launchd", p.Dir, m); err != nil || len(r.Removed) != 1 || !contains(fr.calls, "launchctl bootout gui/501/dev.icevault.agent") {
		t.Fatalf("uninstall %+v %v %q", r, err, fr.calls)
	}
}

func contains(calls []string, c string) bool {
	for _, x := range calls {
		if x == c {
			return true
		}
	}
	return false
}
