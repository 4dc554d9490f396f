//go:build ((linux || freebsd || openbsd || netbsd) && !android) || (darwin && cgo)

package tray

import (
	"context"
	"sync/atomic"

	"fyne.io/systray"
)

// started guards the systray singleton: it exports fixed D-Bus paths and
// closes its quit channel on exit, so it can run once per process.
var started atomic.Bool

// appID is set as the title before the item is exported: systray freezes the
// item's Id property from the title at that moment, and hosts key saved
// settings (hidden/shown, position) on the Id, so it must not carry state.
const appID = "icevault"

// systrayUI renders a Menu with fyne.io/systray.
type systrayUI struct {
	items []*systray.MenuItem // one per slot; nil for separators
	// label adapts a label to the platform (dbusmenu's mnemonic escaping).
	label func(string) string
	// macOS shows the title as text beside the icon; other hosts list it.
	barTitle bool
}

// newSystrayUI creates the native items for every slot of m, in order,
// shown as m says, and starts forwarding their clicks to t until ctx ends.
func newSystrayUI(ctx context.Context, t *Tray, label func(string) string, barTitle bool) *systrayUI {
	u := &systrayUI{items: make([]*systray.MenuItem, NumSlots), label: label, barTitle: barTitle}
	shape := Build(State{})
	for slot, it := range shape.Items {
		if it.Separator {
			systray.AddSeparator()
			continue
		}
		item := systray.AddMenuItem(label(it.Label), "")
		u.items[slot] = item
		go func() {
			for {
				select {
				case _, ok := <-item.ClickedCh:
					if !ok {
						return
					}
					t.clicked(slot)
				case <-ctx.Done():
					return
				}
			}
		}()
	}
	return u
}

func (u *systrayUI) apply(prev *Menu, m Menu) {
	full := prev == nil || len(prev.Items) != len(m.Items)
	if full || prev.Icon != m.Icon {
		setIcon(m.Icon)
	}
	title := m.Title
	if u.barTitle {
		title = m.BarText
	}
	prevTitle := ""
	if !full {
		prevTitle = prev.Title
		if u.barTitle {
			prevTitle = prev.BarText
		}
	}
	if full || prevTitle != title {
		systray.SetTitle(title)
	}
	if full || prev.Tooltip != m.Tooltip {
		systray.SetTooltip(m.Tooltip)
	}
	for slot, it := range m.Items {
		item := u.items[slot]
		if item == nil {
			continue
		}
		var was Item
		if !full {
			was = prev.Items[slot]
		}
		if full || was.Label != it.Label {
			item.SetTitle(u.label(it.Label))
		}
		if full || was.Enabled != it.Enabled {
			if it.Enabled {
				item.Enable()
			} else {
				item.Disable()
			}
		}
		if full || was.Visible != it.Visible {
			if it.Visible {
				item.Show()
			} else {
				item.Hide()
			}
		}
	}
}

func setIcon(i Icon) {
	regular, err := IconPNG(i, false)
	if err != nil {
		return // unreachable: every Icon Build returns is embedded (tested)
	}
	if useTemplate(i) {
		if template, err := IconPNG(i, true); err == nil {
			systray.SetTemplateIcon(template, regular)
			return
		}
	}
	systray.SetIcon(regular)
}
