package iamkeys

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/iam"
	iamtypes "github.com/aws/aws-sdk-go-v2/service/iam/types"
	"github.com/aws/aws-sdk-go-v2/service/sts"

	"github.com/icevault/icevault/internal/keystore"
)

const (
	oldID     = "AKIAOLDOLDOLDOLD0001"
	oldSecret = "old/secret/old/secret/old/secret/000001"
	newID     = "AKIANEWNEWNEWNEW0002"
	newSecret = "new/secret/new/secret/new/secret/000002"
	userARN   = "arn:aws:iam::123456789012:user/backups/laptop"
)

// memSecrets is an in-memory keystore with failure hooks.
type memSecrets struct {
	mu    sync.Mutex
	m     map[string]string
	onSet func(id, name, value string) error
}

func newMem() *memSecrets { return &memSecrets{m: map[string]string{}} }

func (s *memSecrets) Secret(id, name string) (string, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	v, ok := s.m[id+"/"+name]
	if !ok {
		return "", fmt.Errorf("keystore: %w", keystore.ErrNoSecrets)
	}
	return v, nil
}

func (s *memSecrets) SetSecret(id, name, value string) error {
	if s.onSet != nil {
		if err := s.onSet(id, name, value); err != nil {
			return err
		}
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.m[id+"/"+name] = value
	return nil
}

func (s *memSecrets) DeleteSecret(id, name string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.m, id+"/"+name)
	return nil
}

// fakeIAM records calls; the function fields replace the default behaviour.
type fakeIAM struct {
	signer  string // access key ID the client signs with
	calls   *[]string
	list    func() ([]iamtypes.AccessKeyMetadata, error)
	create  func() (*iamtypes.AccessKey, error)
	deleted func(signer, keyID string) error
}

func (f *fakeIAM) ListAccessKeys(_ context.Context, in *iam.ListAccessKeysInput, _ ...func(*iam.Options)) (*iam.ListAccessKeysOutput, error) {
	*f.calls = append(*f.calls, "List("+aws.ToString(in.UserName)+")")
	ks, err := f.list()
	return &iam.ListAccessKeysOutput{AccessKeyMetadata: ks}, err
}

func (f *fakeIAM) CreateAccessKey(_ context.Context, in *iam.CreateAccessKeyInput, _ ...func(*iam.Options)) (*iam.CreateAccessKeyOutput, error) {
	*f.calls = append(*f.calls, "Create("+aws.ToString(in.UserName)+")")
	k, err := f.create()
	return &iam.CreateAccessKeyOutput{AccessKey: k}, err
}

func (f *fakeIAM) DeleteAccessKey(_ context.Context, in *iam.DeleteAccessKeyInput, _ ...func(*iam.Options)) (*iam.DeleteAccessKeyOutput, error) {
	*f.calls = append(*f.calls, "Delete("+aws.ToString(in.AccessKeyId)+" as "+f.signer+")")
	if f.deleted != nil {
		return nil, f.deleted(f.signer, aws.ToString(in.AccessKeyId))
	}
	return &iam.DeleteAccessKeyOutput{}, nil
}

type fakeSTS struct {
	fn func() (*sts.GetCallerIdentityOutput, error)
}

func (f fakeSTS) GetCallerIdentity(context.Context, *sts.GetCallerIdentityInput, ...func(*sts.Options)) (*sts.GetCallerIdentityOutput, error) {
	return f.fn()
}

// stepClock advances by exactly what is slept: an injected clock that never
// waits, recording the sleeps.
type stepClock struct {
	now    time.Time
	sleeps []time.Duration
}

func (c *stepClock) Now() time.Time { return c.now }
func (c *stepClock) Sleep(ctx context.Context, d time.Duration) error {
	c.sleeps = append(c.sleeps, d)
	c.now = c.now.Add(d)
	return ctx.Err()
}

type world struct {
	calls       []string
	store       *memSecrets
	clk         *stepClock
	keys        []iamtypes.AccessKeyMetadata
	newFailures int // GetCallerIdentity with the new key fails this many times
	newARN      string
	createErr   error
	deleteErr   func(signer, keyID string) error
	newCalls    int
}

