// Package storetest is the store conformance suite: one set of behaviours
// that every store.Store, against every server (the simulator, moto, AWS),
// must show. A server that lacks a behaviour says so in its Harness and the
// suite checks what it can; it never weakens a check silently.
package storetest

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/icevault/icevault/internal/store"
)

// Harness is one store under test and what its server can do.
type Harness struct {
	Store store.Store
	// PagedStore is the same bucket, listing two keys per page, to exercise
	// pagination without thousands of objects.
	PagedStore store.Store
	// Thaw completes every pending restore (the simulator advances its fake
	// clock past the thaw time). Nil where restores complete at once (moto).
	Thaw func(t *testing.T)
	// Now is the server's clock, for checking restore expiry dates.
	Now func() time.Time
	// ListsRestoreStatus: ListObjectsV2 returns RestoreStatus.
	ListsRestoreStatus bool
	// ReportsChecksum: HeadObject returns the object's SHA-256.
	ReportsChecksum bool
	// VerifiesChecksum: PutObject rejects a body whose SHA-256 differs from
	// x-amz-checksum-sha256 (AWS and the simulator do; moto 5.2 does not).
	VerifiesChecksum bool
}

// Run runs the suite. Each case works under its own key prefix, so one
// server serves all of them.
func Run(t *testing.T, h Harness) {
	cases := []struct {
		name string
		fn   func(t *testing.T, h Harness, prefix string)
	}{
		{"PutThenHead", testPutThenHead},
		{"PutIsCreateOnly", testPutIsCreateOnly},
		{"PutSameContentIsIdempotent", testPutIdempotent},
		{"PutBadChecksumStoresNothing", testPutBadChecksum},
		{"Missing", testMissing},
		{"GetArchived", testGetArchived},
		{"ListPrefixAndPages", testList},
		{"RestoreLifecycle", testRestoreLifecycle},
		{"RestoreBadInput", testRestoreBadInput},
		{"OddKeys", testOddKeys},
	}
	run := fmt.Sprintf("ct-%d/", time.Now().UnixNano())
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			c.fn(t, h, run+c.name+"/")
		})
	}
}

// Object is test content with its checksum.
type Object struct {
	Key  string
	Data []byte
	Sum  [32]byte
	Meta map[string]string
}

// NewObject makes n random bytes under key.
func NewObject(key string, n int) Object {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return Object{Key: key, Data: b, Sum: sha256.Sum256(b)}
}

// Request is the PutRequest for o.
func (o Object) Request() store.PutRequest {
	return store.PutRequest{Key: o.Key, Body: bytes.NewReader(o.Data), Size: int64(len(o.Data)), SHA256: o.Sum, Metadata: o.Meta}
}

// Put stores o or fails the test.
func Put(t *testing.T, s store.Store, o Object) {
	t.Helper()
	res, err := s.Put(context.Background(), o.Request())
	if err != nil {
		t.Fatalf("Put(%q): %v", o.Key, err)
	}
	if res.Existed {
		t.Fatalf("Put(%q) of a new key reported Existed", o.Key)
	}
}

func wantKind(t *testing.T, what string, err error, want store.Kind) {
	t.Helper()
	if err == nil {
		t.Fatalf("%s: got no error, want %s", what, want)
	}
	if got := store.KindOf(err); got != want {
		t.Fatalf("%s: got kind %s (%v), want %s", what, got, err, want)
	}
}

