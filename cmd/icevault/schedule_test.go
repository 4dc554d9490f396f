package main

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/icevault/icevault/internal/config"
	"github.com/icevault/icevault/internal/schedule"
)

// scheduleFake stands in for systemctl/launchctl.
type scheduleFake struct {
	calls []string
	fail  func(cmd string) error
}

func (f *scheduleFake) Run(_ context.Context, name string, args ...string) (string, error) {
	cmd := name + " " + strings.Join(args, " ")
	f.calls = append(f.calls, cmd)
	if f.fail != nil {
		if err := f.fail(cmd); err != nil {
			return "", err
		}
	}
	if strings.Contains(cmd, " show ") {
		return "UnitFileState=enabled\nActiveState=waiting\nNextElapseUSecRealtime=Sat 2026-12-05 02:30:00 UTC\nResult=success\n", nil
	}
	return "", nil
}

// scheduleEnv gives the CLI a temp home, a config with two scheduled
// repositories and one manual one, a fake service manager and a fixed
// binary path.
func scheduleEnv(t *testing.T) (*scheduleFake, string) {
	t.Helper()
	home := t.TempDir()
	t.Setenv("HOME", home)
	t.Setenv("XDG_CONFIG_HOME", filepath.Join(home, ".config"))
	cfg := filepath.Join(home, "cfg", "config.toml")
	t.Setenv("ICEVAULT_CONFIG", cfg)
	if err := config.Save(cfg, &config.File{Repositories: map[string]*config.Repository{
		"main":   {Bucket: "my-bucket", Region: "eu-west-1", Credentials: "keychain", Schedule: "daily 02:30"},
		"photos": {Bucket: "my-bucket", Region: "eu-west-1", Schedule: "every 6h"},
		"manual": {Bucket: "my-bucket", Region: "eu-west-1", Credentials: "keychain"},
	}}); err != nil {
		t.Fatal(err)
	}
	fake := &scheduleFake{}
	oldRunner, oldExe := scheduleRunner, scheduleExecutable
	bin := filepath.Join(home, "bin", "icevault")
	os.MkdirAll(filepath.Dir(bin), 0o755)
	os.WriteFile(bin, []byte("#!/bin/sh\n"), 0o755)
	scheduleRunner, scheduleExecutable = fake, func() (string, error) { return bin, nil }
	t.Cleanup(func() { scheduleRunner, scheduleExecutable = oldRunner, oldExe })
	return fake, home
}

func TestCLIScheduleSystemd(t *testing.T) {
	fake, home := scheduleEnv(t)
	unitDir := filepath.Join(home, ".config", "systemd", "user")

	out, stderr, code := runCLI(t, "schedule", "install", "--platform", "systemd")
	if code != exitOK || !strings.Contains(out, "enabled   icevault-agent.service") {
		t.Fatalf("install: exit %d\n%s%s", code, out, stderr)
	}
	unit, err := os.ReadFile(filepath.Join(unitDir, schedule.AgentUnit))
	if err != nil || !strings.Contains(string(unit), "ExecStart="+filepath.Join(home, "bin", "icevault")+" --config "+filepath.Join(home, "cfg", "config.toml")+" agent\n") {
		t.Fatalf("agent unit: %v\n%s", err, unit)
	}
	if out, _, code = runCLI(t, "schedule", "install", "--platform", "systemd"); code != exitOK || !strings.Contains(out, "unchanged") || strings.Contains(out, "wrote") {
		t.Fatalf("re-install: exit %d\n%s", code, out)
	}

	out, stderr, code = runCLI(t, "schedule", "install", "--unattended", "--platform", "systemd")
	if code != exitOK || !strings.Contains(out, "removed   "+filepath.Join(unitDir, schedule.AgentUnit)) {
		t.Fatalf("install --unattended: exit %d\n%s%s", code, out, stderr)
	}
	if !strings.Contains(stderr, `repository "photos" uses an AWS profile`) {
		t.Errorf("no note about the SSO repository: %q", stderr)
	}
	for _, n := range []string{schedule.BackupTemplate, "icevault-backup@main.timer", "icevault-backup@photos.timer"} {
		if _, err := os.Stat(filepath.Join(unitDir, n)); err != nil {
			t.Error(err)
		}
	}
	if _, err := os.Stat(filepath.Join(unitDir, "icevault-backup@manual.timer")); err == nil {
		t.Error("a manual repository got a timer")
	}
	if !scheduleContains(fake.calls, "systemctl --user enable --now icevault-backup@main.timer") {
		t.Errorf("calls %q", fake.calls)
	}

	out, _, code = runCLI(t, "schedule", "status", "--platform", "systemd")
	if code != exitOK || !strings.Contains(out, "icevault-backup@main.timer") || !strings.Contains(out, "next run: Sat 2026-12-05 02:30:00 UTC") {
		t.Fatalf("status: exit %d\n%s", code, out)
	}

	if out, _, code = runCLI(t, "schedule", "uninstall", "--platform", "systemd"); code != exitOK || strings.Count(out, "removed ") != 3 {
		t.Fatalf("uninstall: exit %d\n%s", code, out)
	}
	if out, _, code = runCLI(t, "schedule", "uninstall", "--platform", "systemd"); code != exitOK || !strings.Contains(out, "nothing installed") {
		t.Fatalf("second uninstall: exit %d\n%s", code, out)
	}
	if out, _, code = runCLI(t, "schedule", "status", "--platform", "systemd"); code != exitOK || !strings.Contains(out, "not installed") {
		t.Fatalf("status after uninstall: exit %d\n%s", code, out)
	}
}

func TestCLIScheduleNoUserBus(t *testing.T) {
	fake, home := scheduleEnv(t)
	fake.fail = func(cmd string) error {
		return &schedule.RunError{Cmd: cmd, Stderr: "Failed to connect to bus: No medium found", Err: fmt.Errorf("exit status 1")}
	}
	out, stderr, code := runCLI(t, "schedule", "install", "--platform", "systemd")
	if code != exitError || !strings.Contains(stderr, "systemctl --user enable --now icevault-agent.service") || !strings.Contains(out, "wrote") {
		t.Fatalf("exit %d\n%s%s", code, out, stderr)
	}
	if _, err := os.Stat(filepath.Join(home, ".config", "systemd", "user", schedule.AgentUnit)); err != nil {
		t.Error(err)
	}
}

func TestCLIScheduleDryRunLaunchd(t *testing.T) {
	fake, home := scheduleEnv(t)
	out, stderr, code := runCLI(t, "schedule", "install", "--unattended", "--dry-run", "--platform", "launchd")
	if code != exitOK {
		t.Fatalf("exit %d\n%s%s", code, out, stderr)
	}
	out = strings.ReplaceAll(out, home, "$HOME")
	for _, want := range []string{
		"# $HOME/Library/LaunchAgents/dev.icevault.backup.main.plist",
		"<string>$HOME/bin/icevault</string>",
		"<key>StartCalendarInterval</key>",
		"<key>StartInterval</key>\n\t\t<integer>21600</integer>",
		"<string>$HOME/Library/Logs/icevault/backup.photos.log</string>",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("dry run lacks %q:\n%s", want, out)
		}
	}
	if len(fake.calls) != 0 {
		t.Errorf("dry run ran %q", fake.calls)
	}
	if _, err := os.Stat(filepath.Join(home, "Library")); err == nil {
		t.Error("dry run wrote files")
	}
	if _, _, code := runCLI(t, "schedule", "install", "--platform", "upstart"); code != exitUsage {
		t.Errorf("--platform upstart: exit %d", code)
	}
}

func scheduleContains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}
