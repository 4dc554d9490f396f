package notify

import (
	"context"
	"fmt"
	"os/exec"
	"strings"
	"sync"
)

// Runner runs a program and returns its combined output.
type Runner func(ctx context.Context, name string, args ...string) ([]byte, error)

func execRunner(ctx context.Context, name string, args ...string) ([]byte, error) {
	return exec.CommandContext(ctx, name, args...).CombinedOutput()
}

// osascriptNotifier shows notifications with `osascript`. Actions need a
// signed app bundle on macOS, so there are none: the menu bar item carries
// "Log in" and the icon carries the state.
type osascriptNotifier struct {
	run  Runner
	opts SystemOptions
	mu   sync.Mutex
	next ID
}

// Open returns the macOS notifier. It fails with ErrUnavailable where there
// is no osascript.
func Open(opts SystemOptions) (System, error) {
	if _, err := exec.LookPath("osascript"); err != nil {
		return nil, &UnavailableError{Op: "find osascript", Err: err}
	}
	return &osascriptNotifier{run: execRunner, opts: opts}, nil
}

func (o *osascriptNotifier) Notify(ctx context.Context, n Notification) (ID, error) {
	if !n.Kind.valid() {
		return 0, fmt.Errorf("notify: unknown kind %d", int(n.Kind))
	}
	if len(n.Actions) > 0 {
		o.opts.logf("notify: macOS notifications carry no actions; %d dropped", len(n.Actions))
	}
	if out, err := o.run(ctx, "osascript", "-e", displayScript(n)); err != nil {
		return 0, fmt.Errorf("notify: osascript display notification: %w: %s", err, strings.TrimSpace(string(out)))
	}
	o.mu.Lock()
	defer o.mu.Unlock()
	o.next++
	return o.next, nil
}

func (o *osascriptNotifier) ActionsSupported() bool { return false }

func (o *osascriptNotifier) Close() error { return nil }
