package tray

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"image/color"
	"image/png"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	dbus "github.com/godbus/dbus/v5"
	"github.com/godbus/dbus/v5/prop"

	"github.com/icevault/icevault/internal/testenv"
)

// The tray for real: systray exports its StatusNotifierItem and dbusmenu on
// a private session bus, a watcher stand-in takes its registration, and the
// test reads and clicks it through D-Bus exactly as a panel (the host) does.
// systray is a process-wide singleton, so the test body runs once, in a
// child process under dbus-run-session.

const (
	busChildEnv = "ICEVAULT_TRAY_TEST_BUS"
	dbusHint    = "apt-get install dbus"
	itemIface   = "org.kde.StatusNotifierItem"
	menuIface   = "com.canonical.dbusmenu"
	waitFor     = 10 * time.Second
)

// A bus with no service directories: nothing can be activated, so no real
// watcher or panel on the machine can answer in the stand-in's place.
const bareBusConfig = `<!DOCTYPE busconfig PUBLIC "-//freedesktop//DTD D-Bus Bus Configuration 1.0//EN"
 "http://www.freedesktop.org/standards/dbus/1.0/busconfig.dtd">
<busconfig>
  <type>session</type>
  <listen>unix:tmpdir=/tmp</listen>
  <auth>EXTERNAL</auth>
  <policy context="default">
    <allow send_destination="*" eavesdrop="true"/>
    <allow eavesdrop="true"/>
    <allow own="*"/>
  </policy>
</busconfig>
`

