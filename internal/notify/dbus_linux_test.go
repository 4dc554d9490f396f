package notify

import (
	"errors"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/icevault/icevault/internal/testenv/desktop"
)

// These tests run a private dbus-daemon per test and a notification-server
// stand-in on it, and point the notifier at it through
// DBUS_SESSION_BUS_ADDRESS, so a developer's desktop is never involved.

// openTest opens the notifier on the private bus with events on a channel.
func openTest(t *testing.T) (System, chan Event, *[]string) {
	t.Helper()
	events := make(chan Event, 16)
	var mu sync.Mutex
	var logs []string
	sys, err := Open(SystemOptions{
		OnEvent: func(e Event) { events <- e },
		Logf: func(f string, a ...any) {
			mu.Lock()
			defer mu.Unlock()
			logs = append(logs, f)
		},
	})
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	t.Cleanup(func() {
		if err := sys.Close(); err != nil {
			t.Errorf("Close: %v", err)
		}
	})
	return sys, events, &logs
}

func waitEvent(t *testing.T, events <-chan Event) Event {
	t.Helper()
	select {
	case e := <-events:
		return e
	case <-time.After(10 * time.Second):
		t.Fatal("no event delivered")
		return Event{}
	}
}

func noEvent(t *testing.T, events <-chan Event) {
	t.Helper()
	select {
	case e := <-events:
		t.Fatalf("unexpected event %+v", e)
	case <-time.After(300 * time.Millisecond):
	}
}

func TestDBusSendsEachKind(t *testing.T) {
	addr := desktop.PrivateBus(t)
	srv := desktop.StartNotificationServer(t, addr, "actions", "body")
	sys, _, _ := openTest(t)
	if !sys.ActionsSupported() {
		t.Fatal("ActionsSupported = false with a server that has actions")
	}
	tests := []struct {
		n       Notification
		urgency byte
		timeout int32
		actions []string
	}{
		{Notification{Kind: BackupFinished, Title: "Backup finished", Body: "photos: 12 files, 40 MiB", Group: "photos",
			Actions: []Action{ActionOpen}}, 0, 10000, []string{"default", "Open dashboard", "open", "Open dashboard"}},
		{Notification{Kind: BackupFailed, Title: "Backup failed", Body: "photos: disk full. Free space and retry.", Group: "photos"},
			2, 0, []string{}},
		{Notification{Kind: LoginRequired, Title: "AWS login required", Body: "Profile icevault: the SSO session expired.",
			Actions: []Action{ActionLogin, ActionOpen}}, 2, 0,
			[]string{"default", "Log in", "login", "Log in", "open", "Open dashboard"}},
		{Notification{Kind: RestoreReady, Title: "Restore ready", Body: "job 7: downloading", Group: "7"}, 1, -1, []string{}},
		{Notification{Kind: RestoreComplete, Title: "Restore complete", Body: "job 7: 3 files", Group: "7"}, 1, -1, []string{}},
	}
	for i, tt := range tests {
		id, err := sys.Notify(t.Context(), tt.n)
		if err != nil {
			t.Fatalf("%s: Notify: %v", tt.n.Kind, err)
		}
		calls := srv.Calls()
		if len(calls) != i+1 {
			t.Fatalf("%s: server got %d calls, want %d", tt.n.Kind, len(calls), i+1)
		}
		c := calls[i]
		if ID(c.ID) != id || id == 0 {
			t.Errorf("%s: id %d, server assigned %d", tt.n.Kind, id, c.ID)
		}
		if c.App != "icevault" || c.Icon != DefaultIcon || c.Summary != tt.n.Title || c.Body != tt.n.Body || c.Replaces != 0 {
			t.Errorf("%s: got app %q icon %q summary %q body %q replaces %d", tt.n.Kind, c.App, c.Icon, c.Summary, c.Body, c.Replaces)
		}
		if !slices.Equal(c.Actions, tt.actions) {
			t.Errorf("%s: actions %q, want %q", tt.n.Kind, c.Actions, tt.actions)
		}
		if u, ok := c.Hints["urgency"].Value().(byte); !ok || u != tt.urgency {
			t.Errorf("%s: urgency hint %v, want byte %d", tt.n.Kind, c.Hints["urgency"], tt.urgency)
		}
		if c.Timeout != tt.timeout {
			t.Errorf("%s: expire timeout %d, want %d", tt.n.Kind, c.Timeout, tt.timeout)
		}
		if de, _ := c.Hints["desktop-entry"].Value().(string); de != "icevault" {
			t.Errorf("%s: desktop-entry hint %q", tt.n.Kind, de)
		}
	}
	if _, err := sys.Notify(t.Context(), Notification{Kind: 99, Title: "x"}); err == nil {
		t.Error("unknown kind accepted")
	}
}

