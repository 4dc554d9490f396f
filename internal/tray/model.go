package tray

import (
	"fmt"
	"strings"
	"unicode/utf8"
)

// Mode is what the agent is doing, as far as the tray shows it.
type Mode int

const (
	ModeIdle          Mode = iota // nothing running; the schedule will start the next run
	ModeBackingUp                 // a run is in progress; State.Percent says how far
	ModePaused                    // the user paused scheduled runs
	ModeLoginRequired             // the SSO session ended; nothing runs until the user logs in
	ModeError                     // the last run failed for another reason; State.Detail says why
)

func (m Mode) String() string {
	switch m {
	case ModeIdle:
		return "idle"
	case ModeBackingUp:
		return "backing up"
	case ModePaused:
		return "paused"
	case ModeLoginRequired:
		return "login required"
	case ModeError:
		return "error"
	}
	return fmt.Sprintf("Mode(%d)", int(m))
}

// State is everything the tray shows. The agent owns it and hands the tray a
// fresh copy on every change (Tray.Set); the tray keeps no state of its own.
type State struct {
	Mode Mode
	// Percent is the progress of the running backup (ModeBackingUp), 0–100;
	// negative while unknown (e.g. still scanning).
	Percent int
	// Detail is one line saying what went wrong (ModeError).
	Detail string
	// LastBackup is when the last run ended, already formatted ("today
	// 09:12"); empty if there was none. LastResult is its outcome ("ok,
	// 1.2 GB added", "failed: access denied").
	LastBackup, LastResult string
	// NextRun is when the schedule runs next, already formatted; empty if
	// nothing is scheduled.
	NextRun string
	// Restores are the restore jobs worth showing (thawing, downloading,
	// ready), newest first.
	Restores []RestoreJob
}

// RestoreJob is one restore job as the menu lists it.
type RestoreJob struct {
	ID    string // handed back in Action.Restore when clicked
	Label string // e.g. "photos/2019 — thawing, ready in ~9 h"
}

// ActionKind says which menu item was clicked.
type ActionKind int

const (
	ActionNone ActionKind = iota // informational items: never reported
	ActionBackupNow
	ActionPause
	ActionResume
	ActionLogIn
	ActionOpenDashboard
	ActionOpenRestore
	ActionQuit
)

func (k ActionKind) String() string {
	switch k {
	case ActionNone:
		return "none"
	case ActionBackupNow:
		return "backup-now"
	case ActionPause:
		return "pause"
	case ActionResume:
		return "resume"
	case ActionLogIn:
		return "log-in"
	case ActionOpenDashboard:
		return "open-dashboard"
	case ActionOpenRestore:
		return "open-restore"
	case ActionQuit:
		return "quit"
	}
	return fmt.Sprintf("ActionKind(%d)", int(k))
}

// Action is a click the tray reports to the agent.
type Action struct {
	Kind    ActionKind
	Restore string // RestoreJob.ID, for ActionOpenRestore
}

// Icon names one of the embedded tray icons.
type Icon int

const (
	IconIdle Icon = iota
	IconBackingUp
	IconPaused
	IconLoginRequired
	IconError
	numIcons
)

// name is the icon's file name in icons/, without ".png".
func (i Icon) name() string {
	switch i {
	case IconIdle:
		return "idle"
	case IconBackingUp:
		return "backing-up"
	case IconPaused:
		return "paused"
	case IconLoginRequired:
		return "login-required"
	case IconError:
		return "error"
	}
	return ""
}

func (i Icon) String() string {
	if n := i.name(); n != "" {
		return n
	}
	return fmt.Sprintf("Icon(%d)", int(i))
}

// Menu is what the tray shows for a State: the pure half of the tray,
// rendered by a thin platform adapter.
type Menu struct {
	Icon Icon
	// Title names the item for hosts that list items by title (the
	// StatusNotifierItem Title); BarText is the short text macOS shows next
	// to the icon in the menu bar ("" when idle, so the bar stays quiet).
	Title, BarText string
	Tooltip        string
	// Items always has the same length and the same separator positions,
	// whatever the state: the adapter creates the native items once and
	// only relabels, enables and shows or hides them afterwards (systray
	// cannot hide separators, and recreating items would renumber them).
	Items []Item
}

// Item is one menu entry.
type Item struct {
	Separator bool
	Label     string
	Enabled   bool
	Visible   bool
	// Action is reported when the item is clicked; ActionNone for
	// informational lines.
	Action Action
}

// MaxRestoreItems is how many restore jobs the menu lists; more are
// summarised in one line that opens the dashboard.
const MaxRestoreItems = 5

// Fixed positions in Menu.Items.
const (
	SlotStatus = iota
	SlotLastBackup
	SlotNextRun
	slotSep1
	SlotLogIn
	SlotBackupNow
	SlotPauseResume
	slotSep2
	SlotRestoresHeader
	SlotFirstRestore
	SlotOpenDashboard = SlotFirstRestore + MaxRestoreItems
	slotSep3          = SlotOpenDashboard + 1
	SlotQuit          = slotSep3 + 1
	NumSlots          = SlotQuit + 1
)

