package tray

import (
	"context"
	"errors"
	"sync"
)

// ErrHeadless means there is nowhere to show a tray: no session bus, no
// StatusNotifierWatcher or no host on Linux, or a macOS build without cgo.
// The agent checks it with errors.Is and carries on without a tray.
var ErrHeadless = errors.New("tray: no system tray available")

// ErrAlreadyRunning is returned by a second Run or Main in one process: the
// underlying systray library is a process-wide singleton that can start only
// once.
var ErrAlreadyRunning = errors.New("tray: already started in this process")

// Options configure a tray.
type Options struct {
	// OnAction is called for every click on an enabled item, one call at a
	// time, from a goroutine of the tray's. It must not block for long:
	// clicks arriving meanwhile wait in a small queue, and beyond it are
	// dropped (a user clicking "Back up now" ten times means it once).
	OnAction func(Action)
	// Initial is shown from the start; the zero State is "idle, never
	// backed up".
	Initial State
}

// actionQueue bounds clicks waiting for OnAction.
const actionQueue = 16

// Tray is a running tray icon and menu.
type Tray struct {
	opts Options
	ui   ui // the platform adapter

	mu   sync.Mutex
	menu Menu // what is shown now; clicks are resolved against it

	actions chan Action
	done    chan struct{}
}

// ui is the platform side: the native items for Menu's fixed slots.
type ui interface {
	// apply shows m; prev is what is shown (nil on the first call).
	apply(prev *Menu, m Menu)
}

func newTray(opts Options) *Tray {
	return &Tray{opts: opts, actions: make(chan Action, actionQueue), done: make(chan struct{})}
}

// Set shows s. It returns once the native menu and icon are updated.
func (t *Tray) Set(s State) {
	m := Build(s)
	t.mu.Lock()
	defer t.mu.Unlock()
	prev := t.menu
	t.ui.apply(&prev, m)
	t.menu = m
}

// Done is closed when the tray has been taken down (its context ended).
func (t *Tray) Done() <-chan struct{} { return t.done }

// clicked resolves a click on slot against the menu shown now. A click on a
// hidden, disabled or informational item is ignored: a host may deliver a
// click that raced with a state change.
func (t *Tray) clicked(slot int) {
	t.mu.Lock()
	var a Action
	if slot >= 0 && slot < len(t.menu.Items) {
		if it := t.menu.Items[slot]; it.Visible && it.Enabled {
			a = it.Action
		}
	}
	t.mu.Unlock()
	if a.Kind == ActionNone {
		return
	}
	select {
	case t.actions <- a:
	default: // queue full: the user is clicking faster than the agent acts
	}
}

// dispatch calls OnAction for queued clicks until ctx ends.
func (t *Tray) dispatch(ctx context.Context) {
	for {
		select {
		case <-ctx.Done():
			return
		case a := <-t.actions:
			if t.opts.OnAction != nil {
				t.opts.OnAction(a)
			}
		}
	}
}

// Main runs the tray for the life of body and returns body's error. It is
// the portable entry point: on macOS the menu bar needs the process's main
// thread, so Main must be called from the main goroutine (before any other
// code locks it) and keeps it until body returns. On Linux it is Run
// followed by body.
//
// If there is no tray (errors.Is(err, ErrHeadless)), Main returns at once
// without calling body, so the caller can run body(ctx, nil) headless.
func Main(ctx context.Context, opts Options, body func(context.Context, *Tray) error) error {
	return platformMain(ctx, opts, body)
}
