package keystore

import (
	"errors"
	"sync"
)

// memKeychain is an in-memory Backend. The function fields, when set, run
// before the map is touched and can fail a call.
type memKeychain struct {
	mu       sync.Mutex
	m        map[string]string
	reads    []string // accounts read, in order
	onGet    func(account string) error
	onSet    func(account, secret string) error
	onDelete func(account string) error
}

func newMemKeychain() *memKeychain { return &memKeychain{m: map[string]string{}} }

func (k *memKeychain) Get(service, account string) (string, error) {
	k.mu.Lock()
	defer k.mu.Unlock()
	if service != Service {
		return "", errors.New("unexpected service " + service)
	}
	k.reads = append(k.reads, account)
	if k.onGet != nil {
		if err := k.onGet(account); err != nil {
			return "", err
		}
	}
	v, ok := k.m[account]
	if !ok {
		return "", ErrNotFound
	}
	return v, nil
}

func (k *memKeychain) Set(service, account, secret string) error {
	k.mu.Lock()
	defer k.mu.Unlock()
	if k.onSet != nil {
		if err := k.onSet(account, secret); err != nil {
			return err
		}
	}
	k.m[account] = secret
	return nil
}

func (k *memKeychain) Delete(service, account string) error {
	k.mu.Lock()
	defer k.mu.Unlock()
	if k.onDelete != nil {
		if err := k.onDelete(account); err != nil {
			return err
		}
	}
	if _, ok := k.m[account]; !ok {
		return ErrNotFound
	}
	delete(k.m, account)
	return nil
}

func (k *memKeychain) resetReads() {
	k.mu.Lock()
	defer k.mu.Unlock()
	k.reads = nil
}
