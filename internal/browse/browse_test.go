package browse

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/icevault/icevault/internal/pack"
	"github.com/icevault/icevault/internal/tree"
)

type memTrees struct {
	key pack.IDKey
	m   map[pack.ID][]byte
}

func (m *memTrees) Tree(_ context.Context, id pack.ID) ([]byte, error) {
	b, ok := m.m[id]
	if !ok {
		return nil, errors.New("no such tree")
	}
	return b, nil
}

func (m *memTrees) put(t *testing.T, nodes ...tree.Node) pack.ID {
	b, err := tree.Encode(tree.Tree{Nodes: nodes})
	if err != nil {
		t.Fatal(err)
	}
	id := m.key.ID(b)
	m.m[id] = b
	return id
}

func file(name string, size int64, content byte) tree.Node {
	var c pack.ID
	c[0] = content
	return tree.Node{Name: name, Type: tree.TypeFile, Mode: 0o644, Size: size, Content: []pack.ID{c}}
}

func dir(name string, id pack.ID) tree.Node {
	return tree.Node{Name: name, Type: tree.TypeDir, Mode: 0o755, Subtree: id}
}

func snapshots(t *testing.T) (*memTrees, pack.ID, pack.ID) {
	m := &memTrees{m: map[pack.ID][]byte{}}
	photos := m.put(t, file("a.jpg", 10, 1), file("b.jpg", 20, 2))
	docs1 := m.put(t, file("cv.txt", 5, 3), file("old.txt", 6, 4))
	docs2 := m.put(t, file("cv.txt", 7, 5), file("new.txt", 8, 6))
	sub := m.put(t, file("deep.jpg", 1, 7))
	home1 := m.put(t, dir("photos", photos), dir("docs", docs1))
	home2 := m.put(t, dir("photos", photos), dir("docs", docs2), dir("sub", sub))
	return m, m.put(t, dir("/home/u", home1)), m.put(t, dir("/home/u", home2))
}

func TestResolveListFind(t *testing.T) {
	ctx := context.Background()
	m, s1, s2 := snapshots(t)
	e, err := Resolve(ctx, m, s1, "/home/u/docs/cv.txt")
	if err != nil || e.Size != 5 || e.Type != tree.TypeFile {
		t.Fatalf("Resolve = %+v, %v", e, err)
	}
	for _, p := range []string{"/home/u/nope", "/elsewhere", "/home/u/docs/cv.txt/x"} {
		if _, err := Resolve(ctx, m, s1, p); err == nil {
			t.Errorf("Resolve(%q) found something", p)
		}
	}
	var got []string
	List(ctx, m, s2, "/home/u", false, func(e Entry) error { got = append(got, e.Path); return nil })
	if strings.Join(got, " ") != "/home/u/docs /home/u/photos /home/u/sub" {
		t.Fatalf("List = %v", got)
	}
	got = nil
	List(ctx, m, s2, "/", true, func(e Entry) error { got = append(got, e.Path); return nil })
	if len(got) != 9 || got[0] != "/home/u" || got[8] != "/home/u/sub/deep.jpg" {
		t.Fatalf("recursive List = %v", got)
	}
	got = nil
	Find(ctx, m, s2, "*.jpg", func(e Entry) error { got = append(got, e.Path); return nil })
	if strings.Join(got, " ") != "/home/u/photos/a.jpg /home/u/photos/b.jpg /home/u/sub/deep.jpg" {
		t.Fatalf("Find = %v", got)
	}
	if err := Find(ctx, m, s2, "[", func(Entry) error { return nil }); err == nil {
		t.Fatal("a bad pattern was accepted")
	}
}

func TestDiff(t *testing.T) {
	m, s1, s2 := snapshots(t)
	var got []string
	err := Diff(context.Background(), m, s1, s2, func(c Change) error {
		got = append(got, fmt.Sprintf("%s %s", c.Op, c.Path))
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	want := "M /home/u/docs/cv.txt|+ /home/u/docs/new.txt|- /home/u/docs/old.txt|+ /home/u/sub|+ /home/u/sub/deep.jpg"
	if strings.Join(got, "|") != want {
		t.Fatalf("Diff =\n%s\nwant\n%s", strings.Join(got, "|"), want)
	}
	got = nil
	Diff(context.Background(), m, s1, s1, func(c Change) error { got = append(got, c.Path); return nil })
	if len(got) != 0 {
		t.Fatalf("a snapshot differs from itself: %v", got)
	}
}
