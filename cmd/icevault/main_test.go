package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/icevault/icevault/internal/config"
	"github.com/icevault/icevault/internal/store"
)

func runCLI(t *testing.T, args ...string) (stdout, stderr string, code int) {
	t.Helper()
	var out, errb bytes.Buffer
	code = run(context.Background(), args, strings.NewReader(""), &out, &errb)
	return out.String(), errb.String(), code
}

func TestExitCodes(t *testing.T) {
	for _, c := range []struct {
		err  error
		want int
	}{
		{nil, exitOK},
		{errors.New("boom"), exitError},
		{usageError{errors.New("bad flag")}, exitUsage},
		{fmt.Errorf("load: %w", config.ErrNoConfig), exitUsage},
		{fmt.Errorf("backup: %w", context.Canceled), exitInterrupted},
		{&store.Error{Kind: store.KindLoginRequired}, exitLoginRequired},
		{fmt.Errorf("wrapped: %w", &store.Error{Kind: store.KindAccessDenied}), exitAccessDenied},
		{&store.Error{Kind: store.KindTransient}, exitTransient},
		{&store.Error{Kind: store.KindArchived}, exitNotReady},
		{&store.Error{Kind: store.KindRestoreInProgress}, exitNotReady},
		{&store.Error{Kind: store.KindNotFound}, exitNotFound},
		{&store.Error{Kind: store.KindExists}, exitError},
	} {
		if got := exitCode(c.err); got != c.want {
			t.Errorf("exitCode(%v) = %d, want %d", c.err, got, c.want)
		}
	}
}

func TestVersionJSON(t *testing.T) {
	out, _, code := runCLI(t, "version", "--json")
	var v map[string]string
	if code != 0 || json.Unmarshal([]byte(out), &v) != nil || v["version"] == "" || v["platform"] == "" {
		t.Fatalf("version --json = %q, exit %d", out, code)
	}
}

func TestUsageErrors(t *testing.T) {
	for _, args := range [][]string{
		{"no-such-command"},
		{"version", "--no-such-flag"},
		{"version", "extra-arg"},
		{"demo", "--tier", "expedited"},
		{"sim", "--listen", "0.0.0.0:0"},
	} {
		_, stderr, code := runCLI(t, args...)
		if code != exitUsage || !strings.HasPrefix(stderr, "icevault: ") {
			t.Errorf("%v: exit %d, stderr %q; want exit %d with a one-line message", args, code, stderr, exitUsage)
		}
	}
}

func TestCompletion(t *testing.T) {
	out, _, code := runCLI(t, "completion", "bash")
	if code != 0 || !strings.Contains(out, "icevault") {
		t.Fatalf("completion bash: exit %d, %d bytes", code, len(out))
	}
}

// TestDemo runs the README's first command end to end (with a faster clock)
// and checks the story it tells from its JSON events.
func TestDemo(t *testing.T) {
	out, stderr, code := runCLI(t, "demo", "--json", "--time-scale", "200000", "--tier", "bulk")
	if code != 0 {
		t.Fatalf("demo exit %d: %s", code, stderr)
	}
	var steps []string
	var done struct {
		Event    string
		Verified bool
		Files    int
		Requests map[string]int
	}
	for _, line := range strings.Split(strings.TrimSpace(out), "\n") {
		var ev demoStep
		if err := json.Unmarshal([]byte(line), &ev); err != nil {
			t.Fatalf("not JSON: %q", line)
		}
		if ev.Event == "done" {
			_ = json.Unmarshal([]byte(line), &done)
			continue
		}
		steps = append(steps, ev.Step)
	}
	if got := strings.Join(steps, " "); got != "sim init backup backup backup get quote quote restore restore verify log" {
		t.Fatalf("demo steps = %v", got)
	}
	if !done.Verified || done.Files != 6 || done.Requests["RestoreObject"] == 0 || done.Requests["DeleteObject"] != 0 || done.Requests["CopyObject"] != 0 {
		t.Fatalf("demo result = %+v", done)
	}
}
