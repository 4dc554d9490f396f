package desktop

import (
	"strings"
	"testing"
	"time"

	dbus "github.com/godbus/dbus/v5"
	"github.com/godbus/dbus/v5/prop"
)

// The StatusNotifierItem protocol's names.
const (
	WatcherName  = "org.kde.StatusNotifierWatcher"
	WatcherPath  = "/StatusNotifierWatcher"
	WatcherIface = "org.kde.StatusNotifierWatcher"
	ItemIface    = "org.kde.StatusNotifierItem"
	MenuIface    = "com.canonical.dbusmenu"
)

// Registration is one RegisterStatusNotifierItem call.
type Registration struct{ Sender, Service string }

// Watcher is a StatusNotifierWatcher stand-in.
type Watcher struct {
	Registered chan Registration
	Props      *prop.Properties
}

func (w *Watcher) RegisterStatusNotifierItem(sender dbus.Sender, service string) *dbus.Error {
	w.Registered <- Registration{string(sender), service}
	return nil
}

func (w *Watcher) RegisterStatusNotifierHost(string) *dbus.Error { return nil }

// SetHostRegistered says whether a host (a panel) is showing items.
func (w *Watcher) SetHostRegistered(v bool) {
	w.Props.SetMust(WatcherIface, "IsStatusNotifierHostRegistered", v)
}

// StartWatcher owns the watcher's name on the session bus.
func StartWatcher(t *testing.T) *Watcher {
	t.Helper()
	conn, err := dbus.ConnectSessionBus()
	if err != nil {
		t.Fatalf("watcher: %v", err)
	}
	t.Cleanup(func() { conn.Close() })
	w := &Watcher{Registered: make(chan Registration, 4)}
	if err := conn.Export(w, WatcherPath, WatcherIface); err != nil {
		t.Fatal(err)
	}
	w.Props, err = prop.Export(conn, WatcherPath, map[string]map[string]*prop.Prop{WatcherIface: {
		"RegisteredStatusNotifierItems":  {Value: []string{}, Emit: prop.EmitTrue},
		"IsStatusNotifierHostRegistered": {Value: false, Emit: prop.EmitTrue},
		"ProtocolVersion":                {Value: int32(0), Emit: prop.EmitTrue},
	}})
	if err != nil {
		t.Fatal(err)
	}
	reply, err := conn.RequestName(WatcherName, dbus.NameFlagDoNotQueue)
	if err != nil || reply != dbus.RequestNameReplyPrimaryOwner {
		t.Fatalf("watcher: owning %s: %v (reply %v)", WatcherName, err, reply)
	}
	return w
}

// WaitRegistration waits for an item to register.
func (w *Watcher) WaitRegistration(t *testing.T) Registration {
	t.Helper()
	select {
	case r := <-w.Registered:
		return r
	case <-time.After(Wait):
		t.Fatal("no item called RegisterStatusNotifierItem")
		return Registration{}
	}
}

// Host is a panel's view of one registered item.
type Host struct {
	Conn    *dbus.Conn
	Sender  string
	Item    dbus.BusObject
	Menu    dbus.BusObject
	Signals chan *dbus.Signal
}

// NewHost connects to the item registered by sender.
func NewHost(t *testing.T, sender string) *Host {
	t.Helper()
	conn, err := dbus.ConnectSessionBus()
	if err != nil {
		t.Fatalf("host: %v", err)
	}
	t.Cleanup(func() { conn.Close() })
	h := &Host{Conn: conn, Sender: sender, Item: conn.Object(sender, "/StatusNotifierItem"), Signals: make(chan *dbus.Signal, 64)}
	if err := conn.AddMatchSignal(dbus.WithMatchSender(sender), dbus.WithMatchInterface(ItemIface)); err != nil {
		t.Fatal(err)
	}
	conn.Signal(h.Signals)
	menuPath, ok := h.Prop(t, "Menu").(dbus.ObjectPath)
	if !ok || !menuPath.IsValid() {
		t.Fatalf("Menu property %v is not an object path", h.Prop(t, "Menu"))
	}
	h.Menu = conn.Object(sender, menuPath)
	return h
}

// Prop reads one of the item's properties.
func (h *Host) Prop(t *testing.T, name string) any {
	t.Helper()
	v, err := h.Item.GetProperty(ItemIface + "." + name)
	if err != nil {
		t.Fatalf("reading %s: %v", name, err)
	}
	return v.Value()
}

// Tooltip is the item's ToolTip title.
func (h *Host) Tooltip(t *testing.T) string {
	t.Helper()
	// ToolTip is (icon name, icon pixmaps, title, description).
	var tip struct {
		Name    string
		Pixmaps []struct {
			W, H int32
			Pix  []byte
		}
		Title, Body string
	}
	v, err := h.Item.GetProperty(ItemIface + ".ToolTip")
	if err != nil {
		t.Fatal(err)
	}
	if err := dbus.Store([]any{v.Value()}, &tip); err != nil {
		t.Fatalf("ToolTip %v: %v", v, err)
	}
	return tip.Title
}

