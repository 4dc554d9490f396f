package schedule

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os/exec"
	"strconv"
	"strings"
)

// ErrUnavailable means the service manager cannot be reached: no user
// systemd bus (containers, CI, SSH without lingering) or no launchd GUI
// domain. The files can still be written; enabling them must wait.
var ErrUnavailable = errors.New("the service manager is not reachable")

// Runner runs a service-manager command and returns its standard output.
// A non-zero exit is an error carrying stderr (*RunError).
type Runner interface {
	Run(ctx context.Context, name string, args ...string) (string, error)
}

// RunError is a failed command.
type RunError struct {
	Cmd    string
	Stderr string
	Err    error
}

func (e *RunError) Error() string {
	if e.Stderr != "" {
		return fmt.Sprintf("%s: %v: %s", e.Cmd, e.Err, e.Stderr)
	}
	return fmt.Sprintf("%s: %v", e.Cmd, e.Err)
}

func (e *RunError) Unwrap() error { return e.Err }

// ExecRunner runs commands for real.
type ExecRunner struct{}

// Run implements Runner.
func (ExecRunner) Run(ctx context.Context, name string, args ...string) (string, error) {
	cmd := exec.CommandContext(ctx, name, args...)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	if err := cmd.Run(); err != nil {
		return out.String(), &RunError{Cmd: name + " " + strings.Join(args, " "), Stderr: strings.TrimSpace(errb.String()), Err: err}
	}
	return out.String(), nil
}

// Manager is the service manager as install, uninstall and status use it.
type Manager interface {
	// Reload makes the manager re-read unit files (systemd daemon-reload).
	Reload(ctx context.Context) error
	// Activate enables and starts u from path; changed says its file was
	// just replaced, so a loaded copy must be reloaded.
	Activate(ctx context.Context, u Unit, path string, changed bool) error
	// Deactivate stops and disables the unit or label id.
	Deactivate(ctx context.Context, id string) error
	// State reports what the manager knows about id.
	State(ctx context.Context, id string) (State, error)
	// EnableHint says how to enable units by hand.
	EnableHint(p Plan) string
}

// State is a unit's status as far as the manager reports it; empty fields
// are unknown.
type State struct {
	Enabled    bool
	Active     string // systemd ActiveState, launchd state
	NextRun    string
	LastRun    string
	LastResult string
}

// Systemctl drives `systemctl --user`.
type Systemctl struct{ Run Runner }

func (s Systemctl) run(ctx context.Context, args ...string) (string, error) {
	out, err := s.Run.Run(ctx, "systemctl", append([]string{"--user"}, args...)...)
	if err != nil {
		var re *RunError
		if errors.Is(err, exec.ErrNotFound) ||
			errors.As(err, &re) && (strings.Contains(re.Stderr, "Failed to connect to bus") ||
				strings.Contains(re.Stderr, "XDG_RUNTIME_DIR") || strings.Contains(re.Stderr, "No medium found")) {
			return out, fmt.Errorf("%w: %w", ErrUnavailable, err)
		}
	}
	return out, err
}

// Reload implements Manager.
func (s Systemctl) Reload(ctx context.Context) error {
	_, err := s.run(ctx, "daemon-reload")
	return err
}

// Activate implements Manager.
func (s Systemctl) Activate(ctx context.Context, u Unit, _ string, changed bool) error {
	if _, err := s.run(ctx, "enable", "--now", u.ID); err != nil {
		return err
	}
	if changed {
		// A running agent keeps its old command line until restarted; a
		// timer re-reads its schedule on daemon-reload, a restart is
		// harmless.
		if _, err := s.run(ctx, "try-restart", u.ID); err != nil {
			return err
		}
	}
	return nil
}

// Deactivate implements Manager.
func (s Systemctl) Deactivate(ctx context.Context, id string) error {
	_, err := s.run(ctx, "disable", "--now", id)
	return err
}

// State implements Manager.
func (s Systemctl) State(ctx context.Context, id string) (State, error) {
	out, err := s.run(ctx, "show", "-p", "UnitFileState,ActiveState,NextElapseUSecRealtime,LastTriggerUSec,Result", id)
	if err != nil {
		return State{}, err
	}
	kv := parseShow(out)
	st := State{Enabled: kv["UnitFileState"] == "enabled", Active: kv["ActiveState"],
		NextRun: showTime(kv["NextElapseUSecRealtime"]), LastRun: showTime(kv["LastTriggerUSec"]), LastResult: kv["Result"]}
	if svc, ok := strings.CutSuffix(id, ".timer"); ok {
		// The backup's own outcome lives on the service the timer starts.
		out, err := s.run(ctx, "show", "-p", "Result,ExecMainStatus", svc+".service")
		if err == nil {
			kv := parseShow(out)
			st.LastResult = kv["Result"]
			if code := kv["ExecMainStatus"]; code != "" && code != "0" {
				st.LastResult += " (exit " + code + ")"
			}
		}
	}
	return st, nil
}