func TestTrayOverDBus(t *testing.T) {
	if os.Getenv(busChildEnv) == "1" {
		trayOverDBus(t)
		return
	}
	runSession := testenv.RequireTool(t, "dbus-run-session", dbusHint)
	testenv.RequireTool(t, "dbus-daemon", dbusHint)
	tmp := t.TempDir()
	conf := filepath.Join(tmp, "bus.conf")
	if err := os.WriteFile(conf, []byte(bareBusConfig), 0o600); err != nil {
		t.Fatal(err)
	}
	self, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(t.Context(), 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, runSession, "--config-file="+conf, "--",
		self, "-test.run=^"+t.Name()+"$", "-test.v", "-test.count=1")
	cmd.WaitDelay = 5 * time.Second
	cmd.Env = append(os.Environ(), busChildEnv+"=1", "DBUS_SESSION_BUS_ADDRESS=", "HOME="+tmp, "XDG_RUNTIME_DIR="+tmp)
	out, err := cmd.CombinedOutput()
	t.Logf("child on a private session bus:\n\t%s", strings.ReplaceAll(strings.TrimSpace(string(out)), "\n", "\n\t"))
	if err != nil {
		t.Fatalf("child failed: %v", err)
	}
	if !strings.Contains(string(out), "--- PASS: "+t.Name()+" ") {
		t.Fatalf("child did not run and pass %s", t.Name())
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
	w := startWatcher(t)
	if err := Probe(ctx); !errors.Is(err, ErrHeadless) || !strings.Contains(err.Error(), "StatusNotifierHost") {
		t.Fatalf("Probe with no host = %v, want ErrHeadless about the host", err)
	}
	w.props.SetMust(watcherIface, "IsStatusNotifierHostRegistered", true)
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
	var reg registration
	select {
	case reg = <-w.registered:
	case <-time.After(waitFor):
		t.Fatal("the tray never called RegisterStatusNotifierItem")
	}
	if reg.service != "/StatusNotifierItem" {
		t.Errorf("registered service %q, want the item path", reg.service)
	}
	h := newHost(t, reg.sender)

	// 4. Idle, as a host sees it.
	if id := h.prop(t, "Id").(string); id != appID {
		t.Errorf("Id %q, want %q (stable, whatever the state)", id, appID)
	}
	if s := h.prop(t, "Status").(string); s != "Active" {
		t.Errorf("Status %q, want Active", s)
	}
	h.checkIcon(t, IconIdle)
	h.checkTitle(t, "icevault: Idle", "Last backup: today 09:12 — ok")
	menu := h.layout(t)
	menu.check(t, "Idle", true, false)
	menu.check(t, "Last backup: today 09:12 — ok", true, false)
	menu.check(t, "Next run: today 21:00", true, false)
	menu.check(t, LabelLogIn, false, false)
	menu.check(t, LabelBackupNow, true, true)
	menu.check(t, LabelPause, true, true)
	menu.check(t, LabelRestores, false, false)
	menu.check(t, LabelOpenDashboard, true, true)
	menu.check(t, LabelQuit, true, true)
	if got, want := menu.visibleLabels(), []string{"Idle", "Last backup: today 09:12 — ok", "Next run: today 21:00", "-",
		LabelBackupNow, LabelPause, "-", LabelOpenDashboard, "-", LabelQuit}; fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("visible menu %q, want %q", got, want)
	}

	// 5. "Back up now" clicked the way a host clicks.
	h.click(t, menu.id(t, LabelBackupNow))
	expectAction(t, actions, Action{Kind: ActionBackupNow})

	// 6. Login required: new icon (announced with NewIcon), the login item
	// appears, "Back up now" greys out.
	tr.Set(State{Mode: ModeLoginRequired, LastBackup: "today 09:12", LastResult: "paused: login required"})
	h.expectSignal(t, "NewIcon")
	h.checkIcon(t, IconLoginRequired)
	h.checkTitle(t, "icevault: AWS login required", "AWS login required")
	menu = h.layout(t)
	menu.check(t, "AWS login required", true, false)
	menu.check(t, "Next run: after you log in", true, false)
	menu.check(t, LabelLogIn, true, true)
	menu.check(t, LabelBackupNow, true, false)

	// A click on the disabled "Back up now" is not reported; "Log in" is.
	h.click(t, menu.id(t, LabelBackupNow))
	h.click(t, menu.id(t, LabelLogIn))
	expectAction(t, actions, Action{Kind: ActionLogIn})
	h.click(t, menu.id(t, LabelOpenDashboard))
	expectAction(t, actions, Action{Kind: ActionOpenDashboard})

	// 7. Paused: Resume replaces Pause; a restore job is listed with its
	// underscore escaped for dbusmenu, and opens by ID.
	tr.Set(State{Mode: ModePaused, Restores: []RestoreJob{{ID: "job-42", Label: "old_photos — thawing"}}})
	h.checkIcon(t, IconPaused)
	menu = h.layout(t)
	menu.check(t, LabelResume, true, true)
	menu.check(t, LabelRestores, true, false)
	menu.check(t, "old__photos — thawing", true, true)
	if menu.has(LabelPause) {
		t.Error(`"Pause" still in the menu while paused`)
	}
	h.click(t, menu.id(t, LabelResume))
	expectAction(t, actions, Action{Kind: ActionResume})
	h.click(t, menu.id(t, "old__photos — thawing"))
	expectAction(t, actions, Action{Kind: ActionOpenRestore, Restore: "job-42"})

	// 8. Backing up and error states reach the bus too.
	tr.Set(State{Mode: ModeBackingUp, Percent: 42})
	h.checkIcon(t, IconBackingUp)
	h.checkTitle(t, "icevault: Backing up… 42%", "Backing up… 42%")
	tr.Set(State{Mode: ModeError, Detail: "access denied"})
	h.checkIcon(t, IconError)
	h.layout(t).check(t, "Error: access denied", true, false)

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
	for h.senderOnBus(t) {
		if time.Now().After(deadline) {
			t.Fatal("the item's connection is still on the bus after the tray stopped")
		}
		time.Sleep(20 * time.Millisecond)
	}
	if _, err := Run(ctx, Options{}); !errors.Is(err, ErrAlreadyRunning) {
		t.Errorf("second Run = %v, want ErrAlreadyRunning", err)
	}
}

