//go:build (linux || freebsd || openbsd || netbsd) && !android

package tray

import (
	"context"
	"fmt"
	"strings"

	"fyne.io/systray"
	dbus "github.com/godbus/dbus/v5"
)

// The StatusNotifierItem protocol: items register with a watcher, hosts
// (panels) ask the watcher for items and draw them.
const (
	watcherName  = "org.kde.StatusNotifierWatcher"
	watcherPath  = "/StatusNotifierWatcher"
	watcherIface = "org.kde.StatusNotifierWatcher"
)

// Probe reports whether a tray can be shown: a session bus, a
// StatusNotifierWatcher on it, and a host registered with the watcher. It
// returns nil or an error wrapping ErrHeadless. An agent that started
// headless (say, before the desktop's panel) can call it again later.
func Probe(ctx context.Context) error {
	conn, err := dbus.ConnectSessionBus(dbus.WithContext(ctx))
	if err != nil {
		return fmt.Errorf("%w: no D-Bus session bus: %w", ErrHeadless, err)
	}
	defer conn.Close()
	var has bool
	if err := conn.BusObject().CallWithContext(ctx, "org.freedesktop.DBus.NameHasOwner", 0, watcherName).Store(&has); err != nil {
		return fmt.Errorf("%w: asking the session bus for %s: %w", ErrHeadless, watcherName, err)
	}
	if !has {
		return fmt.Errorf("%w: no %s on the session bus (the desktop shows no tray icons; on GNOME, install the AppIndicator extension)",
			ErrHeadless, watcherName)
	}
	var v dbus.Variant
	err = conn.Object(watcherName, watcherPath).CallWithContext(ctx, "org.freedesktop.DBus.Properties.Get", 0,
		watcherIface, "IsStatusNotifierHostRegistered").Store(&v)
	if err != nil {
		return fmt.Errorf("%w: reading IsStatusNotifierHostRegistered: %w", ErrHeadless, err)
	}
	if host, ok := v.Value().(bool); !ok || !host {
		return fmt.Errorf("%w: %s has no StatusNotifierHost (no panel is showing tray icons)", ErrHeadless, watcherName)
	}
	return nil
}

// Run shows the tray and returns once it is exported on the session bus and
// registered with the watcher. It stays up until ctx ends; Done then closes.
// With no tray to show it returns an error wrapping ErrHeadless.
//
// Taking the tray down closes the process's shared session bus connection
// (dbus.SessionBus), because systray does: other D-Bus users in the process
// should hold their own connection (dbus.ConnectSessionBus).
func Run(ctx context.Context, opts Options) (*Tray, error) {
	if err := Probe(ctx); err != nil {
		return nil, err
	}
	if !started.CompareAndSwap(false, true) {
		return nil, ErrAlreadyRunning
	}
	t := newTray(opts)
	start, end := systray.RunWithExternalLoop(func() {}, nil)
	// Everything is in place before start exports it, so the first
	// GetLayout and property read already see the real menu and icon.
	t.ui = newSystrayUI(ctx, t, escapeMnemonic, false)
	t.Set(opts.Initial)
	systray.SetTitle(appID) // frozen into Id by start
	start()
	t.mu.Lock()
	systray.SetTitle(t.menu.Title)
	t.mu.Unlock()
	// start only logs its failures; the connection it used is the shared
	// one, so asking for it again says whether it had one.
	if _, err := dbus.SessionBus(); err != nil {
		return nil, fmt.Errorf("%w: connecting the tray to the session bus: %w", ErrHeadless, err)
	}
	go t.dispatch(ctx)
	go func() {
		<-ctx.Done()
		end()
		close(t.done)
	}()
	return t, nil
}

func platformMain(ctx context.Context, opts Options, body func(context.Context, *Tray) error) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	t, err := Run(ctx, opts)
	if err != nil {
		return err
	}
	err = body(ctx, t)
	cancel()
	<-t.Done()
	return err
}

// escapeMnemonic doubles underscores: dbusmenu hosts read "_x" as an
// access key, so a restore of "old_photos" would show as "oldphotos".
func escapeMnemonic(s string) string { return strings.ReplaceAll(s, "_", "__") }