func parseShow(out string) map[string]string {
	kv := map[string]string{}
	for _, line := range strings.Split(out, "\n") {
		if k, v, ok := strings.Cut(strings.TrimSpace(line), "="); ok {
			kv[k] = v
		}
	}
	return kv
}

func showTime(v string) string {
	if v == "n/a" || v == "0" {
		return ""
	}
	return v
}

// EnableHint implements Manager.
func (Systemctl) EnableHint(p Plan) string {
	ids := activatable(p)
	if len(ids) == 0 {
		return ""
	}
	return "systemctl --user daemon-reload && systemctl --user enable --now " + strings.Join(ids, " ")
}

func activatable(p Plan) []string {
	var ids []string
	for _, u := range p.Units {
		if u.Activate {
			ids = append(ids, shellQuote(u.ID))
		}
	}
	return ids
}

func shellQuote(s string) string {
	if s != "" && strings.IndexFunc(s, func(r rune) bool {
		return !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || strings.ContainsRune("@%_+=:,./-", r))
	}) < 0 {
		return s
	}
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}

// Launchctl drives `launchctl` in the user's GUI domain.
type Launchctl struct {
	Run Runner
	UID int
}

func (l Launchctl) domain() string { return "gui/" + strconv.Itoa(l.UID) }

func (l Launchctl) run(ctx context.Context, args ...string) (string, error) {
	out, err := l.Run.Run(ctx, "launchctl", args...)
	if err != nil {
		var re *RunError
		if errors.Is(err, exec.ErrNotFound) || errors.As(err, &re) && strings.Contains(re.Stderr, "Could not find domain") {
			return out, fmt.Errorf("%w: %w", ErrUnavailable, err)
		}
	}
	return out, err
}

// Reload implements Manager; launchd reads a plist when it is bootstrapped.
func (Launchctl) Reload(context.Context) error { return nil }

// Activate implements Manager.
func (l Launchctl) Activate(ctx context.Context, u Unit, path string, changed bool) error {
	target := l.domain() + "/" + u.ID
	_, err := l.run(ctx, "print", target)
	loaded := err == nil
	if errors.Is(err, ErrUnavailable) {
		return err
	}
	if loaded && !changed {
		return nil
	}
	if loaded {
		if _, err := l.run(ctx, "bootout", target); err != nil {
			return err
		}
	}
	// A label disabled earlier (launchctl disable) refuses to bootstrap.
	if _, err := l.run(ctx, "enable", target); err != nil {
		return err
	}
	_, err = l.run(ctx, "bootstrap", l.domain(), path)
	return err
}

// Deactivate implements Manager.
func (l Launchctl) Deactivate(ctx context.Context, id string) error {
	target := l.domain() + "/" + id
	if _, err := l.run(ctx, "print", target); err != nil {
		if errors.Is(err, ErrUnavailable) {
			return err
		}
		return nil // not loaded
	}
	_, err := l.run(ctx, "bootout", target)
	return err
}

// State implements Manager.
func (l Launchctl) State(ctx context.Context, id string) (State, error) {
	out, err := l.run(ctx, "print", l.domain()+"/"+id)
	if err != nil {
		if errors.Is(err, ErrUnavailable) {
			return State{}, err
		}
		return State{Active: "not loaded"}, nil
	}
	st := State{Enabled: true}
	for _, line := range strings.Split(out, "\n") {
		k, v, ok := strings.Cut(strings.TrimSpace(line), " = ")
		if !ok {
			continue
		}
		switch k {
		case "state":
			if st.Active == "" {
				st.Active = v
			}
		case "last exit code":
			if st.LastResult == "" {
				st.LastResult = v
			}
		}
	}
	return st, nil
}

// EnableHint implements Manager.
func (l Launchctl) EnableHint(p Plan) string {
	var cmds []string
	for _, u := range p.Units {
		if u.Activate {
			cmds = append(cmds, "launchctl bootstrap "+l.domain()+" "+shellQuote(p.Dir+"/"+u.Name))
		}
	}
	return strings.Join(cmds, " && ")
}