func newWorld(t *testing.T) *world {
	w := &world{store: newMem(), clk: &stepClock{now: time.Unix(1_800_000_000, 0)}, newARN: userARN,
		keys: []iamtypes.AccessKeyMetadata{{AccessKeyId: aws.String(oldID), Status: iamtypes.StatusTypeActive}}}
	if err := Save(w.store, "default", Keys{oldID, oldSecret}); err != nil {
		t.Fatal(err)
	}
	return w
}

func (w *world) rotator() *Rotator {
	return &Rotator{Store: w.store, Clock: w.clk, MaxWait: 30 * time.Second, Clients: func(k Keys) (IAM, STS) {
		f := &fakeIAM{signer: k.AccessKeyID, calls: &w.calls,
			list: func() ([]iamtypes.AccessKeyMetadata, error) { return w.keys, nil },
			create: func() (*iamtypes.AccessKey, error) {
				if w.createErr != nil {
					return nil, w.createErr
				}
				return &iamtypes.AccessKey{AccessKeyId: aws.String(newID), SecretAccessKey: aws.String(newSecret), Status: iamtypes.StatusTypeActive}, nil
			},
			deleted: w.deleteErr,
		}
		s := fakeSTS{fn: func() (*sts.GetCallerIdentityOutput, error) {
			if k.AccessKeyID == newID {
				w.newCalls++
				if w.newCalls <= w.newFailures {
					return nil, errors.New("InvalidClientTokenId: The security token included in the request is invalid")
				}
				return &sts.GetCallerIdentityOutput{Arn: aws.String(w.newARN)}, nil
			}
			return &sts.GetCallerIdentityOutput{Arn: aws.String(userARN)}, nil
		}}
		return f, s
	}}
}

func storedID(t *testing.T, w *world) string {
	t.Helper()
	k, err := Load(w.store, "default")
	if err != nil {
		t.Fatal(err)
	}
	return k.AccessKeyID
}

func noSecret(t *testing.T, err error) {
	t.Helper()
	if err != nil && (strings.Contains(err.Error(), newSecret) || strings.Contains(err.Error(), oldSecret)) {
		t.Fatalf("error shows a secret: %v", err)
	}
}

func TestRotateHappyWithEventualConsistency(t *testing.T) {
	w := newWorld(t)
	w.newFailures = 3
	res, err := w.rotator().Rotate(context.Background(), "default")
	if err != nil {
		t.Fatal(err)
	}
	if storedID(t, w) != newID || !res.Stored || !res.OldDeleted || res.UserName != "laptop" || res.Attempts != 4 {
		t.Fatalf("result %+v, stored %s", res, storedID(t, w))
	}
	want := "List(laptop) Create(laptop) Delete(" + oldID + " as " + newID + ")"
	if got := strings.Join(w.calls, " "); got != want {
		t.Errorf("calls %s\nwant  %s", got, want)
	}
	if fmt.Sprint(w.clk.sleeps) != "[1s 2s 4s]" {
		t.Errorf("backoff %v", w.clk.sleeps)
	}
}

func TestRotateNeverVerified(t *testing.T) {
	w := newWorld(t)
	w.newFailures = 1000
	res, err := w.rotator().Rotate(context.Background(), "default")
	noSecret(t, err)
	if !errors.Is(err, ErrNotVerified) || !strings.Contains(err.Error(), "was deleted again") || !strings.Contains(err.Error(), "unchanged and still in use") {
		t.Fatalf("err = %v", err)
	}
	if storedID(t, w) != oldID || res.Stored || !res.NewDeleted || res.OldDeleted {
		t.Fatalf("result %+v", res)
	}
	var total time.Duration
	for _, d := range w.clk.sleeps {
		total += d
		if d > 10*time.Second {
			t.Errorf("a backoff step of %v", d)
		}
	}
	if total != 30*time.Second {
		t.Errorf("waited %v in %v, want exactly MaxWait", total, w.clk.sleeps)
	}
	if last := w.calls[len(w.calls)-1]; last != "Delete("+newID+" as "+oldID+")" {
		t.Errorf("last call %s", last)
	}
}

