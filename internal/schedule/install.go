package schedule

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
)

// Result says what Install or Uninstall did.
type Result struct {
	Written   []string // paths created or replaced
	Unchanged []string // paths already holding the wanted content
	Removed   []string // paths of ours no longer wanted
	Activated []string // unit IDs enabled/started (or confirmed so)
	// NotActivated is set when the files are in place but the service
	// manager could not be reached (wraps ErrUnavailable); Hint says how to
	// enable them by hand.
	NotActivated error
	Hint         string
}

// ours reports whether a file name in p.Dir follows our naming.
func ours(platform, name string) bool {
	if platform == "launchd" {
		return strings.HasPrefix(name, "dev.icevault.") && strings.HasSuffix(name, ".plist")
	}
	return strings.HasPrefix(name, "icevault-") && (strings.HasSuffix(name, ".service") || strings.HasSuffix(name, ".timer"))
}

// Installed lists the files in dir that this package wrote (by name and
// marker), sorted.
func Installed(platform, dir string) ([]string, error) {
	ents, err := os.ReadDir(dir)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("listing %s: %w", dir, err)
	}
	var names []string
	for _, e := range ents {
		if !e.Type().IsRegular() || !ours(platform, e.Name()) {
			continue
		}
		if marked(filepath.Join(dir, e.Name())) {
			names = append(names, e.Name())
		}
	}
	return names, nil
}

func marked(path string) bool {
	b, err := os.ReadFile(path)
	return err == nil && bytes.Contains(b, []byte(Marker))
}

// idOf is the manager's name for one of our files.
func idOf(platform, name string) string {
	if platform == "launchd" {
		return strings.TrimSuffix(name, ".plist")
	}
	return name
}

// activatableName reports whether an installed file is enabled on its own
// (a template is enabled through its timers' instances).
func activatableName(name string) bool { return !strings.HasSuffix(name, "@.service") }

// Install writes p's files (atomically, mode 0644), removes files of ours
// the plan no longer has (the other mode's, or a repository's whose
// schedule was removed), reloads the manager if anything changed and
// enables every unit. Running it again with the same plan writes nothing.
// A file of the same name without the marker is never replaced.
func Install(ctx context.Context, p Plan, m Manager) (Result, error) {
	var r Result
	want := map[string]bool{}
	for _, u := range p.Units {
		want[u.Name] = true
		path := filepath.Join(p.Dir, u.Name)
		if old, err := os.ReadFile(path); err == nil && !bytes.Contains(old, []byte(Marker)) {
			return r, fmt.Errorf("%s exists and was not written by icevault: move it away, then run install again", path)
		}
	}
	if err := os.MkdirAll(p.Dir, 0o755); err != nil {
		return r, fmt.Errorf("creating %s: %w", p.Dir, err)
	}
	if p.LogDir != "" {
		if err := os.MkdirAll(p.LogDir, 0o700); err != nil {
			return r, fmt.Errorf("creating %s: %w", p.LogDir, err)
		}
	}

	// unavailable records the first "manager not reachable": the files are
	// still written so the user can enable them later.
	managerErr := func(err error) error {
		if errors.Is(err, ErrUnavailable) {
			if r.NotActivated == nil {
				r.NotActivated = err
			}
			return nil
		}
		return err
	}

	existing, err := Installed(p.Platform, p.Dir)
	if err != nil {
		return r, err
	}
	for _, name := range existing {
		if want[name] {
			continue
		}
		if activatableName(name) {
			if err := managerErr(m.Deactivate(ctx, idOf(p.Platform, name))); err != nil {
				return r, fmt.Errorf("stopping %s: %w", name, err)
			}
		}
		path := filepath.Join(p.Dir, name)
		if err := os.Remove(path); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return r, fmt.Errorf("removing %s: %w", path, err)
		}
		r.Removed = append(r.Removed, path)
	}

	changed := map[string]bool{}
	for _, u := range p.Units {
		path := filepath.Join(p.Dir, u.Name)
		if old, err := os.ReadFile(path); err == nil && bytes.Equal(old, u.Content) {
			r.Unchanged = append(r.Unchanged, path)
			continue
		}
		if err := writeAtomic(path, u.Content); err != nil {
			return r, err
		}
		changed[u.Name] = true
		r.Written = append(r.Written, path)
	}

	if len(r.Written)+len(r.Removed) > 0 {
		if err := managerErr(m.Reload(ctx)); err != nil {
			return r, fmt.Errorf("reloading the service manager: %w", err)
		}
	}
	for _, u := range p.Units {
		if !u.Activate || r.NotActivated != nil {
			continue
		}
		if err := managerErr(m.Activate(ctx, u, filepath.Join(p.Dir, u.Name), changed[u.Name])); err != nil {
			return r, fmt.Errorf("enabling %s: %w", u.ID, err)
		}
		if r.NotActivated == nil {
			r.Activated = append(r.Activated, u.ID)
		}
	}
	if r.NotActivated != nil {
		r.Hint = m.EnableHint(p)
	}
	return r, nil
}

