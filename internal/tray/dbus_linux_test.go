package tray

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"image/color"
	"image/png"
	"path/filepath"
	"strings"
	"testing"
	"time"

	dbus "github.com/godbus/dbus/v5"

	"github.com/icevault/icevault/internal/testenv/desktop"
)

// The tray for real: systray exports its StatusNotifierItem and dbusmenu on
// a private session bus, a watcher stand-in takes its registration, and the
// test reads and clicks it through D-Bus exactly as a panel (the host) does.
// systray is a process-wide singleton, so the test body runs once, in a
// child process under dbus-run-session.

const (
	itemIface = desktop.ItemIface
	waitFor   = desktop.Wait
)

func TestTrayOverDBus(t *testing.T) {
	if desktop.InPrivateSession(t) {
		trayOverDBus(t)
	}
}

// With no session bus at all, Run says headless before touching systray.
func TestRunWithoutSessionBus(t *testing.T) {
	t.Setenv("DBUS_SESSION_BUS_ADDRESS", "unix:path="+filepath.Join(t.TempDir(), "no-bus"))
	tr, err := Run(t.Context(), Options{})
	if !errors.Is(err, ErrHeadless) || tr != nil {
		t.Fatalf("Run = %v, %v; want ErrHeadless", tr, err)
	}
	if !strings.Contains(err.Error(), "no D-Bus session bus") {
		t.Errorf("error %q does not say why", err)
	}
	called := false
	err = Main(t.Context(), Options{}, func(context.Context, *Tray) error { called = true; return nil })
	if !errors.Is(err, ErrHeadless) || called {
		t.Errorf("Main = %v (body called: %v); want ErrHeadless without calling body", err, called)
	}
}

func trayOverDBus(t *testing.T) {
	ctx, cancel := context.WithTimeout(t.Context(), time.Minute)
	defer cancel()

	// 1. A bus with no watcher is headless.
	if err := Probe(ctx); !errors.Is(err, ErrHeadless) || !strings.Contains(err.Error(), watcherName) {
		t.Fatalf("Probe with no watcher = %v, want ErrHeadless naming %s", err, watcherName)
	}

	// 2. A watcher but no host (no panel) is headless too.
	w := desktop.StartWatcher(t)
	if err := Probe(ctx); !errors.Is(err, ErrHeadless) || !strings.Contains(err.Error(), "StatusNotifierHost") {
		t.Fatalf("Probe with no host = %v, want ErrHeadless about the host", err)
	}
	w.SetHostRegistered(true)
	if err := Probe(ctx); err != nil {
		t.Fatalf("Probe with watcher and host: %v", err)
	}

	// 3. The tray comes up and registers.
	actions := make(chan Action, 16)
	trayCtx, stopTray := context.WithCancel(ctx)
	defer stopTray()
	tr, err := Run(trayCtx, Options{
		OnAction: func(a Action) { actions <- a },
		Initial:  State{LastBackup: "today 09:12", LastResult: "ok", NextRun: "today 21:00"},
	})
	if err != nil {
		t.Fatalf("Run: %v", err)
	}
	reg := w.WaitRegistration(t)
	if reg.Service != "/StatusNotifierItem" {
		t.Errorf("registered service %q, want the item path", reg.Service)
	}
	h := desktop.NewHost(t, reg.Sender)

	// 4. Idle, as a host sees it.
	if id := h.Prop(t, "Id").(string); id != appID {
		t.Errorf("Id %q, want %q (stable, whatever the state)", id, appID)
	}
	if s := h.Prop(t, "Status").(string); s != "Active" {
		t.Errorf("Status %q, want Active", s)
	}
	checkIcon(t, h, IconIdle)
	h.CheckTitle(t, "icevault: Idle", "Last backup: today 09:12 — ok")
	menu := h.Layout(t)
	menu.Check(t, "Idle", true, false)
	menu.Check(t, "Last backup: today 09:12 — ok", true, false)
	menu.Check(t, "Next run: today 21:00", true, false)
	menu.Check(t, LabelLogIn, false, false)
	menu.Check(t, LabelBackupNow, true, true)
	menu.Check(t, LabelPause, true, true)
	menu.Check(t, LabelRestores, false, false)
	menu.Check(t, LabelOpenDashboard, true, true)
	menu.Check(t, LabelQuit, true, true)
	if got, want := menu.VisibleLabels(), []string{"Idle", "Last backup: today 09:12 — ok", "Next run: today 21:00", "-",
		LabelBackupNow, LabelPause, "-", LabelOpenDashboard, "-", LabelQuit}; fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("visible menu %q, want %q", got, want)
	}

	// 5. "Back up now" clicked the way a host clicks.
	h.Click(t, menu.ID(t, LabelBackupNow))
	expectAction(t, actions, Action{Kind: ActionBackupNow})

	// 6. Login required: new icon (announced with NewIcon), the login item
	// appears, "Back up now" greys out.
	tr.Set(State{Mode: ModeLoginRequired, LastBackup: "today 09:12", LastResult: "paused: login required"})
	h.ExpectSignal(t, "NewIcon")
	checkIcon(t, h, IconLoginRequired)
	h.CheckTitle(t, "icevault: AWS login required", "AWS login required")
	menu = h.Layout(t)
	menu.Check(t, "AWS login required", true, false)
	menu.Check(t, "Next run: after you log in", true, false)
	menu.Check(t, LabelLogIn, true, true)
	menu.Check(t, LabelBackupNow, true, false)

	// A click on the disabled "Back up now" is not reported; "Log in" is.
	h.Click(t, menu.ID(t, LabelBackupNow))
	h.Click(t, menu.ID(t, LabelLogIn))
	expectAction(t, actions, Action{Kind: ActionLogIn})
	h.Click(t, menu.ID(t, LabelOpenDashboard))
	expectAction(t, actions, Action{Kind: ActionOpenDashboard})

	// 7. Paused: Resume replaces Pause; a restore job is listed with its
	// underscore escaped for dbusmenu, and opens by ID.
	tr.Set(State{Mode: ModePaused, Restores: []RestoreJob{{ID: "job-42", Label: "old_photos — thawing"}}})
	checkIcon(t, h, IconPaused)
	menu = h.Layout(t)
	menu.Check(t, LabelResume, true, true)
	menu.Check(t, LabelRestores, true, false)
	menu.Check(t, "old__photos — thawing", true, true)
	if menu.Has(LabelPause) {
		t.Error(`"Pause" still in the menu while paused`)
	}
	h.Click(t, menu.ID(t, LabelResume))
	expectAction(t, actions, Action{Kind: ActionResume})
	h.Click(t, menu.ID(t, "old__photos — thawing"))
	expectAction(t, actions, Action{Kind: ActionOpenRestore, Restore: "job-42"})

	// 8. Backing up and error states reach the bus too.
	tr.Set(State{Mode: ModeBackingUp, Percent: 42})
	checkIcon(t, h, IconBackingUp)
	h.CheckTitle(t, "icevault: Backing up… 42%", "Backing up… 42%")
	tr.Set(State{Mode: ModeError, Detail: "access denied"})
	checkIcon(t, h, IconError)
	h.Layout(t).Check(t, "Error: access denied", true, false)

	select {
	case a := <-actions:
		t.Errorf("unexpected action %+v (a disabled item's click leaked?)", a)
	default:
	}

	// 9. Taken down with its context: the item leaves the bus, and the
	// singleton refuses a second start.
	stopTray()
	select {
	case <-tr.Done():
	case <-time.After(waitFor):
		t.Fatal("Done not closed after the context ended")
	}
	deadline := time.Now().Add(waitFor)
	for h.OnBus(t) {
		if time.Now().After(deadline) {
			t.Fatal("the item's connection is still on the bus after the tray stopped")
		}
		time.Sleep(20 * time.Millisecond)
	}
	if _, err := Run(ctx, Options{}); !errors.Is(err, ErrAlreadyRunning) {
		t.Errorf("second Run = %v, want ErrAlreadyRunning", err)
	}
}

