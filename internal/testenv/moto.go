package testenv

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"
)

const (
	// motoStartTimeout bounds the wait for a fresh moto_server to answer.
	// Python imports take 1–3 s on an idle machine; a loaded CI runner with
	// many parallel tests needs headroom, but a hang must still fail fast.
	motoStartTimeout = 15 * time.Second
	// motoStartAttempts: the free port is picked before moto binds it, so a
	// parallel test can steal it in between; a retry on a new port fixes that.
	motoStartAttempts = 3
	// stopGrace is how long moto gets to exit on SIGTERM before SIGKILL.
	stopGrace = 3 * time.Second
	// logTail caps the moto output kept for failure messages: werkzeug logs
	// every request, and only the end matters when something breaks.
	logTail = 64 << 10

	motoInstall = "moto 5.x provides moto_server (pip install 'moto[server]'); " +
		"on the CI image it is preinstalled under pyenv, see .ci/install-test-deps.sh"
)

// MotoServer is one running moto_server, private to the test that started
// it. Moto accepts any credentials; these fixed ones keep requests signed as
// the SDK and the CLI would sign them against AWS.
type MotoServer struct {
	URL       string // http://127.0.0.1:PORT, no trailing slash
	Region    string
	AccessKey string
	SecretKey string

	log  *tailBuffer
	cmd  *exec.Cmd
	done chan struct{} // closed when cmd.Wait has returned
	werr error         // cmd.Wait's result, valid once done is closed
}

// Moto starts a moto_server on a free loopback port, waits until it answers
// HTTP, and stops it (its whole process group) when the test ends. Each call
// gets its own server and therefore its own empty state, so parallel tests
// do not see each other's buckets.
func Moto(t testing.TB) *MotoServer {
	t.Helper()
	bin := motoPath(t)
	var errs []error
	for range motoStartAttempts {
		m, err := startMoto(bin)
		if err == nil {
			t.Cleanup(func() {
				if err := m.stop(); err != nil {
					t.Errorf("stopping moto_server: %v", err)
				}
				if t.Failed() {
					t.Logf("moto_server output (tail):\n%s", m.Logs())
				}
			})
			return m
		}
		errs = append(errs, err)
		if !errors.Is(err, errPortTaken) {
			break
		}
	}
	t.Fatalf("starting moto_server (%s): %v", bin, errors.Join(errs...))
	return nil
}

// Logs returns the tail of moto_server's combined stdout and stderr.
func (m *MotoServer) Logs() string { return m.log.String() }

// S3Client returns an SDK client for this server: path-style addressing
// (moto would otherwise need wildcard DNS for bucket.127.0.0.1), the server's
// URL as BaseEndpoint and the server's static credentials. optFns adjust the
// options further, e.g. to capture requests or change checksum behaviour.
//
// The checksum settings are spelled out because s3.New leaves them unset,
// which behaves like WhenRequired (no default CRC32), whereas the client
// icevault builds from config.LoadDefaultConfig gets WhenSupported; tests
// must send what production sends.
func (m *MotoServer) S3Client(t testing.TB, optFns ...func(*s3.Options)) *s3.Client {
	t.Helper()
	return s3.New(s3.Options{
		Region:                     m.Region,
		BaseEndpoint:               aws.String(m.URL),
		UsePathStyle:               true,
		Credentials:                credentials.NewStaticCredentialsProvider(m.AccessKey, m.SecretKey, ""),
		RequestChecksumCalculation: aws.RequestChecksumCalculationWhenSupported,
		ResponseChecksumValidation: aws.ResponseChecksumValidationWhenSupported,
	}, optFns...)
}

