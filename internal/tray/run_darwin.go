//go:build darwin && cgo

package tray

import (
	"context"
	"errors"

	"fyne.io/systray"
)

// Probe reports whether a tray can be shown. A macOS GUI session always has a
// menu bar; a process without one (over SSH) fails later, in AppKit.
func Probe(context.Context) error { return nil }

// Run is not available on macOS: AppKit's event loop must own the main
// thread, which only Main can give it.
func Run(context.Context, Options) (*Tray, error) {
	return nil, errors.New("tray: on macOS the menu bar needs the main thread; call tray.Main from main")
}

func platformMain(ctx context.Context, opts Options, body func(context.Context, *Tray) error) error {
	if !started.CompareAndSwap(false, true) {
		return ErrAlreadyRunning
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	t := newTray(opts)
	errc := make(chan error, 1)
	// systray.Run blocks in [NSApp run] on this (the main) thread, which
	// systray's init locked; onReady runs on another goroutine.
	systray.Run(func() {
		systray.SetTitle("")
		t.ui = newSystrayUI(ctx, t, func(s string) string { return s }, true)
		t.Set(opts.Initial)
		go t.dispatch(ctx)
		go func() {
			errc <- body(ctx, t)
			cancel()
		}()
		go func() {
			<-ctx.Done()
			systray.Quit()
		}()
	}, nil)
	cancel()
	close(t.done)
	return <-errc
}
