package pack

import (
	"bufio"
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"filippo.io/age"
)

// Regenerate the frozen vectors, deliberately, with
//
//	go test ./internal/pack -run TestVectors -update
//
// Only do this for a new format version (add new files; never replace the
// old ones, which readers must keep decoding) or when adding vectors.
var update = flag.Bool("update", false, "rewrite testdata/ vectors")

// vectorKey is the blob-ID key of the vectors: bytes 0x00..0x1f.
func vectorKey() IDKey {
	var k IDKey
	for i := range k {
		k[i] = byte(i)
	}
	return k
}

// vectorBlobs are the fixed inputs. Changing them breaks the vectors: that is
// the point.
func vectorBlobs() []testBlob {
	return []testBlob{
		{KindData, []byte("hello, icevault\n")},
		{KindData, nil},
		{KindTree, bytes.Repeat([]byte(`{"name":"IMG_0001.HEIC","type":"file","mode":420,"size":2345678}`+"\n"), 64)},
		{KindData, randomBytes(7, 70_000)}, // raw, crosses an age chunk boundary
		{KindData, textBytes(8, 30_000)},   // zstd
		{KindMeta, []byte("meta")},
	}
}

func readIdentity(t *testing.T, name string) age.Identity {
	t.Helper()
	f, err := os.Open(filepath.Join("testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	ids, err := age.ParseIdentities(f)
	if err != nil || len(ids) != 1 {
		t.Fatalf("%s: %v", name, err)
	}
	return ids[0]
}

func recipientFor(id age.Identity) age.Recipient {
	switch id := id.(type) {
	case *age.X25519Identity:
		return id.Recipient()
	case *age.HybridIdentity:
		return id.Recipient()
	}
	panic(fmt.Sprintf("no recipient for %T", id))
}

var vectorFiles = []struct{ pack, key string }{
	{"v1-x25519.age", "x25519.key"},
	{"v1-hybrid.age", "hybrid.key"},
}

const (
	payloadVector  = "v1-payload.bin" // plaintext of v1-x25519.age
	manifestVector = "v1-manifest.txt"
)

func TestVectors(t *testing.T) {
	key := vectorKey()
	blobs := vectorBlobs()
	if *update {
		for i, v := range vectorFiles {
			id := readIdentity(t, v.key)
			obj, s := writePack(t, key, blobs, recipientFor(id))
			writeFile(t, v.pack, obj)
			if i == 0 {
				writeFile(t, payloadVector, decryptPayload(t, obj, id))
				writeFile(t, manifestVector, manifest(s.Entries, blobs))
			}
		}
	}

	want := readManifest(t)
	if len(want) != len(blobs) {
		t.Fatalf("manifest has %d blobs, inputs %d", len(want), len(blobs))
	}
	for i, b := range blobs {
		if want[i].ID != key.ID(b.data) || want[i].Kind != b.kind || want[i].RawLength != int64(len(b.data)) {
			t.Fatalf("manifest line %d does not describe input blob %d", i+1, i)
		}
	}

	// The plaintext payload parses to the manifest, byte for byte.
	payload, err := os.ReadFile(filepath.Join("testdata", payloadVector))
	if err != nil {
		t.Fatal(err)
	}
	p, err := ParsePayload(payload)
	if err != nil {
		t.Fatalf("%s: %v", payloadVector, err)
	}
	if !equalEntryLists(p.Entries, want) {
		t.Fatalf("%s: entries %+v, manifest %+v", payloadVector, p.Entries, want)
	}
	for i, e := range p.Entries {
		raw, err := DecodeBlob(e, p.Stored[i], key)
		if err != nil || !bytes.Equal(raw, blobs[i].data) {
			t.Fatalf("%s: blob %d: %v", payloadVector, i, err)
		}
	}

	for i, v := range vectorFiles {
		t.Run(v.pack, func(t *testing.T) {
			id := readIdentity(t, v.key)
			obj, err := os.ReadFile(filepath.Join("testdata", v.pack))
			if err != nil {
				t.Fatal(err)
			}
			checkAllBlobs(t, obj, key, blobs, Sealed{Entries: want}, id)
			if i == 0 && !bytes.Equal(decryptPayload(t, obj, id), payload) {
				t.Errorf("%s does not decrypt to %s", v.pack, payloadVector)
			}
		})
	}
}

func writeFile(t *testing.T, name string, b []byte) {
	t.Helper()
	if err := os.WriteFile(filepath.Join("testdata", name), b, 0o644); err != nil {
		t.Fatal(err)
	}
}

// manifest is a human-readable description of the vector pack, so that a
// future reader implemented from doc.go alone can check itself.
func manifest(entries []Entry, blobs []testBlob) []byte {
	var b bytes.Buffer
	b.WriteString("# id kind compression offset stored_len raw_len sha256(raw)\n")
	b.WriteString("# blob-ID key: 000102...1f (32 bytes counting up); identities: x25519.key, hybrid.key\n")
	for i, e := range entries {
		sum := sha256.Sum256(blobs[i].data)
		fmt.Fprintf(&b, "%s %s %s %d %d %d %x\n", e.ID, e.Kind, e.Compression, e.Offset, e.Length, e.RawLength, sum)
	}
	return b.Bytes()
}

func readManifest(t *testing.T) []Entry {
	t.Helper()
	f, err := os.Open(filepath.Join("testdata", manifestVector))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	kinds := map[string]Kind{"data": KindData, "tree": KindTree, "meta": KindMeta}
	comps := map[string]Compression{"none": CompressionNone, "zstd": CompressionZstd}
	var entries []Entry
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := sc.Text()
		if strings.HasPrefix(line, "#") {
			continue
		}
		fs := strings.Fields(line)
		if len(fs) != 7 {
			t.Fatalf("manifest line %q", line)
		}
		id, err := ParseID(fs[0])
		if err != nil {
			t.Fatal(err)
		}
		e := Entry{ID: id, Kind: kinds[fs[1]], Compression: comps[fs[2]]}
		for j, p := range []*int64{&e.Offset, &e.Length, &e.RawLength} {
			if *p, err = strconv.ParseInt(fs[3+j], 10, 64); err != nil {
				t.Fatal(err)
			}
		}
		if _, err := hex.DecodeString(fs[6]); err != nil {
			t.Fatal(err)
		}
		entries = append(entries, e)
	}
	return entries
}