func testPutThenHead(t *testing.T, h Harness, prefix string) {
	o := NewObject(prefix+"pack-1", 3000)
	o.Meta = map[string]string{"icevault-kind": "data", "icevault-blobs": "17"}
	Put(t, h.Store, o)
	info, err := h.Store.Head(context.Background(), o.Key)
	if err != nil {
		t.Fatalf("Head: %v", err)
	}
	if info.Key != o.Key || info.Size != int64(len(o.Data)) || info.StorageClass != store.StorageClass {
		t.Fatalf("Head = key %q size %d class %q; want %q %d %s", info.Key, info.Size, info.StorageClass, o.Key, len(o.Data), store.StorageClass)
	}
	if info.Restore.State != store.RestoreNone {
		t.Fatalf("fresh object restore state = %s, want archived", info.Restore.State)
	}
	for k, v := range o.Meta {
		if info.Metadata[k] != v {
			t.Fatalf("metadata %q = %q, want %q (all: %v)", k, info.Metadata[k], v, info.Metadata)
		}
	}
	if h.ReportsChecksum && info.SHA256 != o.Sum {
		t.Fatalf("Head SHA-256 = %x, want %x", info.SHA256, o.Sum)
	}
}

func testPutIsCreateOnly(t *testing.T, h Harness, prefix string) {
	o := NewObject(prefix+"k", 100)
	Put(t, h.Store, o)
	other := NewObject(o.Key, 200)
	_, err := h.Store.Put(context.Background(), other.Request())
	wantKind(t, "second Put with different content", err, store.KindExists)
	if !errors.Is(err, store.ErrExists) {
		t.Fatalf("errors.Is(err, ErrExists) = false for %v", err)
	}
	info, err := h.Store.Head(context.Background(), o.Key)
	if err != nil {
		t.Fatalf("Head: %v", err)
	}
	if info.Size != 100 {
		t.Fatalf("object was overwritten: size %d, want 100", info.Size)
	}
}

func testPutIdempotent(t *testing.T, h Harness, prefix string) {
	o := NewObject(prefix+"k", 500)
	Put(t, h.Store, o)
	res, err := h.Store.Put(context.Background(), o.Request())
	if !h.ReportsChecksum {
		// Without the stored checksum the store cannot prove the bytes are
		// the same, so it must refuse rather than guess.
		wantKind(t, "repeat Put without a server checksum", err, store.KindExists)
		return
	}
	if err != nil {
		t.Fatalf("repeat Put of identical content: %v", err)
	}
	if !res.Existed {
		t.Fatal("repeat Put of identical content did not report Existed")
	}
}

func testPutBadChecksum(t *testing.T, h Harness, prefix string) {
	o := NewObject(prefix+"k", 1000)
	req := o.Request()
	req.SHA256[0] ^= 0xff
	_, err := h.Store.Put(context.Background(), req)
	if !h.VerifiesChecksum {
		// Pin the server's known divergence, so that the day it starts
		// verifying this fails and the harness is corrected.
		if err != nil {
			t.Fatalf("server said it does not verify checksums, but rejected a wrong one: %v", err)
		}
		t.Log("this server stores bodies with a wrong checksum (a known divergence from S3); the simulator's run checks the rejection")
		return
	}
	if err == nil {
		t.Fatal("Put with a wrong SHA-256 succeeded")
	}
	_, err = h.Store.Head(context.Background(), o.Key)
	wantKind(t, "Head after a rejected Put", err, store.KindNotFound)
}

func testMissing(t *testing.T, h Harness, prefix string) {
	ctx := context.Background()
	_, err := h.Store.Head(ctx, prefix+"nope")
	wantKind(t, "Head of a missing key", err, store.KindNotFound)
	if !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("errors.Is(err, ErrNotFound) = false for %v", err)
	}
	_, err = h.Store.Get(ctx, prefix+"nope", nil)
	wantKind(t, "Get of a missing key", err, store.KindNotFound)
	_, err = h.Store.RequestRestore(ctx, prefix+"nope", 1, store.TierBulk)
	wantKind(t, "RequestRestore of a missing key", err, store.KindNotFound)
}

func testGetArchived(t *testing.T, h Harness, prefix string) {
	o := NewObject(prefix+"k", 10)
	Put(t, h.Store, o)
	_, err := h.Store.Get(context.Background(), o.Key, nil)
	wantKind(t, "Get of an archived object", err, store.KindArchived)
	if !errors.Is(err, store.ErrArchived) {
		t.Fatalf("errors.Is(err, ErrArchived) = false for %v", err)
	}
	_, err = h.Store.Get(context.Background(), o.Key, &store.Range{Offset: 1, Length: 2})
	wantKind(t, "ranged Get of an archived object", err, store.KindArchived)
}

