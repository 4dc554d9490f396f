package notify

import (
	"context"
	"fmt"
	"sync"
	"time"

	"github.com/icevault/icevault/internal/clock"
)

// Options say which notifications the user wants and how often. The zero
// value shows everything, unlimited; DefaultOptions is what icevault ships.
type Options struct {
	Off   bool                 // no notifications at all (the tray still shows state)
	Kinds map[Kind]KindOptions // per kind; a missing kind is unlimited
}

// KindOptions configure one kind.
type KindOptions struct {
	Quiet bool // never show this kind
	// MinInterval is the least time between two shown notifications of
	// this kind and group. Within it a new one is dropped — or, with
	// Coalesce, held and shown once the interval has passed, saying how
	// many were held.
	MinInterval time.Duration
	Coalesce    bool
}

// DefaultOptions: at most one "backup finished" an hour per repository;
// failures at most every 30 minutes but never lost (coalesced); "login
// required" again after 15 minutes if it is still true; restore news always.
func DefaultOptions() Options {
	return Options{Kinds: map[Kind]KindOptions{
		BackupFinished: {MinInterval: time.Hour},
		BackupFailed:   {MinInterval: 30 * time.Minute, Coalesce: true},
		LoginRequired:  {MinInterval: 15 * time.Minute},
	}}
}

// topic is what rate limits and replacement are counted per.
type topic struct {
	kind  Kind
	group string
}

type held struct {
	n     Notification
	count int
	since time.Time
}

// Limiter is a Notifier that applies Options before passing notifications
// on. It keeps its own state only; compose it in front of the platform
// notifier once, in the agent.
type Limiter struct {
	next  Notifier
	clk   clock.Clock
	opts  Options
	onErr func(error)

	ctx    context.Context
	cancel context.CancelFunc
	wg     sync.WaitGroup

	mu   sync.Mutex
	last map[topic]time.Time
	held map[topic]*held
}

// NewLimiter wraps next. onErr, if not nil, receives errors of coalesced
// notifications sent later, when no caller is waiting for them.
func NewLimiter(next Notifier, clk clock.Clock, opts Options, onErr func(error)) *Limiter {
	ctx, cancel := context.WithCancel(context.Background())
	return &Limiter{
		next: next, clk: clk, opts: opts, onErr: onErr,
		ctx: ctx, cancel: cancel,
		last: map[topic]time.Time{}, held: map[topic]*held{},
	}
}

// Notify shows n, or drops or holds it as the options say; then it returns
// ID 0 and no error.
func (l *Limiter) Notify(ctx context.Context, n Notification) (ID, error) {
	ko := l.opts.Kinds[n.Kind]
	if l.opts.Off || ko.Quiet {
		return 0, nil
	}
	t := topic{n.Kind, n.Group}
	l.mu.Lock()
	now := l.clk.Now()
	if n.Kind == BackupFinished {
		// The repository recovered: failures still held are old news,
		// and the tray shows the last result anyway.
		delete(l.held, topic{BackupFailed, n.Group})
	}
	last, seen := l.last[t]
	if !seen || ko.MinInterval <= 0 || now.Sub(last) >= ko.MinInterval {
		l.last[t] = now
		delete(l.held, t) // n is newer than anything held
		l.mu.Unlock()
		id, err := l.next.Notify(ctx, n)
		if err != nil {
			l.forget(t, now)
		}
		return id, err
	}
	if !ko.Coalesce {
		l.mu.Unlock()
		return 0, nil
	}
	h := l.held[t]
	if h == nil {
		h = &held{since: now}
		l.held[t] = h
		wait := last.Add(ko.MinInterval).Sub(now)
		l.wg.Add(1)
		go l.flushAfter(t, h, wait)
	}
	h.n = n
	h.count++
	l.mu.Unlock()
	return 0, nil
}

// forget undoes the rate-limit bookkeeping of a send that failed, so the
// next attempt is not held back by a notification nobody saw.
func (l *Limiter) forget(t topic, at time.Time) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.last[t].Equal(at) {
		delete(l.last, t)
	}
}

func (l *Limiter) flushAfter(t topic, h *held, wait time.Duration) {
	defer l.wg.Done()
	if err := l.clk.Sleep(l.ctx, wait); err != nil {
		return // closed
	}
	l.mu.Lock()
	if l.held[t] != h { // superseded or cancelled meanwhile
		l.mu.Unlock()
		return
	}
	delete(l.held, t)
	now := l.clk.Now()
	l.last[t] = now
	n := h.n
	if h.count > 1 {
		n.Body = joinBody(n.Body, fmt.Sprintf("%d times since %s.", h.count, h.since.Format("15:04")))
	}
	l.mu.Unlock()
	if _, err := l.next.Notify(l.ctx, n); err != nil {
		l.forget(t, now)
		if l.onErr != nil {
			l.onErr(fmt.Errorf("notify: coalesced %s: %w", n.Kind, err))
		}
	}
}

func joinBody(body, more string) string {
	if body == "" {
		return more
	}
	return body + "\n" + more
}

// Close drops held notifications and waits for pending sends to end.
func (l *Limiter) Close() error {
	l.cancel()
	l.wg.Wait()
	return nil
}
