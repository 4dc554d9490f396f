package repo

import (
	"strings"
	"testing"
	"time"

	"filippo.io/age"

	"github.com/icevault/icevault/internal/pack"
)

func TestLayout(t *testing.T) {
	l, err := NewLayout("icevault", "home")
	if err != nil {
		t.Fatal(err)
	}
	at := time.Date(2026, 12, 3, 19, 4, 5, 0, time.FixedZone("x", 3600))
	for got, want := range map[string]string{
		l.ConfigKey():                        "icevault/home/config",
		l.DataKey([32]byte{0xab}):            "icevault/home/data/ab" + strings.Repeat("0", 62),
		l.MetaKey(at, "0123456789abcdef", 7): "icevault/home/meta/20261203T180405Z-0123456789abcdef-007",
	} {
		if got != want {
			t.Errorf("key %q, want %q", got, want)
		}
	}
	for _, bad := range []string{"", "a/b", "..", "."} {
		if _, err := NewLayout("p/", bad); err == nil {
			t.Errorf("repository name %q accepted", bad)
		}
	}
}

func TestConfigSealOpen(t *testing.T) {
	id, _ := age.GenerateHybridIdentity()
	cfg, key, err := NewConfig(time.Now(), []string{id.Recipient().String()}, 0)
	if err != nil {
		t.Fatal(err)
	}
	if cfg.PackSize != DefaultPackSize || cfg.Validate() != nil {
		t.Fatalf("config %+v: %v", cfg, cfg.Validate())
	}
	sealed, err := cfg.Seal()
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(string(sealed), cfg.BlobIDKey) || strings.Contains(string(sealed), cfg.Chunker.Polynomial) {
		t.Fatal("the sealed config shows its secrets")
	}
	got, err := OpenConfig(sealed, id)
	if err != nil || got.ID != cfg.ID || got.BlobIDKey != cfg.BlobIDKey {
		t.Fatalf("OpenConfig = %+v, %v", got, err)
	}
	if got.BlobIDKey == "" || key == (pack.IDKey{}) {
		t.Fatal("no blob-ID key")
	}
	other, _ := age.GenerateHybridIdentity()
	if _, err := OpenConfig(sealed, other); err == nil || !strings.Contains(err.Error(), "recovery kit") {
		t.Fatalf("OpenConfig with another identity: %v", err)
	}
	if cfg.Public().BlobIDKey != "" {
		t.Fatal("Public kept the secret")
	}
	bad := cfg
	bad.Version = 99
	if err := bad.Validate(); err == nil || !strings.Contains(err.Error(), "upgrade") {
		t.Fatalf("future version: %v", err)
	}
}

func TestMetaBlobs(t *testing.T) {
	rec := SnapshotRecord{ID: "abc", Time: time.Unix(100, 0).UTC(), Host: "h", Paths: []string{"/x"}, Root: pack.ID{1}.String()}
	b, err := EncodeSnapshot(rec)
	if err != nil {
		t.Fatal(err)
	}
	m, err := DecodeMeta(b)
	if err != nil || m.Snapshot == nil || m.Snapshot.ID != "abc" || m.PackIndex != nil {
		t.Fatalf("snapshot record: %+v, %v", m, err)
	}
	pi := PackIndex{Key: "r/data/ff", Size: 12345, SHA256: [32]byte{9}, Entries: []pack.Entry{
		{ID: pack.ID{1}, Kind: pack.KindData, Offset: 9 + 37, Length: 100, RawLength: 100},
		{ID: pack.ID{2}, Kind: pack.KindData, Compression: 1, Offset: 300, Length: 50, RawLength: 200},
	}}
	m, err = DecodeMeta(EncodePackIndex(pi))
	if err != nil || m.PackIndex == nil || m.PackIndex.Key != pi.Key || m.PackIndex.Size != pi.Size || len(m.PackIndex.Entries) != 2 || m.PackIndex.Entries[1] != pi.Entries[1] {
		t.Fatalf("pack index: %+v, %v", m.PackIndex, err)
	}
	for _, junk := range [][]byte{nil, []byte("ICEVSNAP{"), []byte("ICEVPIDX\x02"), []byte("what")} {
		if _, err := DecodeMeta(junk); err == nil {
			t.Errorf("DecodeMeta(%q) accepted", junk)
		}
	}
}