func TestRotateFailures(t *testing.T) {
	inactive := iamtypes.AccessKeyMetadata{AccessKeyId: aws.String("AKIAOTHEROTHER000003"), Status: iamtypes.StatusTypeInactive}
	active := iamtypes.AccessKeyMetadata{AccessKeyId: aws.String("AKIAOTHEROTHER000003"), Status: iamtypes.StatusTypeActive,
		CreateDate: aws.Time(time.Date(2025, 1, 2, 0, 0, 0, 0, time.UTC))}
	for _, c := range []struct {
		name      string
		setup     func(*world, *Rotator)
		wantErr   error
		wantMsg   []string
		wantKey   string
		wantCalls string
	}{
		{"two keys, other active", func(w *world, r *Rotator) {
			w.keys = append(w.keys, active)
			r.DeleteInactive = true
		}, ErrTwoKeys, []string{"AKIAOTHEROTHER000003", "Active", "2025-01-02", "aws iam delete-access-key --user-name laptop --access-key-id AKIAOTHEROTHER000003", "Nothing was changed"}, oldID, "List(laptop)"},
		{"two keys, other inactive, no flag", func(w *world, r *Rotator) { w.keys = append(w.keys, inactive) },
			ErrTwoKeys, []string{"--delete-inactive", "inactive"}, oldID, "List(laptop)"},
		{"verify answers as another user", func(w *world, r *Rotator) { w.newARN = "arn:aws:iam::123456789012:user/someone" },
			ErrNotVerified, []string{"someone", "deleted again"}, oldID, "List(laptop) Create(laptop) Delete(" + newID + " as " + oldID + ")"},
		{"create fails", func(w *world, r *Rotator) { w.createErr = errors.New("LimitExceeded") },
			nil, []string{"LimitExceeded", "unchanged"}, oldID, "List(laptop) Create(laptop)"},
		{"store fails", func(w *world, r *Rotator) {
			w.store.onSet = func(_, _, v string) error { return errors.New("keychain locked, value " + v) }
		}, nil, []string{"keychain locked", "deleted again", "[REDACTED]"}, oldID, "List(laptop) Create(laptop) Delete(" + newID + " as " + oldID + ")"},
		{"verify fails and cleanup fails", func(w *world, r *Rotator) {
			w.newFailures = 1000
			w.deleteErr = func(string, string) error { return errors.New("AccessDenied") }
		}, ErrNotVerified, []string{"could not be deleted", "aws iam delete-access-key --user-name laptop --access-key-id " + newID}, oldID, ""},
		{"old key delete fails", func(w *world, r *Rotator) {
			w.deleteErr = func(string, string) error { return errors.New("AccessDenied") }
		}, ErrOldKeyLeft, []string{"is stored and works", "--access-key-id " + oldID}, newID,
			"List(laptop) Create(laptop) Delete(" + oldID + " as " + newID + ") Delete(" + oldID + " as " + oldID + ")"},
		{"stored key not listed", func(w *world, r *Rotator) { w.keys = nil }, nil, []string{"not among"}, oldID, "List(laptop)"},
	} {
		t.Run(c.name, func(t *testing.T) {
			w := newWorld(t)
			r := w.rotator()
			c.setup(w, r)
			_, err := r.Rotate(context.Background(), "default")
			noSecret(t, err)
			if err == nil || (c.wantErr != nil && !errors.Is(err, c.wantErr)) {
				t.Fatalf("err = %v, want %v", err, c.wantErr)
			}
			for _, m := range c.wantMsg {
				if !strings.Contains(err.Error(), m) {
					t.Errorf("error lacks %q: %v", m, err)
				}
			}
			if w.store.onSet = nil; storedID(t, w) != c.wantKey {
				t.Errorf("stored %s, want %s", storedID(t, w), c.wantKey)
			}
			if got := strings.Join(w.calls, " "); c.wantCalls != "" && got != c.wantCalls {
				t.Errorf("calls %s\nwant  %s", got, c.wantCalls)
			}
		})
	}
}

func TestRotateDeletesInactiveWithFlag(t *testing.T) {
	w := newWorld(t)
	w.keys = append(w.keys, iamtypes.AccessKeyMetadata{AccessKeyId: aws.String("AKIAOTHEROTHER000003"), Status: iamtypes.StatusTypeInactive})
	r := w.rotator()
	r.DeleteInactive = true
	res, err := r.Rotate(context.Background(), "default")
	if err != nil || res.DeletedInactive != "AKIAOTHEROTHER000003" || storedID(t, w) != newID {
		t.Fatalf("%+v %v", res, err)
	}
	if !strings.HasPrefix(strings.Join(w.calls, " "), "List(laptop) Delete(AKIAOTHEROTHER000003 as "+oldID+") Create(laptop)") {
		t.Errorf("calls %v", w.calls)
	}
}

