package testenv

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// A v1 CLI is rejected wherever it sits — in a preferred location or first
// on PATH — and a v2 behind it is found.
func TestFindCLIv2(t *testing.T) {
	script := func(dir, version string, toStderr bool) string {
		t.Helper()
		if err := os.MkdirAll(dir, 0o755); err != nil {
			t.Fatal(err)
		}
		redirect := ""
		if toStderr {
			redirect = " >&2" // v1 prints its version on stderr
		}
		p := filepath.Join(dir, "aws")
		if err := os.WriteFile(p, []byte("#!/bin/sh\necho '"+version+"'"+redirect+"\n"), 0o755); err != nil {
			t.Fatal(err)
		}
		return p
	}
	root := t.TempDir()
	v1 := script(filepath.Join(root, "pyenv"), "aws-cli/1.32.0 Python/3.11.7 Linux/6 botocore/1.34.0", true)
	v2 := script(filepath.Join(root, "debian"), "aws-cli/2.9.19 Python/3.11.2 Linux/6 source/x86_64.debian.12", false)

	tests := []struct {
		name       string
		candidates []string
		path       []string
		want       string
		whyHas     string
	}{
		{"preferred v2", []string{v2}, []string{filepath.Dir(v1)}, v2, ""},
		{"v1 first on PATH, v2 later", nil, []string{filepath.Dir(v1), filepath.Dir(v2)}, v2, ""},
		{"preferred v1 skipped", []string{v1}, []string{filepath.Dir(v2)}, v2, ""},
		{"only v1", []string{v1}, []string{filepath.Dir(v1)}, "", "aws-cli/1.32.0"},
		{"none", []string{filepath.Join(root, "nope", "aws")}, []string{filepath.Join(root, "nope")}, "", "no aws executable"},
	}
	saved := cliCandidates
	t.Cleanup(func() { cliCandidates = saved })
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cliCandidates = tt.candidates
			t.Setenv("PATH", strings.Join(tt.path, string(os.PathListSeparator)))
			got, why := findCLIv2()
			if got.Path != tt.want || !strings.Contains(why, tt.whyHas) {
				t.Errorf("findCLIv2() = %q, %q; want %q and a reason containing %q", got.Path, why, tt.want, tt.whyHas)
			}
		})
	}
}

func TestTailBuffer(t *testing.T) {
	b := &tailBuffer{max: 8}
	b.Write([]byte("0123"))
	if got := b.String(); got != "0123" {
		t.Errorf("String() = %q", got)
	}
	b.Write([]byte("456789ab"))
	if got := b.String(); !strings.HasSuffix(got, "456789ab") || !strings.Contains(got, "dropped") {
		t.Errorf("String() after overflow = %q; want the last 8 bytes and a note", got)
	}
}
