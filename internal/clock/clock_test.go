package clock

import (
	"context"
	"testing"
	"time"
)

func TestFakeSleepWakesOnAdvance(t *testing.T) {
	f := NewFake(time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC))
	done := make(chan error, 1)
	go func() { done <- f.Sleep(context.Background(), 12*time.Hour) }()
	for f.Sleepers() == 0 {
		time.Sleep(time.Millisecond)
	}
	f.Advance(11 * time.Hour)
	select {
	case <-done:
		t.Fatal("Sleep returned before its deadline")
	case <-time.After(20 * time.Millisecond):
	}
	f.Advance(time.Hour)
	if err := <-done; err != nil {
		t.Fatalf("Sleep: %v", err)
	}
	if f.Sleepers() != 0 {
		t.Fatalf("sleepers left: %d", f.Sleepers())
	}
}

func TestFakeSleepCancel(t *testing.T) {
	f := NewFake(time.Unix(0, 0))
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := f.Sleep(ctx, time.Hour); err == nil {
		t.Fatal("Sleep on a cancelled context returned nil")
	}
	if f.Sleepers() != 0 {
		t.Fatal("cancelled sleeper was not removed")
	}
}

func TestFakeNeverGoesBack(t *testing.T) {
	start := time.Unix(1000, 0)
	f := NewFake(start)
	f.Set(start.Add(-time.Hour))
	if !f.Now().Equal(start) {
		t.Fatalf("clock moved back to %v", f.Now())
	}
}

func TestScaled(t *testing.T) {
	s := NewScaled(3600)
	time.Sleep(10 * time.Millisecond)
	if got := s.Now().Sub(s.Start); got < 30*time.Second {
		t.Fatalf("scaled clock advanced only %v after 10ms at x3600", got)
	}
}
