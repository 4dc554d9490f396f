package backup_test

import (
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"syscall"
	"testing"

	"github.com/icevault/icevault/internal/backup"
)

// TestPermissionDeniedIsPartial: unreadable files and folders are warnings,
// the rest is backed up, and the run says it is partial (exit status 3 in
// the CLI). Root reads everything, so as root the check runs in a child
// process as the unprivileged user 65534.
func TestPermissionDeniedIsPartial(t *testing.T) {
	if os.Getenv("ICEVAULT_PARTIAL_CHILD") != "" {
		return
	}
	base, err := os.MkdirTemp("", "icevault-partial-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(base) })
	os.Chmod(base, 0o777)
	src := filepath.Join(base, "src")
	writeFile(t, filepath.Join(src, "ok.txt"), []byte("readable"))
	writeFile(t, filepath.Join(src, "secret.txt"), []byte("not for you"))
	writeFile(t, filepath.Join(src, "locked", "inside.txt"), []byte("unseen"))
	os.Chmod(filepath.Join(src, "secret.txt"), 0o000)
	os.Chmod(filepath.Join(src, "locked"), 0o000)
	filepath.Walk(src, func(p string, fi os.FileInfo, err error) error {
		if err == nil && fi.IsDir() && p != filepath.Join(src, "locked") {
			os.Chmod(p, 0o755)
		}
		return nil
	})
	defer os.Chmod(filepath.Join(src, "locked"), 0o755)

	if os.Getuid() != 0 {
		checkPartial(t, runPartial(t, src, filepath.Join(base, "work")))
		return
	}
	exe := filepath.Join(base, "backup.test")
	b, err := os.ReadFile(os.Args[0])
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(exe, b, 0o755); err != nil {
		t.Fatal(err)
	}
	work := filepath.Join(base, "work")
	os.MkdirAll(work, 0o777)
	os.Chmod(work, 0o777)
	cmd := exec.Command(exe, "-test.run=^TestPartialChild$", "-test.v")
	cmd.Env = append(os.Environ(), "ICEVAULT_PARTIAL_CHILD="+src, "ICEVAULT_PARTIAL_WORK="+work, "HOME="+work, "TMPDIR="+work)
	cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: 65534, Gid: 65534}}
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("child as uid 65534: %v\n%s", err, out)
	}
	var sum backup.Summary
	if err := json.Unmarshal(lastLine(out, "SUMMARY "), &sum); err != nil {
		t.Fatalf("child output: %s", out)
	}
	checkPartial(t, sum)
}

func checkPartial(t *testing.T, sum backup.Summary) {
	t.Helper()
	if !sum.Partial() || sum.Warnings != 2 || sum.FilesNew != 1 || sum.SnapshotID == "" {
		t.Fatalf("summary = %+v; want a partial snapshot with 1 file and 2 warnings", sum)
	}
}

func lastLine(out []byte, prefix string) []byte {
	var last []byte
	for _, l := range splitLines(out) {
		if len(l) > len(prefix) && string(l[:len(prefix)]) == prefix {
			last = l[len(prefix):]
		}
	}
	return last
}

func splitLines(b []byte) [][]byte {
	var out [][]byte
	start := 0
	for i, c := range b {
		if c == '\n' {
			out = append(out, b[start:i])
			start = i + 1
		}
	}
	return append(out, b[start:])
}

func runPartial(t *testing.T, src, work string) backup.Summary {
	t.Setenv("TMPDIR", work)
	e := newEnv(t, 1<<20)
	sum, err := e.Run(backup.Options{Paths: []string{src}})
	if err != nil {
		t.Fatalf("backup: %v", err)
	}
	return sum
}

// TestPartialChild is TestPermissionDeniedIsPartial's unprivileged half.
func TestPartialChild(t *testing.T) {
	src := os.Getenv("ICEVAULT_PARTIAL_CHILD")
	if src == "" {
		return
	}
	sum := runPartial(t, src, os.Getenv("ICEVAULT_PARTIAL_WORK"))
	b, _ := json.Marshal(sum)
	os.Stdout.Write(append([]byte("\nSUMMARY "), append(b, '\n')...))
}
