package keystore

import (
	"errors"
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/zalando/go-keyring"
)

// Backend is the keychain as the store uses it: go-keyring's three calls, so
// a fake can stand in. Get returns ErrNotFound for a missing entry.
type Backend interface {
	Get(service, account string) (string, error)
	Set(service, account, secret string) error
	Delete(service, account string) error
}

// ErrNotFound is returned by a Backend for a missing entry.
var ErrNotFound = errors.New("no such keychain entry")

// osKeychain is the OS keychain through go-keyring: macOS Keychain via
// /usr/bin/security (no cgo), Secret Service over D-Bus on Linux, Windows
// Credential Manager.
type osKeychain struct{}

func (osKeychain) Get(service, account string) (string, error) {
	v, err := keyring.Get(service, account)
	if errors.Is(err, keyring.ErrNotFound) {
		return "", ErrNotFound
	}
	return v, err
}

func (osKeychain) Set(service, account, secret string) error {
	return keyring.Set(service, account, secret)
}

func (osKeychain) Delete(service, account string) error {
	err := keyring.Delete(service, account)
	if errors.Is(err, keyring.ErrNotFound) {
		return ErrNotFound
	}
	return err
}

// probeAccount cannot collide with a repository's accounts: repository IDs
// do not start with "_".
const probeAccount = "_probe"

type probeTimeoutError struct{ after time.Duration }

func (e *probeTimeoutError) Error() string {
	return fmt.Sprintf("the OS keychain did not answer within %v (locked, waiting for an unlock prompt?)", e.after)
}

// probe asks the keychain for an entry that does not exist: "not found" means
// it works. A Secret Service can wait forever on an unlock prompt nobody
// sees, so the call is bounded; on timeout its goroutine is abandoned.
func probe(b Backend, timeout time.Duration) error {
	done := make(chan error, 1)
	go func() {
		_, err := b.Get(Service, probeAccount)
		done <- err
	}()
	select {
	case err := <-done:
		if err == nil || errors.Is(err, ErrNotFound) {
			return nil
		}
		return fmt.Errorf("the OS keychain does not work here: %w", err)
	case <-time.After(timeout):
		return &probeTimeoutError{after: timeout}
	}
}

type keychainBackend struct{ b Backend }

func account(repoID, name string) string { return repoID + "/" + name }

func sortedNames(vals map[string]string) []string {
	names := make([]string, 0, len(vals))
	for n := range vals {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}

func (k *keychainBackend) get(repoID string, names []string) (map[string]string, error) {
	vals := make(map[string]string, len(names))
	var missing []string
	for _, n := range names {
		v, err := k.b.Get(Service, account(repoID, n))
		switch {
		case errors.Is(err, ErrNotFound):
			missing = append(missing, n)
		case err != nil:
			return nil, fmt.Errorf("keychain: read %s: %w", account(repoID, n), err)
		default:
			vals[n] = v
		}
	}
	if len(missing) == len(names) {
		return nil, fmt.Errorf("keychain (service %q): %w", Service, ErrNoSecrets)
	}
	if len(missing) > 0 {
		return nil, fmt.Errorf("keychain (service %q) is missing %s: %w", Service, strings.Join(missing, ", "), ErrNoSecrets)
	}
	return vals, nil
}

// put writes all values or none: on a failure it restores what it changed.
func (k *keychainBackend) put(repoID string, vals map[string]string, replace bool) error {
	names := sortedNames(vals)
	old := map[string]string{}
	var existing []string
	for _, n := range names {
		v, err := k.b.Get(Service, account(repoID, n))
		switch {
		case errors.Is(err, ErrNotFound):
		case err != nil:
			return fmt.Errorf("keychain: read %s: %w", account(repoID, n), err)
		default:
			old[n] = v
			existing = append(existing, n)
		}
	}
	if len(existing) > 0 && !replace {
		return fmt.Errorf("keychain has %s: %w", strings.Join(existing, ", "), ErrExists)
	}
	for i, n := range names {
		if err := k.b.Set(Service, account(repoID, n), vals[n]); err != nil {
			err = fmt.Errorf("keychain: write %s: %w", account(repoID, n), err)
			if rerr := k.rollback(repoID, names[:i], old); rerr != nil {
				err = fmt.Errorf("%w; undoing the earlier writes failed too: %v", err, rerr)
			}
			return err
		}
	}
	return nil
}

func (k *keychainBackend) rollback(repoID string, written []string, old map[string]string) error {
	var errs []error
	for _, n := range written {
		var err error
		if v, ok := old[n]; ok {
			err = k.b.Set(Service, account(repoID, n), v)
		} else {
			err = k.b.Delete(Service, account(repoID, n))
		}
		if err != nil && !errors.Is(err, ErrNotFound) {
			errs = append(errs, fmt.Errorf("%s: %w", account(repoID, n), err))
		}
	}
	return errors.Join(errs...)
}

func (k *keychainBackend) delete(repoID, name string) error {
	err := k.b.Delete(Service, account(repoID, name))
	if err != nil && !errors.Is(err, ErrNotFound) {
		return fmt.Errorf("keystore: keychain: delete %s: %w", account(repoID, name), err)
	}
	return nil
}