func listKeys(t *testing.T, s store.Store, prefix string) []store.ObjectInfo {
	t.Helper()
	var out []store.ObjectInfo
	for info, err := range s.List(context.Background(), prefix) {
		if err != nil {
			t.Fatalf("List(%q): %v", prefix, err)
		}
		out = append(out, info)
	}
	return out
}

func testList(t *testing.T, h Harness, prefix string) {
	var want []string
	for i := range 7 {
		o := NewObject(fmt.Sprintf("%sdata/%02d", prefix, i), 10+i)
		Put(t, h.Store, o)
		want = append(want, o.Key)
	}
	Put(t, h.Store, NewObject(prefix+"index/0", 5))
	Put(t, h.Store, NewObject(prefix+"datb", 5)) // shares "data" as a string prefix but not the folder
	for _, s := range []store.Store{h.Store, h.PagedStore} {
		got := listKeys(t, s, prefix+"data/")
		var keys []string
		for i, info := range got {
			keys = append(keys, info.Key)
			if info.StorageClass != store.StorageClass {
				t.Fatalf("listed %q with class %q", info.Key, info.StorageClass)
			}
			if info.Size != int64(10+i) {
				t.Fatalf("listed %q with size %d, want %d", info.Key, info.Size, 10+i)
			}
			if h.ListsRestoreStatus && info.Restore.State != store.RestoreNone {
				t.Fatalf("listed %q with restore state %s, want archived", info.Key, info.Restore.State)
			}
		}
		if !slices.Equal(keys, want) {
			t.Fatalf("List = %q, want %q", keys, want)
		}
	}
	if n := len(listKeys(t, h.Store, prefix)); n != 9 {
		t.Fatalf("List of the whole prefix found %d objects, want 9", n)
	}
	if n := len(listKeys(t, h.Store, prefix+"nothing-here/")); n != 0 {
		t.Fatalf("List of an empty prefix found %d objects", n)
	}
}

func readAll(t *testing.T, s store.Store, key string, r *store.Range) []byte {
	t.Helper()
	rc, err := s.Get(context.Background(), key, r)
	if err != nil {
		t.Fatalf("Get(%q, %v): %v", key, r, err)
	}
	defer rc.Close()
	b, err := io.ReadAll(rc)
	if err != nil {
		t.Fatalf("reading %q: %v", key, err)
	}
	return b
}

