package tray

import (
	"bytes"
	"context"
	"fmt"
	"image/png"
	"strings"
	"testing"
)

func TestBuild(t *testing.T) {
	restores := func(n int) []RestoreJob {
		var rs []RestoreJob
		for i := range n {
			rs = append(rs, RestoreJob{ID: fmt.Sprintf("r%d", i), Label: fmt.Sprintf("job %d", i)})
		}
		return rs
	}
	type want struct {
		icon                Icon
		status, last, next  string
		login               bool // "Log in to AWS…" shown and enabled
		backupNow           bool // enabled
		pauseLabel          string
		pauseAction         ActionKind
		restoreHeader       bool
		restoreLabels       []string // visible restore slots, in order
		restoreActionsLast  Action   // action of the last visible restore slot
		title, barText, tip string   // substrings; "" skips
	}
	tests := []struct {
		name string
		s    State
		w    want
	}{
		{"zero state is idle, never backed up", State{}, want{
			icon: IconIdle, status: "Idle", last: "Last backup: never", next: "Next run: not scheduled",
			backupNow: true, pauseLabel: LabelPause, pauseAction: ActionPause,
			title: "icevault: Idle", tip: "Last backup: never",
		}},
		{"idle with history", State{LastBackup: "today 09:12", LastResult: "ok, 1.2 GB added", NextRun: "today 21:00"}, want{
			icon: IconIdle, status: "Idle", last: "Last backup: today 09:12 — ok, 1.2 GB added", next: "Next run: today 21:00",
			backupNow: true, pauseLabel: LabelPause, pauseAction: ActionPause, tip: "Next run: today 21:00",
		}},
		{"backing up", State{Mode: ModeBackingUp, Percent: 42, NextRun: "21:00"}, want{
			icon: IconBackingUp, status: "Backing up… 42%", last: "Last backup: never", next: "Next run: 21:00",
			backupNow: false, pauseLabel: LabelPause, pauseAction: ActionPause, barText: "42%", title: "42%",
		}},
		{"backing up, progress unknown", State{Mode: ModeBackingUp, Percent: -1}, want{
			icon: IconBackingUp, status: "Backing up…", last: "Last backup: never", next: "Next run: not scheduled",
			pauseLabel: LabelPause, pauseAction: ActionPause,
		}},
		{"paused offers Resume", State{Mode: ModePaused, NextRun: "21:00"}, want{
			icon: IconPaused, status: "Paused", last: "Last backup: never", next: "Next run: paused",
			backupNow: true, pauseLabel: LabelResume, pauseAction: ActionResume,
		}},
		{"login required", State{Mode: ModeLoginRequired, LastBackup: "yesterday", LastResult: "paused: login required"}, want{
			icon: IconLoginRequired, status: "AWS login required", last: "Last backup: yesterday — paused: login required",
			next: "Next run: after you log in", login: true, backupNow: false, pauseLabel: LabelPause, pauseAction: ActionPause,
			barText: "Login", tip: "AWS login required",
		}},
		{"error, multi-line detail flattened", State{Mode: ModeError, Detail: "access denied:\n  s3:PutObject"}, want{
			icon: IconError, status: "Error: access denied: s3:PutObject", last: "Last backup: never", next: "Next run: not scheduled",
			backupNow: true, pauseLabel: LabelPause, pauseAction: ActionPause,
		}},
		{"error without detail", State{Mode: ModeError}, want{
			icon: IconError, status: "Error", last: "Last backup: never", next: "Next run: not scheduled",
			backupNow: true, pauseLabel: LabelPause, pauseAction: ActionPause,
		}},
		{"restores listed", State{Restores: restores(2)}, want{
			icon: IconIdle, status: "Idle", last: "Last backup: never", next: "Next run: not scheduled",
			backupNow: true, pauseLabel: LabelPause, pauseAction: ActionPause,
			restoreHeader: true, restoreLabels: []string{"job 0", "job 1"},
			restoreActionsLast: Action{Kind: ActionOpenRestore, Restore: "r1"},
		}},
		{"exactly the maximum of restores", State{Restores: restores(MaxRestoreItems)}, want{
			icon: IconIdle, status: "Idle", last: "Last backup: never", next: "Next run: not scheduled",
			backupNow: true, pauseLabel: LabelPause, pauseAction: ActionPause,
			restoreHeader: true, restoreLabels: []string{"job 0", "job 1", "job 2", "job 3", "job 4"},
			restoreActionsLast: Action{Kind: ActionOpenRestore, Restore: "r4"},
		}},
		{"too many restores: the rest in the dashboard", State{Restores: restores(8)}, want{
			icon: IconIdle, status: "Idle", last: "Last backup: never", next: "Next run: not scheduled",
			backupNow: true, pauseLabel: LabelPause, pauseAction: ActionPause,
			restoreHeader: true, restoreLabels: []string{"job 0", "job 1", "job 2", "job 3", "4 more in the dashboard…"},
			restoreActionsLast: Action{Kind: ActionOpenDashboard},
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m := Build(tt.s)
			checkShape(t, m)
			w := tt.w
			if m.Icon != w.icon {
				t.Errorf("icon %v, want %v", m.Icon, w.icon)
			}
			for slot, label := range map[int]string{SlotStatus: w.status, SlotLastBackup: w.last, SlotNextRun: w.next} {
				it := m.Items[slot]
				if it.Label != label || !it.Visible || it.Enabled || it.Action.Kind != ActionNone {
					t.Errorf("slot %d = %+v, want visible disabled info %q", slot, it, label)
				}
			}
			if it := m.Items[SlotLogIn]; it.Visible != w.login || it.Enabled != w.login || it.Label != LabelLogIn || it.Action.Kind != ActionLogIn {
				t.Errorf("login item %+v, want shown=%v", it, w.login)
			}
			if it := m.Items[SlotBackupNow]; !it.Visible || it.Enabled != w.backupNow || it.Label != LabelBackupNow || it.Action.Kind != ActionBackupNow {
				t.Errorf("backup-now item %+v, want enabled=%v", it, w.backupNow)
			}
			if it := m.Items[SlotPauseResume]; !it.Visible || !it.Enabled || it.Label != w.pauseLabel || it.Action.Kind != w.pauseAction {
				t.Errorf("pause item %+v, want %q/%v", it, w.pauseLabel, w.pauseAction)
			}
			if it := m.Items[SlotRestoresHeader]; it.Visible != w.restoreHeader || it.Enabled {
				t.Errorf("restores header %+v, want visible=%v", it, w.restoreHeader)
			}
			var labels []string
			var last Action
			for i := range MaxRestoreItems {
				it := m.Items[SlotFirstRestore+i]
				if !it.Visible {
					if it.Enabled || it.Action.Kind != ActionNone {
						t.Errorf("hidden restore slot %d is live: %+v", i, it)
					}
					continue
				}
				if len(labels) != i {
					t.Errorf("restore slot %d visible after a hidden one", i)
				}
				labels = append(labels, it.Label)
				last = it.Action
			}
			if fmt.Sprint(labels) != fmt.Sprint(w.restoreLabels) {
				t.Errorf("restore labels %q, want %q", labels, w.restoreLabels)
			}
			if len(labels) > 0 && last != w.restoreActionsLast {
				t.Errorf("last restore action %+v, want %+v", last, w.restoreActionsLast)
			}
			for _, c := range []struct {
				what, got, want string
			}{{"title", m.Title, w.title}, {"tooltip", m.Tooltip, w.tip}} {
				if !strings.Contains(c.got, c.want) {
					t.Errorf("%s %q lacks %q", c.what, c.got, c.want)
				}
			}
			if w.barText != "" || tt.s.Mode == ModeIdle {
				if m.BarText != w.barText {
					t.Errorf("bar text %q, want %q", m.BarText, w.barText)
				}
			}
			if !strings.HasPrefix(m.Title, "icevault: ") || !strings.Contains(m.Title, w.status) {
				t.Errorf("title %q does not carry status %q", m.Title, w.status)
			}
		})
	}
}