// CreateBucket creates the bucket name, failing the test on any error.
func (m *MotoServer) CreateBucket(t testing.TB, name string) {
	t.Helper()
	in := &s3.CreateBucketInput{Bucket: aws.String(name)}
	if m.Region != "us-east-1" { // us-east-1 rejects an explicit constraint
		in.CreateBucketConfiguration = &types.CreateBucketConfiguration{
			LocationConstraint: types.BucketLocationConstraint(m.Region),
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if _, err := m.S3Client(t).CreateBucket(ctx, in); err != nil {
		// Moto's output is logged by the cleanup Moto registered.
		t.Fatalf("create bucket %q on moto: %v", name, err)
	}
}

var errPortTaken = errors.New("port already in use")

func startMoto(bin string) (*MotoServer, error) {
	port, err := freePort()
	if err != nil {
		return nil, err
	}
	m := &MotoServer{
		URL:       "http://127.0.0.1:" + strconv.Itoa(port),
		Region:    "us-east-1",
		AccessKey: "AKIAICEVAULTTESTKEY1",
		SecretKey: "icevault/test/secret/key/not/a/real/one/00",
		log:       &tailBuffer{max: logTail},
		done:      make(chan struct{}),
	}
	cmd := exec.Command(bin, "-H", "127.0.0.1", "-p", strconv.Itoa(port))
	cmd.Env = motoEnv()
	cmd.Stdout = m.log
	cmd.Stderr = m.log
	// A grandchild holding the output pipe open must not hang Wait forever.
	cmd.WaitDelay = stopGrace
	ownProcessGroup(cmd)
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("exec: %w", err)
	}
	m.cmd = cmd
	go func() {
		m.werr = cmd.Wait()
		close(m.done)
	}()
	if err := m.waitReady(); err != nil {
		serr := m.stop()
		if strings.Contains(m.Logs(), "Address already in use") {
			err = fmt.Errorf("%w: %w", errPortTaken, err)
		}
		return nil, errors.Join(err, serr)
	}
	return m, nil
}

// waitReady polls until moto answers any HTTP request, the process exits or
// motoStartTimeout passes.
func (m *MotoServer) waitReady() error {
	client := &http.Client{Timeout: time.Second}
	deadline := time.Now().Add(motoStartTimeout)
	for {
		select {
		case <-m.done:
			return fmt.Errorf("moto_server exited before it was ready (%v); output:\n%s", m.werr, m.Logs())
		default:
		}
		resp, err := client.Get(m.URL + "/")
		if err == nil {
			resp.Body.Close()
			return nil // any status: the server is up and routing requests
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("moto_server did not answer on %s within %v (last error: %v); output:\n%s",
				m.URL, motoStartTimeout, err, m.Logs())
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// stop ends moto's whole process group, politely first. Waiting for done
// means cmd.Wait has reaped the process, so no zombie outlives the test.
func (m *MotoServer) stop() error {
	if m.cmd == nil || m.cmd.Process == nil {
		return nil
	}
	signalGroup(m.cmd, sigTerm)
	select {
	case <-m.done:
		return nil
	case <-time.After(stopGrace):
	}
	signalGroup(m.cmd, sigKill)
	select {
	case <-m.done:
		return nil
	case <-time.After(stopGrace):
		return fmt.Errorf("moto_server (pid %d) still running after SIGKILL", m.cmd.Process.Pid)
	}
}

func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, fmt.Errorf("finding a free port: %w", err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

// motoPath finds moto_server on PATH or, failing that, where pyenv puts its
// shims (go test may run with a PATH that lacks them).
func motoPath(t testing.TB) string {
	t.Helper()
	if p, err := exec.LookPath("moto_server"); err == nil {
		return p
	}
	if home, err := os.UserHomeDir(); err == nil {
		p := filepath.Join(home, ".pyenv", "shims", "moto_server")
		if fi, err := os.Stat(p); err == nil && fi.Mode().IsRegular() && fi.Mode()&0o111 != 0 {
			return p
		}
	}
	return RequireTool(t, "moto_server", motoInstall)
}

// motoEnv is the test's environment without AWS_* variables, so a
// developer's profile or endpoint settings cannot change moto's behaviour.
func motoEnv() []string {
	var env []string
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "AWS_") {
			env = append(env, kv)
		}
	}
	return append(env, "PYTHONUNBUFFERED=1")
}

// tailBuffer keeps the last max bytes written to it; safe for concurrent use
// because moto's stdout and stderr are copied by separate goroutines.
type tailBuffer struct {
	mu        sync.Mutex
	buf       []byte
	max       int
	truncated bool
}

func (b *tailBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.buf = append(b.buf, p...)
	if over := len(b.buf) - b.max; over > 0 {
		b.buf = append(b.buf[:0], b.buf[over:]...)
		b.truncated = true
	}
	return len(p), nil
}

func (b *tailBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	s := string(bytes.Clone(b.buf))
	if b.truncated {
		s = "[…earlier output dropped…]\n" + s
	}
	return s
}
