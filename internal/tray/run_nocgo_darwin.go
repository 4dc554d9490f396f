//go:build darwin && !cgo

package tray

import (
	"context"
	"fmt"
)

var errNoCgo = fmt.Errorf("%w: the macOS menu bar needs a cgo build (CGO_ENABLED=1); run headless", ErrHeadless)

// Probe reports that this build has no tray.
func Probe(context.Context) error { return errNoCgo }

// Run reports that this build has no tray.
func Run(context.Context, Options) (*Tray, error) { return nil, errNoCgo }

func platformMain(context.Context, Options, func(context.Context, *Tray) error) error {
	return errNoCgo
}