// Uninstall stops, disables and removes every file of ours in dir; other
// files are left alone. With nothing installed it does nothing.
func Uninstall(ctx context.Context, platform, dir string, m Manager) (Result, error) {
	var r Result
	names, err := Installed(platform, dir)
	if err != nil {
		return r, err
	}
	for _, name := range names {
		if !activatableName(name) {
			continue
		}
		if err := m.Deactivate(ctx, idOf(platform, name)); err != nil {
			if !errors.Is(err, ErrUnavailable) {
				return r, fmt.Errorf("stopping %s: %w", name, err)
			}
			// Nothing can be running under a manager that is not there.
			if r.NotActivated == nil {
				r.NotActivated = err
			}
		}
	}
	for _, name := range names {
		path := filepath.Join(dir, name)
		if err := os.Remove(path); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return r, fmt.Errorf("removing %s: %w", path, err)
		}
		r.Removed = append(r.Removed, path)
	}
	if len(names) > 0 && r.NotActivated == nil {
		if err := m.Reload(ctx); err != nil && !errors.Is(err, ErrUnavailable) {
			return r, fmt.Errorf("reloading the service manager: %w", err)
		}
	}
	return r, nil
}

// UnitStatus is one installed file and what the manager says about it.
type UnitStatus struct {
	Path  string `json:"path"`
	ID    string `json:"id"`
	State `json:"state"`
	// Err is set when the manager could not be asked.
	Err string `json:"error,omitempty"`
}

// Status reports every file of ours in dir.
func Status(ctx context.Context, platform, dir string, m Manager) ([]UnitStatus, error) {
	names, err := Installed(platform, dir)
	if err != nil {
		return nil, err
	}
	var out []UnitStatus
	for _, name := range names {
		us := UnitStatus{Path: filepath.Join(dir, name), ID: idOf(platform, name)}
		if activatableName(name) {
			st, err := m.State(ctx, us.ID)
			if err != nil {
				us.Err = err.Error()
			}
			us.State = st
		}
		out = append(out, us)
	}
	slices.SortFunc(out, func(a, b UnitStatus) int { return strings.Compare(a.Path, b.Path) })
	return out, nil
}

func writeAtomic(path string, content []byte) error {
	tmp, err := os.CreateTemp(filepath.Dir(path), ".icevault-*.tmp")
	if err != nil {
		return fmt.Errorf("writing %s: %w", path, err)
	}
	defer os.Remove(tmp.Name())
	_, err = tmp.Write(content)
	if err == nil {
		err = tmp.Chmod(0o644)
	}
	if err == nil {
		err = tmp.Sync()
	}
	if cerr := tmp.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(tmp.Name(), path)
	}
	if err != nil {
		return fmt.Errorf("writing %s: %w", path, err)
	}
	return nil
}
