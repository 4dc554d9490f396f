//go:build !(((linux || freebsd || openbsd || netbsd) && !android) || darwin)

package tray

import (
	"context"
	"fmt"
	"runtime"
)

var errUnsupported = fmt.Errorf("%w: no tray support on %s; run headless", ErrHeadless, runtime.GOOS)

// Probe reports that this platform has no tray.
func Probe(context.Context) error { return errUnsupported }

// Run reports that this platform has no tray.
func Run(context.Context, Options) (*Tray, error) { return nil, errUnsupported }

func platformMain(context.Context, Options, func(context.Context, *Tray) error) error {
	return errUnsupported
}