func TestRotateRefusesNonUser(t *testing.T) {
	w := newWorld(t)
	r := w.rotator()
	inner := r.Clients
	r.Clients = func(k Keys) (IAM, STS) {
		i, _ := inner(k)
		return i, fakeSTS{fn: func() (*sts.GetCallerIdentityOutput, error) {
			return &sts.GetCallerIdentityOutput{Arn: aws.String("arn:aws:sts::123456789012:assumed-role/R/s")}, nil
		}}
	}
	if _, err := r.Rotate(context.Background(), "default"); !errors.Is(err, ErrNotIAMUser) || len(w.calls) != 0 {
		t.Fatalf("err = %v, calls %v", err, w.calls)
	}
}

func TestRotateCancelledStillCleansUp(t *testing.T) {
	w := newWorld(t)
	w.newFailures = 1000
	ctx, cancel := context.WithCancel(context.Background())
	r := w.rotator()
	r.Progress = func(string) { cancel() }
	_, err := r.Rotate(ctx, "default")
	if !errors.Is(err, ErrNotVerified) || !strings.Contains(err.Error(), "deleted again") || storedID(t, w) != oldID {
		t.Fatalf("err = %v", err)
	}
}

func TestKeysStorage(t *testing.T) {
	s := newMem()
	if _, err := Load(s, "r"); !errors.Is(err, ErrNoKeys) || !strings.Contains(err.Error(), "icevault keys set") {
		t.Fatalf("empty: %v", err)
	}
	k := Keys{oldID, oldSecret}
	if err := Save(s, "r", k); err != nil {
		t.Fatal(err)
	}
	if _, ok := s.m["iam.r/static-key"]; !ok {
		t.Fatalf("stored under %v", s.m)
	}
	if got, err := Load(s, "r"); err != nil || got != k {
		t.Fatalf("load: %v %v", got, err)
	}
	if err := Remove(s, "r"); err != nil {
		t.Fatal(err)
	}
	if err := Remove(s, "r"); err != nil {
		t.Fatal("second remove:", err)
	}
	s.m["iam.r/static-key"] = `{"access_key_id":` + oldSecret
	if _, err := Load(s, "r"); err == nil || strings.Contains(err.Error(), oldSecret) {
		t.Fatalf("damaged: %v", err)
	}
	for _, s := range []string{fmt.Sprint(k), fmt.Sprintf("%+v", k), fmt.Sprintf("%#v", k), fmt.Sprintf("%v", []Keys{k})} {
		if strings.Contains(s, oldSecret) || !strings.Contains(s, oldID) {
			t.Errorf("formatted: %s", s)
		}
	}
}

func TestValidate(t *testing.T) {
	for _, c := range []struct {
		k  Keys
		ok bool
	}{
		{Keys{oldID, oldSecret}, true},
		{Keys{"", oldSecret}, false},
		{Keys{"akiaoldoldoldold0001", oldSecret}, false},
		{Keys{"ASIAOLDOLDOLDOLD0001", oldSecret}, false},
		{Keys{oldID, ""}, false},
		{Keys{oldID, "has a space in the secret part"}, false},
		{Keys{oldID, "short"}, false},
	} {
		err := c.k.Validate()
		if (err == nil) != c.ok {
			t.Errorf("%v: %v", c.k, err)
		}
		if err != nil && c.k.SecretAccessKey != "" && strings.Contains(err.Error(), c.k.SecretAccessKey) {
			t.Errorf("error shows the secret: %v", err)
		}
	}
}

func TestUserName(t *testing.T) {
	for arn, want := range map[string]string{
		"arn:aws:iam::123456789012:user/laptop":            "laptop",
		"arn:aws:iam::123456789012:user/a/b/laptop":        "laptop",
		"arn:aws-cn:iam::123456789012:user/x":              "x",
		"arn:aws:sts::123456789012:assumed-role/Role/sess": "",
		"arn:aws:sts::123456789012:user/moto":              "",
		"garbage":                                          "",
	} {
		if got, _ := userName(arn); got != want {
			t.Errorf("%s: %q", arn, got)
		}
	}
}