func TestDBusReplacesPerTopic(t *testing.T) {
	addr := desktop.PrivateBus(t)
	srv := desktop.StartNotificationServer(t, addr, "actions")
	sys, events, _ := openTest(t)
	login := Notification{Kind: LoginRequired, Title: "AWS login required", Actions: []Action{ActionLogin}}
	first, err := sys.Notify(t.Context(), login)
	if err != nil {
		t.Fatal(err)
	}
	second, err := sys.Notify(t.Context(), login)
	if err != nil {
		t.Fatal(err)
	}
	if second != first {
		t.Errorf("repeated login required got id %d, want it to replace %d", second, first)
	}
	restoreA, _ := sys.Notify(t.Context(), Notification{Kind: RestoreReady, Title: "ready", Group: "a"})
	restoreB, _ := sys.Notify(t.Context(), Notification{Kind: RestoreReady, Title: "ready", Group: "b"})
	calls := srv.Calls()
	if len(calls) != 4 {
		t.Fatalf("%d calls", len(calls))
	}
	if calls[0].Replaces != 0 || calls[1].Replaces != uint32(first) {
		t.Errorf("replaces_id %d then %d, want 0 then %d", calls[0].Replaces, calls[1].Replaces, first)
	}
	if calls[2].Replaces != 0 || calls[3].Replaces != 0 || restoreA == restoreB {
		t.Errorf("restore jobs a and b share a notification: replaces %d %d, ids %d %d",
			calls[2].Replaces, calls[3].Replaces, restoreA, restoreB)
	}

	// Once the server closed it, the next one is new rather than a
	// replacement of something gone.
	if err := srv.Conn().Object(busName, busPath).Call(busIface+".CloseNotification", 0, uint32(first)).Err; err != nil {
		t.Fatal(err)
	}
	if e := waitEvent(t, events); !e.Closed || e.ID != first || e.Reason != ClosedByCall || e.Kind != LoginRequired {
		t.Fatalf("event %+v, want closed %d by call", e, first)
	}
	third, err := sys.Notify(t.Context(), login)
	if err != nil {
		t.Fatal(err)
	}
	if c := srv.Calls()[4]; c.Replaces != 0 || third == first {
		t.Errorf("after close: replaces %d, id %d (first %d)", c.Replaces, third, first)
	}
}