// --- the watcher stand-in ---------------------------------------------------

type registration struct{ sender, service string }

type watcher struct {
	registered chan registration
	props      *prop.Properties
}

func (w *watcher) RegisterStatusNotifierItem(sender dbus.Sender, service string) *dbus.Error {
	w.registered <- registration{string(sender), service}
	return nil
}

func (w *watcher) RegisterStatusNotifierHost(string) *dbus.Error { return nil }

func startWatcher(t *testing.T) *watcher {
	t.Helper()
	conn, err := dbus.ConnectSessionBus()
	if err != nil {
		t.Fatalf("watcher: %v", err)
	}
	t.Cleanup(func() { conn.Close() })
	w := &watcher{registered: make(chan registration, 4)}
	if err := conn.Export(w, watcherPath, watcherIface); err != nil {
		t.Fatal(err)
	}
	w.props, err = prop.Export(conn, watcherPath, map[string]map[string]*prop.Prop{watcherIface: {
		"RegisteredStatusNotifierItems":  {Value: []string{}, Emit: prop.EmitTrue},
		"IsStatusNotifierHostRegistered": {Value: false, Emit: prop.EmitTrue},
		"ProtocolVersion":                {Value: int32(0), Emit: prop.EmitTrue},
	}})
	if err != nil {
		t.Fatal(err)
	}
	reply, err := conn.RequestName(watcherName, dbus.NameFlagDoNotQueue)
	if err != nil || reply != dbus.RequestNameReplyPrimaryOwner {
		t.Fatalf("watcher: owning %s: %v (reply %v)", watcherName, err, reply)
	}
	return w
}

// --- the host's view ---------------------------------------------------------

type host struct {
	conn    *dbus.Conn
	sender  string
	item    dbus.BusObject
	menu    dbus.BusObject
	signals chan *dbus.Signal
}

func newHost(t *testing.T, sender string) *host {
	t.Helper()
	conn, err := dbus.ConnectSessionBus()
	if err != nil {
		t.Fatalf("host: %v", err)
	}
	t.Cleanup(func() { conn.Close() })
	h := &host{conn: conn, sender: sender, item: conn.Object(sender, "/StatusNotifierItem"), signals: make(chan *dbus.Signal, 64)}
	if err := conn.AddMatchSignal(dbus.WithMatchSender(sender), dbus.WithMatchInterface(itemIface)); err != nil {
		t.Fatal(err)
	}
	conn.Signal(h.signals)
	menuPath, ok := h.prop(t, "Menu").(dbus.ObjectPath)
	if !ok || !menuPath.IsValid() {
		t.Fatalf("Menu property %v is not an object path", h.prop(t, "Menu"))
	}
	h.menu = conn.Object(sender, menuPath)
	return h
}

func (h *host) prop(t *testing.T, name string) any {
	t.Helper()
	v, err := h.item.GetProperty(itemIface + "." + name)
	if err != nil {
		t.Fatalf("reading %s: %v", name, err)
	}
	return v.Value()
}

func (h *host) checkTitle(t *testing.T, title, tooltipHas string) {
	t.Helper()
	if got := h.prop(t, "Title").(string); got != title {
		t.Errorf("Title %q, want %q", got, title)
	}
	// ToolTip is (icon name, icon pixmaps, title, description).
	var tip struct {
		Name    string
		Pixmaps []struct {
			W, H int32
			Pix  []byte
		}
		Title, Body string
	}
	v, err := h.item.GetProperty(itemIface + ".ToolTip")
	if err != nil {
		t.Fatal(err)
	}
	if err := dbus.Store([]any{v.Value()}, &tip); err != nil {
		t.Fatalf("ToolTip %v: %v", v, err)
	}
	if !strings.Contains(tip.Title, tooltipHas) {
		t.Errorf("ToolTip title %q lacks %q", tip.Title, tooltipHas)
	}
}