// Menu labels that a host (or a test) may look for.
const (
	LabelBackupNow     = "Back up now"
	LabelPause         = "Pause"
	LabelResume        = "Resume"
	LabelLogIn         = "Log in to AWS…"
	LabelOpenDashboard = "Open dashboard"
	LabelQuit          = "Quit"
	LabelRestores      = "Restores"
)

// maxDetail bounds the error line: menus do not wrap.
const maxDetail = 80

// Build is the state → menu model.
func Build(s State) Menu {
	items := make([]Item, NumSlots)
	info := func(label string) Item { return Item{Label: label, Visible: true} }
	act := func(label string, k ActionKind, enabled bool) Item {
		return Item{Label: label, Enabled: enabled, Visible: true, Action: Action{Kind: k}}
	}

	status := statusLine(s)
	items[SlotStatus] = info(status)
	items[SlotLastBackup] = info(lastLine(s))
	items[SlotNextRun] = info(nextLine(s))
	for _, i := range []int{slotSep1, slotSep2, slotSep3} {
		items[i] = Item{Separator: true, Visible: true}
	}

	login := s.Mode == ModeLoginRequired
	items[SlotLogIn] = act(LabelLogIn, ActionLogIn, login)
	items[SlotLogIn].Visible = login
	// A run already going, or one that could only fail for want of a login,
	// is not started again from the menu.
	items[SlotBackupNow] = act(LabelBackupNow, ActionBackupNow, s.Mode != ModeBackingUp && !login)
	if s.Mode == ModePaused {
		items[SlotPauseResume] = act(LabelResume, ActionResume, true)
	} else {
		items[SlotPauseResume] = act(LabelPause, ActionPause, true)
	}

	items[SlotRestoresHeader] = info(LabelRestores)
	items[SlotRestoresHeader].Visible = len(s.Restores) > 0
	shown := s.Restores
	if len(shown) > MaxRestoreItems {
		shown = shown[:MaxRestoreItems-1]
	}
	for i := range MaxRestoreItems {
		it := Item{}
		switch {
		case i < len(shown):
			it = Item{Label: oneLine(shown[i].Label, maxDetail), Enabled: true, Visible: true,
				Action: Action{Kind: ActionOpenRestore, Restore: shown[i].ID}}
		case i == len(shown) && len(s.Restores) > len(shown):
			it = act(fmt.Sprintf("%d more in the dashboard…", len(s.Restores)-len(shown)), ActionOpenDashboard, true)
		}
		items[SlotFirstRestore+i] = it
	}

	items[SlotOpenDashboard] = act(LabelOpenDashboard, ActionOpenDashboard, true)
	items[SlotQuit] = act(LabelQuit, ActionQuit, true)

	return Menu{
		Icon:    iconFor(s.Mode),
		Title:   "icevault: " + status,
		BarText: barText(s),
		Tooltip: "icevault — " + status + "\n" + items[SlotLastBackup].Label + "\n" + items[SlotNextRun].Label,
		Items:   items,
	}
}

func iconFor(m Mode) Icon {
	switch m {
	case ModeBackingUp:
		return IconBackingUp
	case ModePaused:
		return IconPaused
	case ModeLoginRequired:
		return IconLoginRequired
	case ModeError:
		return IconError
	}
	return IconIdle
}

func statusLine(s State) string {
	switch s.Mode {
	case ModeBackingUp:
		if s.Percent < 0 {
			return "Backing up…"
		}
		return fmt.Sprintf("Backing up… %d%%", min(s.Percent, 100))
	case ModePaused:
		return "Paused"
	case ModeLoginRequired:
		return "AWS login required"
	case ModeError:
		if d := oneLine(s.Detail, maxDetail); d != "" {
			return "Error: " + d
		}
		return "Error"
	}
	return "Idle"
}

func lastLine(s State) string {
	switch {
	case s.LastBackup == "":
		return "Last backup: never"
	case s.LastResult == "":
		return "Last backup: " + oneLine(s.LastBackup, maxDetail)
	}
	return "Last backup: " + oneLine(s.LastBackup+" — "+s.LastResult, maxDetail)
}

func nextLine(s State) string {
	switch {
	case s.Mode == ModePaused:
		return "Next run: paused"
	case s.Mode == ModeLoginRequired:
		return "Next run: after you log in"
	case s.NextRun == "":
		return "Next run: not scheduled"
	}
	return "Next run: " + oneLine(s.NextRun, maxDetail)
}

func barText(s State) string {
	switch s.Mode {
	case ModeBackingUp:
		if s.Percent >= 0 {
			return fmt.Sprintf("%d%%", min(s.Percent, 100))
		}
	case ModeLoginRequired:
		return "Login"
	}
	return ""
}

// oneLine flattens s to a single line of at most n runes: a multi-line error
// would otherwise break the menu.
func oneLine(s string, n int) string {
	s = strings.Join(strings.Fields(s), " ")
	if utf8.RuneCountInString(s) <= n {
		return s
	}
	r := []rune(s)
	return string(r[:n-1]) + "…"
}