func testRestoreLifecycle(t *testing.T, h Harness, prefix string) {
	ctx := context.Background()
	o := NewObject(prefix+"pack", 64<<10)
	Put(t, h.Store, o)
	var requested time.Time
	if h.Now != nil {
		requested = h.Now()
	}
	res, err := h.Store.RequestRestore(ctx, o.Key, 3, store.TierBulk)
	if err != nil || res != store.RestoreRequested {
		t.Fatalf("first RequestRestore = %v, %v; want requested", res, err)
	}
	if h.Thaw != nil {
		info, err := h.Store.Head(ctx, o.Key)
		if err != nil || info.Restore.State != store.RestoreInProgress {
			t.Fatalf("Head while thawing = %s, %v; want thawing", info.Restore.State, err)
		}
		res, err = h.Store.RequestRestore(ctx, o.Key, 3, store.TierBulk)
		if err != nil || res != store.RestoreAlreadyOngoing {
			t.Fatalf("RequestRestore while thawing = %v, %v; want already in progress", res, err)
		}
		_, err = h.Store.Get(ctx, o.Key, nil)
		wantKind(t, "Get while thawing", err, store.KindRestoreInProgress)
		if h.ListsRestoreStatus {
			if got := listKeys(t, h.Store, o.Key); len(got) != 1 || got[0].Restore.State != store.RestoreInProgress {
				t.Fatalf("List while thawing = %+v; want one object, thawing", got)
			}
		}
		h.Thaw(t)
	}
	info, err := h.Store.Head(ctx, o.Key)
	if err != nil || info.Restore.State != store.RestoreDone {
		t.Fatalf("Head after thaw = %s, %v; want restored", info.Restore.State, err)
	}
	if h.Now != nil {
		// S3: request time + Days, rounded up to the next 00:00 UTC.
		earliest := requested.Add(3 * 24 * time.Hour)
		exp := info.Restore.Expiry
		if exp.Before(earliest) || exp.After(earliest.Add(24*time.Hour)) || !exp.Equal(exp.Truncate(24*time.Hour)) {
			t.Fatalf("restored copy expires %v; want the first midnight UTC after %v", exp, earliest)
		}
	}
	if h.ListsRestoreStatus {
		got := listKeys(t, h.Store, o.Key)
		if len(got) != 1 || got[0].Restore.State != store.RestoreDone || !got[0].Restore.Expiry.Equal(info.Restore.Expiry) {
			t.Fatalf("List after thaw = %+v; want restored until %v", got, info.Restore.Expiry)
		}
	}
	if got := readAll(t, h.Store, o.Key, nil); !bytes.Equal(got, o.Data) {
		t.Fatalf("Get returned %d bytes that differ from the %d put", len(got), len(o.Data))
	}
	r := &store.Range{Offset: 1000, Length: 4096}
	if got := readAll(t, h.Store, o.Key, r); !bytes.Equal(got, o.Data[1000:1000+4096]) {
		t.Fatalf("ranged Get returned %d bytes that differ from the range put", len(got))
	}
	res, err = h.Store.RequestRestore(ctx, o.Key, 5, store.TierBulk)
	if err != nil || res != store.RestoreAlreadyRestored {
		t.Fatalf("RequestRestore of a restored object = %v, %v; want already restored", res, err)
	}
}

func testRestoreBadInput(t *testing.T, h Harness, prefix string) {
	ctx := context.Background()
	o := NewObject(prefix+"k", 10)
	Put(t, h.Store, o)
	for _, c := range []struct {
		tier store.Tier
		days int
	}{{"Expedited", 1}, {"", 1}, {store.TierStandard, 0}} {
		_, err := h.Store.RequestRestore(ctx, o.Key, c.days, c.tier)
		wantKind(t, fmt.Sprintf("RequestRestore(tier %q, %d days)", c.tier, c.days), err, store.KindPermanent)
	}
	info, err := h.Store.Head(ctx, o.Key)
	if err != nil || info.Restore.State != store.RestoreNone {
		t.Fatalf("after refused restore requests Head = %s, %v; want archived, no restore", info.Restore.State, err)
	}
}

// OddKeys are keys whose encoding trips up hand-rolled S3 clients and servers.
var OddKeys = []string{
	"space in name",
	"plus+sign",
	"percent%20literal",
	"tilde~and=equals&amp",
	"ünïcödé/日本語/файл",
	"semi;colon,comma:colon@at$dollar!bang'quote(paren)*star",
	"trailing-slash-dir/",
	"dots/../not-a-parent",
}

func testOddKeys(t *testing.T, h Harness, prefix string) {
	var want []string
	for i, k := range OddKeys {
		o := NewObject(prefix+k, 20+i)
		Put(t, h.Store, o)
		info, err := h.Store.Head(context.Background(), o.Key)
		if err != nil {
			t.Fatalf("Head(%q): %v", o.Key, err)
		}
		if info.Size != int64(len(o.Data)) {
			t.Fatalf("Head(%q) size %d, want %d", o.Key, info.Size, len(o.Data))
		}
		want = append(want, o.Key)
	}
	slices.Sort(want)
	var got []string
	for _, info := range listKeys(t, h.PagedStore, prefix) {
		got = append(got, info.Key)
	}
	if !slices.Equal(got, want) {
		t.Fatalf("List =\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}
