package main

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/icevault/icevault/internal/auth"
	"github.com/icevault/icevault/internal/testenv/desktop"
	"github.com/icevault/icevault/internal/tray"
)

// TestAgentTrayAndNotifications is the agent on a Linux desktop, over a
// private D-Bus session: a StatusNotifierWatcher stand-in takes the tray
// item's registration and the test reads and clicks its menu as a panel
// does; a notification server stand-in records what the agent says and
// invokes its "Log in" action as a user would. The login is the AWS CLI's
// (`[agent] login_with = "aws-cli"`), played by a script that leaves a
// token in the SSO cache, as `aws sso login` does.
func TestAgentTrayAndNotifications(t *testing.T) {
	if !desktop.InPrivateSession(t) {
		return
	}
	addr := os.Getenv("DBUS_SESSION_BUS_ADDRESS")
	w := desktop.StartWatcher(t)
	w.SetHostRegistered(true)
	notes := desktop.StartNotificationServer(t, addr, "actions", "body")

	e := newAgentEnv(t)
	e.login(t)
	mustRun(t, "init", "--bucket", "agent-bucket", "--region", "us-east-1", "--endpoint", e.sim.URL, "--source", e.src)
	os.Remove(e.cache) // logged out
	cfgPath := filepath.Join(os.Getenv("XDG_CONFIG_HOME"), "icevault", "config.toml")
	cfg, err := os.ReadFile(cfgPath)
	if err != nil {
		t.Fatal(err)
	}
	os.WriteFile(cfgPath, append(cfg, "\n[agent]\nlogin_with = \"aws-cli\"\n"...), 0o600)

	// `aws`, as far as `aws sso login --profile P` goes: it records how it
	// was called and leaves a valid token in the cache.
	bin := t.TempDir()
	awsLog := filepath.Join(bin, "aws.log")
	tokenSrc := filepath.Join(bin, "token.json")
	os.WriteFile(filepath.Join(bin, "aws"), []byte(`#!/bin/sh
echo "$@" >> "$ICEVAULT_TEST_AWS_LOG"
mkdir -p "$(dirname "$ICEVAULT_TEST_TOKEN_DST")"
cp "$ICEVAULT_TEST_TOKEN_SRC" "$ICEVAULT_TEST_TOKEN_DST.tmp" && mv "$ICEVAULT_TEST_TOKEN_DST.tmp" "$ICEVAULT_TEST_TOKEN_DST"
`), 0o755)
	t.Setenv("PATH", bin+string(os.PathListSeparator)+os.Getenv("PATH"))
	t.Setenv("ICEVAULT_TEST_AWS_LOG", awsLog)
	t.Setenv("ICEVAULT_TEST_TOKEN_SRC", tokenSrc)
	t.Setenv("ICEVAULT_TEST_TOKEN_DST", e.cache)
	prepareLogin := func() {
		t.Helper()
		cache := e.cache
		e.cache = tokenSrc
		e.login(t) // a token the portal knows, waiting for `aws` to copy it
		e.cache = cache
	}
	awsCalls := func() []string {
		b, _ := os.ReadFile(awsLog)
		return strings.Split(strings.TrimSpace(string(b)), "\n")
	}

	ag := runAgent(t) // with the tray: the session bus is there
	h := desktop.NewHost(t, w.WaitRegistration(t).Sender)
	h.WaitTitle(t, "icevault: Idle")
	menu := h.Layout(t)
	menu.Check(t, "Last backup: never", true, false)
	menu.Check(t, tray.LabelLogIn, false, false)
	menu.Check(t, tray.LabelBackupNow, true, true)

	// "Back up now" with no login: the icon and menu say so, and one
	// notification offers "Log in".
	h.Click(t, menu.ID(t, tray.LabelBackupNow))
	h.WaitTitle(t, "icevault: AWS login required")
	menu = h.Layout(t)
	menu.Check(t, "Next run: after you log in", true, false)
	menu.Check(t, tray.LabelLogIn, true, true)
	menu.Check(t, tray.LabelBackupNow, true, false)
	note := notes.WaitCall(t, "AWS login required")
	if !slices.Contains(note.Actions, "login") || !slices.Contains(note.Actions, "Log in") {
		t.Fatalf("login notification without a Log in action: %+v", note)
	}
	if n := e.sim.Counts()["PutObject"]; n != 1 { // the repository's config object, from init
		t.Fatalf("%d PUTs before the login", n)
	}

	// The notification's "Log in": the agent runs `aws sso login`, the
	// token appears, and the held backup runs by itself.
	prepareLogin()
	notes.Emit(desktop.SigActions, note.ID, "login")
	done := notes.WaitCall(t, "Backup of default finished")
	if got := awsCalls(); len(got) != 1 || got[0] != "sso login --profile icevault" {
		t.Fatalf("aws called as %q", got)
	}
	h.WaitTitle(t, "icevault: Idle")
	if !strings.Contains(done.Body, "3 new") {
		t.Errorf("finished notification body %q", done.Body)
	}
	if l := h.Layout(t); !strings.HasPrefix(l.VisibleLabels()[1], "Last backup: today") {
		t.Errorf("menu after the backup: %q", l.VisibleLabels())
	}

	// Logged out again: this time the menu's "Log in to AWS…".
	os.Remove(e.cache)
	os.WriteFile(filepath.Join(e.src, "a", "new.txt"), []byte("one more file"), 0o644)
	h.Click(t, h.Layout(t).ID(t, tray.LabelBackupNow))
	h.WaitTitle(t, "icevault: AWS login required")
	prepareLogin()
	h.Click(t, h.Layout(t).ID(t, tray.LabelLogIn))
	// The held run goes on after the login (its "finished" notification
	// is within the hour's limit, so watch the catalog instead).
	deadline := time.Now().Add(30 * time.Second)
	for len(jsonLines(t, mustRun(t, "snapshots", "--json"))) != 2 {
		if time.Now().After(deadline) {
			t.Fatalf("no second snapshot after logging in from the menu\n%s", ag.logs)
		}
		time.Sleep(50 * time.Millisecond)
	}
	h.WaitTitle(t, "icevault: Idle")
	if got := awsCalls(); len(got) != 2 {
		t.Fatalf("aws called %d times, want 2: %q", len(got), got)
	}
	if _, err := auth.ReadToken(e.cache); err != nil {
		t.Errorf("token cache after the login: %v", err)
	}

	// Pause and Resume from the menu; Quit ends the agent.
	h.Click(t, h.Layout(t).ID(t, tray.LabelPause))
	h.WaitTitle(t, "icevault: Paused")
	h.Layout(t).Check(t, "Next run: paused", true, false)
	h.Click(t, h.Layout(t).ID(t, tray.LabelResume))
	h.WaitTitle(t, "icevault: Idle")
	h.Click(t, h.Layout(t).ID(t, tray.LabelQuit))
	if code, exited := ag.wait(30 * time.Second); !exited || code != 0 {
		t.Fatalf("Quit: exited %v, code %d\n%s", exited, code, ag.logs)
	}
}