// checkIcon compares IconPixmap (ARGB32, network byte order) with the
// embedded PNG for want: size, and every opaque pixel's colour (edge pixels
// are antialiased, and systray premultiplies them).
func (h *host) checkIcon(t *testing.T, want Icon) {
	t.Helper()
	var pixmaps []struct {
		W, H int32
		Pix  []byte
	}
	v, err := h.item.GetProperty(itemIface + ".IconPixmap")
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

func (h *host) expectSignal(t *testing.T, member string) {
	t.Helper()
	timeout := time.After(waitFor)
	for {
		select {
		case s := <-h.signals:
			if s.Name == itemIface+"."+member {
				return
			}
		case <-timeout:
			t.Fatalf("no %s signal", member)
		}
	}
}

func (h *host) click(t *testing.T, id int32) {
	t.Helper()
	if err := h.menu.Call(menuIface+".Event", 0, id, "clicked", dbus.MakeVariant(""), uint32(time.Now().Unix())).Err; err != nil {
		t.Fatalf("Event(%d, clicked): %v", id, err)
	}
}

func (h *host) senderOnBus(t *testing.T) bool {
	t.Helper()
	var has bool
	if err := h.conn.BusObject().Call("org.freedesktop.DBus.NameHasOwner", 0, h.sender).Store(&has); err != nil {
		t.Fatal(err)
	}
	return has
}

type menuEntry struct {
	id               int32
	label            string
	separator        bool
	visible, enabled bool
}

type layout []menuEntry

// layout reads the whole menu with GetLayout(0, -1, all properties).
func (h *host) layout(t *testing.T) layout {
	t.Helper()
	var rev uint32
	var root struct {
		ID       int32
		Props    map[string]dbus.Variant
		Children []dbus.Variant
	}
	if err := h.menu.Call(menuIface+".GetLayout", 0, int32(0), int32(-1), []string{}).Store(&rev, &root); err != nil {
		t.Fatalf("GetLayout: %v", err)
	}
	var l layout
	for _, c := range root.Children {
		var item struct {
			ID       int32
			Props    map[string]dbus.Variant
			Children []dbus.Variant
		}
		if err := dbus.Store([]any{c.Value()}, &item); err != nil {
			t.Fatalf("menu item %v: %v", c, err)
		}
		e := menuEntry{id: item.ID, visible: true, enabled: true}
		for k, v := range item.Props {
			switch k {
			case "label":
				e.label, _ = v.Value().(string)
			case "type":
				e.separator = v.Value() == "separator"
			case "visible":
				e.visible, _ = v.Value().(bool)
			case "enabled":
				e.enabled, _ = v.Value().(bool)
			}
		}
		l = append(l, e)
	}
	return l
}

func (l layout) find(label string) (menuEntry, bool) {
	for _, e := range l {
		if e.label == label && !e.separator {
			return e, true
		}
	}
	return menuEntry{}, false
}

func (l layout) has(label string) bool {
	e, ok := l.find(label)
	return ok && e.visible
}

func (l layout) id(t *testing.T, label string) int32 {
	t.Helper()
	e, ok := l.find(label)
	if !ok {
		t.Fatalf("no menu item %q in %v", label, l.visibleLabels())
	}
	return e.id
}

func (l layout) check(t *testing.T, label string, visible, enabled bool) {
	t.Helper()
	e, ok := l.find(label)
	if !visible && !ok {
		return
	}
	if !ok {
		t.Errorf("no menu item %q in %q", label, l.visibleLabels())
		return
	}
	if e.visible != visible || (visible && e.enabled != enabled) {
		t.Errorf("%q: visible=%v enabled=%v, want visible=%v enabled=%v", label, e.visible, e.enabled, visible, enabled)
	}
}

func (l layout) visibleLabels() []string {
	var out []string
	for _, e := range l {
		switch {
		case !e.visible:
		case e.separator:
			out = append(out, "-")
		default:
			out = append(out, e.label)
		}
	}
	return out
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