// checkShape asserts what the adapter relies on: the same slots and
// separators whatever the state, and the always-present actions.
func checkShape(t *testing.T, m Menu) {
	t.Helper()
	if len(m.Items) != NumSlots {
		t.Fatalf("%d items, want %d", len(m.Items), NumSlots)
	}
	for i, it := range m.Items {
		sep := i == slotSep1 || i == slotSep2 || i == slotSep3
		if it.Separator != sep || (sep && !it.Visible) {
			t.Errorf("slot %d separator=%v visible=%v", i, it.Separator, it.Visible)
		}
		if strings.ContainsAny(it.Label, "\n\r") {
			t.Errorf("slot %d label has a line break: %q", i, it.Label)
		}
	}
	for slot, want := range map[int]Item{
		SlotOpenDashboard: {Label: LabelOpenDashboard, Enabled: true, Visible: true, Action: Action{Kind: ActionOpenDashboard}},
		SlotQuit:          {Label: LabelQuit, Enabled: true, Visible: true, Action: Action{Kind: ActionQuit}},
	} {
		if m.Items[slot] != want {
			t.Errorf("slot %d = %+v, want %+v", slot, m.Items[slot], want)
		}
	}
}

func TestBuildClampsAndTruncates(t *testing.T) {
	m := Build(State{Mode: ModeBackingUp, Percent: 250})
	if got := m.Items[SlotStatus].Label; got != "Backing up… 100%" {
		t.Errorf("status %q", got)
	}
	m = Build(State{Mode: ModeError, Detail: strings.Repeat("é", 500)})
	got := m.Items[SlotStatus].Label
	if n := len([]rune(strings.TrimPrefix(got, "Error: "))); n != maxDetail || !strings.HasSuffix(got, "…") {
		t.Errorf("detail not cut to %d runes with an ellipsis: %d runes, %q", maxDetail, n, got)
	}
}