// checkIcon compares IconPixmap (ARGB32, network byte order) with the
// embedded PNG for want: size, and every opaque pixel's colour (edge pixels
// are antialiased, and systray premultiplies them).
func checkIcon(t *testing.T, h *desktop.Host, want Icon) {
	t.Helper()
	var pixmaps []struct {
		W, H int32
		Pix  []byte
	}
	v, err := h.Item.GetProperty(itemIface + ".IconPixmap")
	if err != nil {
		t.Fatal(err)
	}
	if err := dbus.Store([]any{v.Value()}, &pixmaps); err != nil {
		t.Fatalf("IconPixmap %v: %v", v.Signature(), err)
	}
	if len(pixmaps) != 1 {
		t.Fatalf("%d pixmaps, want 1", len(pixmaps))
	}
	b, _ := IconPNG(want, false)
	img, err := png.Decode(bytes.NewReader(b))
	if err != nil {
		t.Fatal(err)
	}
	px := pixmaps[0]
	r := img.Bounds()
	if int(px.W) != r.Dx() || int(px.H) != r.Dy() || len(px.Pix) != 4*r.Dx()*r.Dy() {
		t.Fatalf("pixmap %dx%d (%d bytes), want the %v icon's %v", px.W, px.H, len(px.Pix), want, r)
	}
	opaque := 0
	for y := range r.Dy() {
		for x := range r.Dx() {
			c := color.NRGBAModel.Convert(img.At(r.Min.X+x, r.Min.Y+y)).(color.NRGBA)
			i := 4 * (y*r.Dx() + x)
			got := px.Pix[i : i+4]
			if got[0] != c.A {
				t.Fatalf("pixel %d,%d alpha %d, want %d: not the %v icon", x, y, got[0], c.A, want)
			}
			if c.A == 0xff {
				opaque++
				if got[1] != c.R || got[2] != c.G || got[3] != c.B {
					t.Fatalf("pixel %d,%d ARGB % x, want %v: not the %v icon", x, y, got, c, want)
				}
			}
		}
	}
	if opaque < 100 {
		t.Fatalf("only %d opaque pixels compared", opaque)
	}
}

func expectAction(t *testing.T, actions <-chan Action, want Action) {
	t.Helper()
	select {
	case a := <-actions:
		if a != want {
			t.Fatalf("OnAction got %+v, want %+v", a, want)
		}
	case <-time.After(waitFor):
		t.Fatalf("OnAction never got %+v", want)
	}
}