func TestDBusActionInvoked(t *testing.T) {
	addr := desktop.PrivateBus(t)
	srv := desktop.StartNotificationServer(t, addr, "actions", "body")
	sys, events, _ := openTest(t)
	id, err := sys.Notify(t.Context(), Notification{Kind: LoginRequired, Title: "AWS login required",
		Body: "Profile icevault", Actions: []Action{ActionLogin, ActionOpen}})
	if err != nil {
		t.Fatal(err)
	}
	other, err := sys.Notify(t.Context(), Notification{Kind: BackupFinished, Title: "done", Actions: []Action{ActionOpen}})
	if err != nil {
		t.Fatal(err)
	}

	// Noise first: another client faking a click, a malformed signal and
	// a click on another application's notification. None may arrive, and
	// none may crash the notifier.
	faker := desktop.Dial(t, addr)
	if err := faker.Emit(busPath, sigActions, uint32(id), "login"); err != nil {
		t.Fatal(err)
	}
	srv.Emit(sigActions, "login", uint32(id))
	srv.Emit(sigActions, uint32(id))
	srv.Emit(sigActions, uint32(9999), "login")
	srv.Emit(sigActions, uint32(id), "not-offered")

	srv.Emit(sigActions, uint32(id), "login")
	if e := waitEvent(t, events); e.Action != "login" || e.ID != id || e.Kind != LoginRequired || e.Closed {
		t.Fatalf("event %+v, want login on %d", e, id)
	}
	// A click on the body is the first action.
	srv.Emit(sigActions, uint32(other), "default")
	if e := waitEvent(t, events); e.Action != "open" || e.ID != other || e.Kind != BackupFinished {
		t.Fatalf("event %+v, want open on %d", e, other)
	}
	srv.Emit(sigClosed, uint32(id), uint32(ClosedDismissed))
	if e := waitEvent(t, events); !e.Closed || e.Reason != ClosedDismissed || e.ID != id {
		t.Fatalf("event %+v, want dismissed %d", e, id)
	}
	// Closed means forgotten: a late click on it is not delivered.
	srv.Emit(sigActions, uint32(id), "login")
	noEvent(t, events)
}

func TestDBusServerWithoutActions(t *testing.T) {
	addr := desktop.PrivateBus(t)
	srv := desktop.StartNotificationServer(t, addr, "body")
	sys, _, logs := openTest(t)
	if sys.ActionsSupported() {
		t.Fatal("ActionsSupported = true with a server lacking actions")
	}
	id, err := sys.Notify(t.Context(), Notification{Kind: LoginRequired, Title: "AWS login required",
		Actions: []Action{ActionLogin}})
	if err != nil || id == 0 {
		t.Fatalf("Notify: %d, %v", id, err)
	}
	c := srv.Calls()[0]
	if len(c.Actions) != 0 {
		t.Errorf("sent actions %q to a server without the capability", c.Actions)
	}
	if u, _ := c.Hints["urgency"].Value().(byte); u != 2 || c.Summary != "AWS login required" {
		t.Errorf("summary %q urgency %d", c.Summary, u)
	}
	if len(*logs) == 0 {
		t.Error("dropping actions was not reported to Logf")
	}
}

func TestDBusNoServer(t *testing.T) {
	desktop.PrivateBus(t)
	_, err := Open(SystemOptions{})
	var ue *UnavailableError
	if !errors.Is(err, ErrUnavailable) || !errors.As(err, &ue) {
		t.Fatalf("Open on a bus without a server: %v, want ErrUnavailable", err)
	}
}

func TestDBusServerGoesAway(t *testing.T) {
	addr := desktop.PrivateBus(t)
	srv := desktop.StartNotificationServer(t, addr, "actions")
	sys, _, _ := openTest(t)
	srv.Conn().Close()
	_, err := sys.Notify(t.Context(), Notification{Kind: BackupFailed, Title: "failed"})
	if !errors.Is(err, ErrUnavailable) {
		t.Fatalf("Notify after the server left: %v, want ErrUnavailable", err)
	}
}

func TestDBusNoBus(t *testing.T) {
	t.Setenv("DBUS_SESSION_BUS_ADDRESS", "unix:path="+filepath.Join(t.TempDir(), "no-bus"))
	_, err := Open(SystemOptions{})
	var ue *UnavailableError
	if !errors.Is(err, ErrUnavailable) || !errors.As(err, &ue) || ue.Err == nil {
		t.Fatalf("Open without a bus: %v, want *UnavailableError", err)
	}
	if !strings.Contains(err.Error(), "session bus") {
		t.Errorf("error %q does not say what was missing", err)
	}
}