// CheckTitle checks the Title and that the tooltip's title has tooltipHas.
func (h *Host) CheckTitle(t *testing.T, title, tooltipHas string) {
	t.Helper()
	if got := h.Prop(t, "Title").(string); got != title {
		t.Errorf("Title %q, want %q", got, title)
	}
	if tip := h.Tooltip(t); !strings.Contains(tip, tooltipHas) {
		t.Errorf("ToolTip title %q lacks %q", tip, tooltipHas)
	}
}

// WaitTitle waits until the item's Title is want.
func (h *Host) WaitTitle(t *testing.T, want string) {
	t.Helper()
	deadline := time.Now().Add(2 * Wait)
	for {
		got := h.Prop(t, "Title").(string)
		if got == want {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("Title %q, waited for %q", got, want)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// ExpectSignal waits for the item to emit member.
func (h *Host) ExpectSignal(t *testing.T, member string) {
	t.Helper()
	timeout := time.After(Wait)
	for {
		select {
		case s := <-h.Signals:
			if s.Name == ItemIface+"."+member {
				return
			}
		case <-timeout:
			t.Fatalf("no %s signal", member)
		}
	}
}

// Click clicks menu item id the way a host does.
func (h *Host) Click(t *testing.T, id int32) {
	t.Helper()
	if err := h.Menu.Call(MenuIface+".Event", 0, id, "clicked", dbus.MakeVariant(""), uint32(time.Now().Unix())).Err; err != nil {
		t.Fatalf("Event(%d, clicked): %v", id, err)
	}
}

// OnBus reports whether the item's connection is still on the bus.
func (h *Host) OnBus(t *testing.T) bool {
	t.Helper()
	var has bool
	if err := h.Conn.BusObject().Call("org.freedesktop.DBus.NameHasOwner", 0, h.Sender).Store(&has); err != nil {
		t.Fatal(err)
	}
	return has
}

// MenuEntry is one item of the menu as GetLayout shows it.
type MenuEntry struct {
	ID               int32
	Label            string
	Separator        bool
	Visible, Enabled bool
}

// Layout is the menu's top level.
type Layout []MenuEntry

// Layout reads the whole menu with GetLayout(0, -1, all properties).
func (h *Host) Layout(t *testing.T) Layout {
	t.Helper()
	var rev uint32
	var root struct {
		ID       int32
		Props    map[string]dbus.Variant
		Children []dbus.Variant
	}
	if err := h.Menu.Call(MenuIface+".GetLayout", 0, int32(0), int32(-1), []string{}).Store(&rev, &root); err != nil {
		t.Fatalf("GetLayout: %v", err)
	}
	var l Layout
	for _, c := range root.Children {
		var item struct {
			ID       int32
			Props    map[string]dbus.Variant
			Children []dbus.Variant
		}
		if err := dbus.Store([]any{c.Value()}, &item); err != nil {
			t.Fatalf("menu item %v: %v", c, err)
		}
		e := MenuEntry{ID: item.ID, Visible: true, Enabled: true}
		for k, v := range item.Props {
			switch k {
			case "label":
				e.Label, _ = v.Value().(string)
			case "type":
				e.Separator = v.Value() == "separator"
			case "visible":
				e.Visible, _ = v.Value().(bool)
			case "enabled":
				e.Enabled, _ = v.Value().(bool)
			}
		}
		l = append(l, e)
	}
	return l
}

// Find returns the entry labelled label.
func (l Layout) Find(label string) (MenuEntry, bool) {
	for _, e := range l {
		if e.Label == label && !e.Separator {
			return e, true
		}
	}
	return MenuEntry{}, false
}

// Has reports whether a visible entry is labelled label.
func (l Layout) Has(label string) bool {
	e, ok := l.Find(label)
	return ok && e.Visible
}

// ID is the entry's ID; the test fails if there is none.
func (l Layout) ID(t *testing.T, label string) int32 {
	t.Helper()
	e, ok := l.Find(label)
	if !ok {
		t.Fatalf("no menu item %q in %v", label, l.VisibleLabels())
	}
	return e.ID
}

// Check checks an entry's visibility and (if visible) enabled state.
func (l Layout) Check(t *testing.T, label string, visible, enabled bool) {
	t.Helper()
	e, ok := l.Find(label)
	if !visible && !ok {
		return
	}
	if !ok {
		t.Errorf("no menu item %q in %q", label, l.VisibleLabels())
		return
	}
	if e.Visible != visible || (visible && e.Enabled != enabled) {
		t.Errorf("%q: visible=%v enabled=%v, want visible=%v enabled=%v", label, e.Visible, e.Enabled, visible, enabled)
	}
}

// VisibleLabels lists the visible entries, "-" for separators.
func (l Layout) VisibleLabels() []string {
	var out []string
	for _, e := range l {
		switch {
		case !e.Visible:
		case e.Separator:
			out = append(out, "-")
		default:
			out = append(out, e.Label)
		}
	}
	return out
}
