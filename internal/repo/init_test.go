package repo

import (
	"context"
	"errors"
	"io"
	"path/filepath"
	"testing"
	"time"

	"github.com/icevault/icevault/internal/catalog"
	"github.com/icevault/icevault/internal/store"
)

// fakeInitStore answers HEAD with head and PUT with put, and counts PUTs.
type fakeInitStore struct {
	head func(key string) (store.ObjectInfo, error)
	put  func(p store.PutRequest) (store.PutResult, error)
	puts int
}

func (f *fakeInitStore) Head(_ context.Context, key string) (store.ObjectInfo, error) {
	return f.head(key)
}

func (f *fakeInitStore) Put(_ context.Context, p store.PutRequest) (store.PutResult, error) {
	f.puts++
	if _, err := io.Copy(io.Discard, p.Body); err != nil {
		return store.PutResult{}, err
	}
	return f.put(p)
}

type savedSecrets map[string]bool

func (s savedSecrets) SaveSecrets(repoID, _ string, _ [32]byte) error {
	s[repoID] = true
	return nil
}

// TestInitWhenHeadIsDenied: under a policy whose s3:ListBucket is limited by
// s3:prefix (what `icevault policy` generates), S3 may answer a HEAD of the
// missing config key with 403 instead of 404. Init must then rely on the
// create-only PUT: a new repository when it is accepted, ErrExists (and no
// catalog change) when S3 answers 412.
func TestInitWhenHeadIsDenied(t *testing.T) {
	denied := func(key string) (store.ObjectInfo, error) {
		return store.ObjectInfo{}, &store.Error{Op: "head", Key: key, Kind: store.KindAccessDenied, Code: "AccessDenied"}
	}
	for _, tc := range []struct {
		name    string
		put     func(store.PutRequest) (store.PutResult, error)
		wantErr error
	}{
		{"new", func(store.PutRequest) (store.PutResult, error) { return store.PutResult{}, nil }, nil},
		{"exists", func(p store.PutRequest) (store.PutResult, error) {
			return store.PutResult{}, &store.Error{Op: "put", Key: p.Key, Kind: store.KindExists, Code: "PreconditionFailed"}
		}, ErrExists},
		{"put denied too", func(p store.PutRequest) (store.PutResult, error) {
			return store.PutResult{}, &store.Error{Op: "put", Key: p.Key, Kind: store.KindAccessDenied, Code: "AccessDenied"}
		}, store.ErrAccessDenied},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ctx := context.Background()
			cat, err := catalog.Open(ctx, filepath.Join(t.TempDir(), "catalog.db"))
			if err != nil {
				t.Fatal(err)
			}
			defer cat.Close()
			layout, _ := NewLayout("icevault/", "home")
			st := &fakeInitStore{head: denied, put: tc.put}
			_, _, err = Init(ctx, st, cat, savedSecrets{}, InitOptions{Bucket: "b", Layout: layout, PackSize: 1 << 20, Now: time.Now()})
			if st.puts != 1 {
				t.Fatalf("Init sent %d PUTs, want 1 (the create-only config put)", st.puts)
			}
			_, settingErr := cat.Setting(ctx, settingConfig)
			if tc.wantErr == nil {
				if err != nil {
					t.Fatalf("Init: %v", err)
				}
				if settingErr != nil {
					t.Fatalf("the catalog does not hold the new repository: %v", settingErr)
				}
				return
			}
			if !errors.Is(err, tc.wantErr) {
				t.Fatalf("Init = %v, want %v", err, tc.wantErr)
			}
			if settingErr == nil {
				t.Fatal("a refused Init recorded a repository in the catalog")
			}
		})
	}
}