// Every state has its own icon, each a decodable PNG (regular and template)
// of the same size, and no two states share pixels.
func TestIcons(t *testing.T) {
	seen := map[string]Icon{}
	for _, mode := range []Mode{ModeIdle, ModeBackingUp, ModePaused, ModeLoginRequired, ModeError} {
		icon := Build(State{Mode: mode}).Icon
		for _, tmpl := range []bool{false, true} {
			b, err := IconPNG(icon, tmpl)
			if err != nil {
				t.Fatalf("%v: %v", mode, err)
			}
			img, err := png.Decode(bytes.NewReader(b))
			if err != nil {
				t.Fatalf("%v (template %v): %v", icon, tmpl, err)
			}
			if r := img.Bounds(); r.Dx() != 32 || r.Dy() != 32 {
				t.Errorf("%v: %v, want 32x32", icon, r)
			}
			if prev, dup := seen[string(b)]; dup {
				t.Errorf("%v (template %v) has the same PNG as %v", icon, tmpl, prev)
			}
			seen[string(b)] = icon
		}
	}
	if _, err := IconPNG(numIcons, false); err == nil {
		t.Error("IconPNG accepted an unknown icon")
	}
}

// Clicks resolve against what is shown now: a stale click on an item that
// has since been hidden or disabled is dropped, not reported.
func TestClickResolvesAgainstShownMenu(t *testing.T) {
	var got []Action
	tr := newTray(Options{OnAction: func(a Action) { got = append(got, a) }})
	tr.ui = nopUI{}
	drain := func() {
		for {
			select {
			case a := <-tr.actions:
				tr.opts.OnAction(a)
			default:
				return
			}
		}
	}

	tr.Set(State{Mode: ModeIdle, Restores: []RestoreJob{{ID: "job-7", Label: "photos"}}})
	for _, slot := range []int{SlotStatus, SlotLogIn, SlotBackupNow, SlotPauseResume, SlotFirstRestore, SlotFirstRestore + 1, -1, NumSlots} {
		tr.clicked(slot)
	}
	drain()
	want := []Action{{Kind: ActionBackupNow}, {Kind: ActionPause}, {Kind: ActionOpenRestore, Restore: "job-7"}}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("idle clicks gave %v, want %v", got, want)
	}

	got = nil
	tr.Set(State{Mode: ModeLoginRequired})
	for _, slot := range []int{SlotBackupNow, SlotLogIn, SlotFirstRestore, SlotPauseResume} {
		tr.clicked(slot)
	}
	drain()
	want = []Action{{Kind: ActionLogIn}, {Kind: ActionPause}}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("login-required clicks gave %v, want %v", got, want)
	}

	got = nil
	tr.Set(State{Mode: ModePaused})
	tr.clicked(SlotPauseResume)
	drain()
	if len(got) != 1 || got[0].Kind != ActionResume {
		t.Errorf("paused click gave %v, want resume", got)
	}
}

// A flood of clicks while the agent is busy is bounded, not blocking.
func TestClickQueueBounded(t *testing.T) {
	tr := newTray(Options{})
	tr.ui = nopUI{}
	tr.Set(State{})
	for range actionQueue * 3 {
		tr.clicked(SlotBackupNow) // must not block
	}
	if n := len(tr.actions); n != actionQueue {
		t.Errorf("%d queued, want %d", n, actionQueue)
	}
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	tr.dispatch(ctx) // returns once ctx is done, with no OnAction set
}

type nopUI struct{}

func (nopUI) apply(*Menu, Menu) {}
