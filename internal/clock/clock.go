// Package clock injects time. Deep Archive thaws take 12–48 hours; every
// wait in icevault goes through a Clock so tests drive it with a Fake and the
// demo with a Scaled clock instead of sleeping (DESIGN §2.9).
package clock

import (
	"context"
	"sync"
	"time"
)

// Clock tells the time and waits for it.
type Clock interface {
	Now() time.Time
	// Sleep waits for d of this clock's time, or until ctx is done.
	Sleep(ctx context.Context, d time.Duration) error
}

// Real is the wall clock.
type Real struct{}

// Now returns time.Now().
func (Real) Now() time.Time { return time.Now() }

// Sleep waits d or until ctx is done.
func (Real) Sleep(ctx context.Context, d time.Duration) error {
	if d <= 0 {
		return ctx.Err()
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}

// Scaled runs Factor times faster than the wall clock from Start on, so a
// 12-hour thaw passes in 12 seconds at Factor 3600. It is for demos.
type Scaled struct {
	Start  time.Time // the moment both clocks agree
	Factor float64   // how many seconds pass per wall-clock second; >= 1
	real   Real
}

// NewScaled returns a clock that starts at the wall-clock now.
func NewScaled(factor float64) *Scaled {
	if factor < 1 {
		factor = 1
	}
	return &Scaled{Start: time.Now(), Factor: factor}
}

// Now returns Start plus the scaled wall-clock time elapsed since Start.
func (s *Scaled) Now() time.Time {
	elapsed := time.Since(s.Start)
	return s.Start.Add(time.Duration(float64(elapsed) * s.Factor))
}

// Sleep waits d of scaled time.
func (s *Scaled) Sleep(ctx context.Context, d time.Duration) error {
	return s.real.Sleep(ctx, time.Duration(float64(d)/s.Factor))
}

// Fake is a manual clock for tests. Time moves only by Advance or Set;
// Sleep returns once Advance has moved past its deadline.
type Fake struct {
	mu      sync.Mutex
	now     time.Time
	waiters []waiter
}

type waiter struct {
	until time.Time
	ch    chan struct{}
}

// NewFake returns a Fake clock set to t.
func NewFake(t time.Time) *Fake { return &Fake{now: t} }

// Now returns the fake time.
func (f *Fake) Now() time.Time {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.now
}

// Advance moves the clock forward by d and wakes the sleepers whose time came.
func (f *Fake) Advance(d time.Duration) { f.Set(f.Now().Add(d)) }

// Set moves the clock to t (never backwards) and wakes due sleepers.
func (f *Fake) Set(t time.Time) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if t.After(f.now) {
		f.now = t
	}
	kept := f.waiters[:0]
	for _, w := range f.waiters {
		if !w.until.After(f.now) {
			close(w.ch)
			continue
		}
		kept = append(kept, w)
	}
	f.waiters = kept
}

// Sleepers reports how many Sleep calls are waiting; tests use it to know a
// goroutine has reached its wait before advancing the clock.
func (f *Fake) Sleepers() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return len(f.waiters)
}

// Sleep blocks until the fake time reaches now+d or ctx is done.
func (f *Fake) Sleep(ctx context.Context, d time.Duration) error {
	f.mu.Lock()
	if d <= 0 {
		f.mu.Unlock()
		return ctx.Err()
	}
	w := waiter{until: f.now.Add(d), ch: make(chan struct{})}
	f.waiters = append(f.waiters, w)
	f.mu.Unlock()
	select {
	case <-ctx.Done():
		f.remove(w.ch)
		return ctx.Err()
	case <-w.ch:
		return nil
	}
}

func (f *Fake) remove(ch chan struct{}) {
	f.mu.Lock()
	defer f.mu.Unlock()
	for i, w := range f.waiters {
		if w.ch == ch {
			f.waiters = append(f.waiters[:i], f.waiters[i+1:]...)
			return
		}
	}
}
