package tree

import (
	"bytes"
	"flag"
	"io/fs"
	"os"
	"strings"
	"testing"

	"github.com/icevault/icevault/internal/pack"
)

var update = flag.Bool("update", false, "rewrite testdata/v1-tree.json")

func sample() Tree {
	var a, b pack.ID
	a[0], b[31] = 0xaa, 0xbb
	return Tree{Nodes: []Node{
		{Name: "zeta.txt", Type: TypeFile, Mode: 0o644, MtimeNs: 1700000000123456789, Size: 5, UID: 501, GID: 20, Content: []pack.ID{a, b}},
		{Name: "empty", Type: TypeFile, Mode: 0o600, MtimeNs: 1},
		{Name: "bad\xffname", Type: TypeFile, Mode: 0o4755, MtimeNs: 2, Links: 2, LinkGroup: "g1"},
		{Name: "sub", Type: TypeDir, Mode: 0o755, MtimeNs: 3, Subtree: a},
		{Name: "link", Type: TypeSymlink, Mode: 0o777, MtimeNs: 4, Target: "../x\xfe"},
		{Name: "ünïcode", Type: TypeSymlink, Mode: 0o777, MtimeNs: 5, Target: "sub/zeta.txt"},
	}}
}

func TestRoundTripAndOrder(t *testing.T) {
	b, err := Encode(sample())
	if err != nil {
		t.Fatal(err)
	}
	got, err := Decode(b)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, n := range got.Nodes {
		names = append(names, n.Name)
	}
	if strings.Join(names, "|") != "bad\xffname|empty|link|sub|zeta.txt|ünïcode" {
		t.Fatalf("order %q", names)
	}
	again, _ := Encode(got)
	if !bytes.Equal(b, again) {
		t.Fatal("re-encoding a decoded tree changed its bytes")
	}
	n, ok := got.Find("link")
	if !ok || n.Target != "../x\xfe" {
		t.Fatalf("Find(link) = %+v %v", n, ok)
	}
	if n, _ := got.Find("bad\xffname"); n.FileMode() != 0o755|fs.ModeSetuid || n.LinkGroup != "g1" {
		t.Fatalf("mode %v group %q", n.FileMode(), n.LinkGroup)
	}
	if n, _ := got.Find("zeta.txt"); len(n.Content) != 2 || n.Content[1] != sample().Nodes[0].Content[1] {
		t.Fatalf("content %v", n.Content)
	}
	if _, ok := got.Find("nope"); ok {
		t.Fatal("Find invented an entry")
	}
	if UnixMode(0o755|fs.ModeSetgid|fs.ModeSticky) != 0o3755 {
		t.Fatal("UnixMode")
	}
}

// TestFrozenVector pins the format: the bytes of a known tree must never
// change (that would change every tree ID and break dedup against old
// snapshots), and old bytes must always decode.
func TestFrozenVector(t *testing.T) {
	b, err := Encode(sample())
	if err != nil {
		t.Fatal(err)
	}
	if *update {
		os.WriteFile("testdata/v1-tree.json", b, 0o644)
	}
	want, err := os.ReadFile("testdata/v1-tree.json")
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(b, want) {
		t.Fatalf("encoding changed:\n got %s\nwant %s", b, want)
	}
}

func TestRejects(t *testing.T) {
	if _, err := Encode(Tree{Nodes: []Node{{Name: "a", Type: TypeFile}, {Name: "a", Type: TypeDir}}}); err == nil {
		t.Error("duplicate names accepted")
	}
	if _, err := Encode(Tree{Nodes: []Node{{Name: "a", Type: "fifo"}}}); err == nil {
		t.Error("unknown type accepted")
	}
	for _, s := range []string{
		`{"v":2,"entries":[]}`,
		`{"v":1,"entries":[{"name":"b","type":"file","mode":0,"mtime_ns":0,"uid":0,"gid":0},{"name":"a","type":"file","mode":0,"mtime_ns":0,"uid":0,"gid":0}]}`,
		`{"v":1,"entries":[{"type":"file","mode":0,"mtime_ns":0,"uid":0,"gid":0}]}`,
		`{"v":1,"entries":[{"name":"d","type":"dir","subtree":"xyz","mode":0,"mtime_ns":0,"uid":0,"gid":0}]}`,
		`{"v":1,"entries":[],"extra":1}`,
		`not json`,
	} {
		if _, err := Decode([]byte(s)); err == nil {
			t.Errorf("Decode(%s) accepted", s)
		}
	}
}

func FuzzDecode(f *testing.F) {
	b, _ := Encode(sample())
	f.Add(b)
	f.Fuzz(func(t *testing.T, b []byte) {
		tr, err := Decode(b)
		if err != nil {
			return
		}
		out, err := Encode(tr)
		if err != nil {
			t.Fatalf("decoded tree does not re-encode: %v", err)
		}
		if _, err := Decode(out); err != nil {
			t.Fatalf("re-encoded tree does not decode: %v", err)
		}
	})
}
