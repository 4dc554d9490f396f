package keystore

import (
	"errors"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

var update = flag.Bool("update", false, "rewrite testdata/kit-v1.txt")

// goldenKit is frozen: testdata/kit-v1.txt is its text. The identity is a
// test key, used nowhere else.
var goldenKit = Kit{
	RepoID:   "6f1c2a9e4b7d3f08",
	Bucket:   "example-backups",
	Prefix:   "laptop/",
	Region:   "eu-central-1",
	Identity: "AGE-SECRET-KEY-PQ-174TL4SX3JFZ7NE7N3FZTHNAP4E4MGAC8QTY3E8WWL9HGPKA3JW7Q2KKGYU",
	BlobIDKey: [32]byte{
		0x00, 0x11, 0x22, 0x33, 0x44, 0x55, 0x66, 0x77, 0x88, 0x99, 0xaa, 0xbb, 0xcc, 0xdd, 0xee, 0xff,
		0x0f, 0x1e, 0x2d, 0x3c, 0x4b, 0x5a, 0x69, 0x78, 0x87, 0x96, 0xa5, 0xb4, 0xc3, 0xd2, 0xe1, 0xf0,
	},
	Created: time.Date(2026, 3, 14, 15, 9, 26, 0, time.UTC),
}

func TestKitGolden(t *testing.T) {
	path := filepath.Join("testdata", "kit-v1.txt")
	text, err := FormatKit(goldenKit)
	if err != nil {
		t.Fatal(err)
	}
	if *update {
		if err := os.WriteFile(path, []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if text != string(want) {
		t.Errorf("FormatKit output changed; the kit format is frozen (v1). Got:\n%s", text)
	}
	k, err := ParseKit(string(want))
	if err != nil {
		t.Fatal(err)
	}
	if k != goldenKit {
		t.Errorf("ParseKit(golden) = %+v, want %+v", k, goldenKit)
	}
}

func TestKitIsPrintable(t *testing.T) {
	text, err := FormatKit(goldenKit)
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSuffix(text, "\n"), "\n")
	if len(lines) > 60 {
		t.Errorf("kit has %d lines, want a page (<= 60)", len(lines))
	}
	for i, l := range lines {
		if len(l) > 80 {
			t.Errorf("line %d is %d columns, want <= 80", i+1, len(l))
		}
		for _, c := range l {
			if c < 0x20 || c > 0x7e {
				t.Errorf("line %d has non-printable or non-ASCII %q", i+1, c)
			}
		}
	}
	for _, must := range []string{
		"RECOVERY KIT", "offline",
		"icevault recover --bucket example-backups --prefix laptop/ --kit FILE",
		"icevault key import --kit FILE",
	} {
		if !strings.Contains(text, must) {
			t.Errorf("kit does not say %q", must)
		}
	}
}

func TestKitRoundTrip(t *testing.T) {
	sec, _ := testSecrets(t)
	kits := []Kit{
		goldenKit,
		{RepoID: "r", Bucket: "b", Prefix: "", Region: "", Identity: sec.Identity, BlobIDKey: sec.BlobIDKey,
			Created: time.Date(2030, 1, 2, 3, 4, 5, 0, time.UTC)},
		{RepoID: "r.2", Bucket: "my.bucket", Prefix: "Sicherung/Müller \"home\" ", Region: "us-east-1",
			Identity: goldenKit.Identity, BlobIDKey: sec.BlobIDKey,
			Created: time.Date(2030, 1, 2, 3, 4, 5, 999, time.FixedZone("x", 3600))},
	}
	for _, k := range kits {
		text, err := FormatKit(k)
		if err != nil {
			t.Fatal(err)
		}
		got, err := ParseKit(text)
		if err != nil {
			t.Fatalf("ParseKit: %v\n%s", err, text)
		}
		want := k
		want.Created = k.Created.UTC().Truncate(time.Second)
		if got != want {
			t.Errorf("round trip: got %+v, want %+v", got, want)
		}
		if got.Secrets() != (Secrets{Identity: k.Identity, BlobIDKey: k.BlobIDKey}) {
			t.Error("Kit.Secrets differs")
		}
	}
}

// A retyped kit parses despite CRLF, case, spacing and surrounding text.
func TestKitTolerant(t *testing.T) {
	text, _ := FormatKit(goldenKit)
	retyped := "scanned from paper\r\n" + strings.ReplaceAll(text, "\n", "\r\n")
	retyped = strings.Replace(retyped, "00112233 44556677", "0011 2233 4455 6677", 1)
	retyped = strings.Replace(retyped, "0f1e2d3c", "0F1E2D3C", 1)
	retyped = strings.Replace(retyped, goldenKit.Identity, strings.ToLower(goldenKit.Identity[:30])+"\r\n    "+goldenKit.Identity[30:], 1)
	retyped += "\r\nsigned: me\r\n"
	k, err := ParseKit(retyped)
	if err != nil {
		t.Fatalf("ParseKit(retyped): %v\n%s", err, retyped)
	}
	if k != goldenKit {
		t.Errorf("retyped kit parsed to %+v", k)
	}
}

// Every single-character typo in a field line is caught, and no error quotes
// a secret.
func TestKitTypoDetected(t *testing.T) {
	text, _ := FormatKit(goldenKit)
	start := strings.Index(text, kitMarker+": v1\n") + len(kitMarker+": v1\n")
	end := strings.Index(text, "checksum: ")
	secrets := []string{goldenKit.Identity, "00112233", "0f1e2d3c"}
	n := 0
	for i := start; i < end+len("checksum: ")+8; i++ {
		c := text[i]
		if c == '\n' || c == ' ' || c == ':' {
			continue // layout, not content
		}
		for _, r := range []byte{'0', '7', 'a', 'Q', 'z', '-'} {
			if r == c || (r|0x20) == (c|0x20) && (isHex(c) || i > strings.Index(text, "identity:")) {
				continue // a case change is not a typo in hex or Bech32
			}
			typo := text[:i] + string(r) + text[i+1:]
			k, err := ParseKit(typo)
			if err == nil {
				t.Errorf("typo %q->%q at offset %d not detected (parsed %+v)", c, r, i, k)
				continue
			}
			if !errors.Is(err, ErrBadKit) {
				t.Errorf("typo error %v is not ErrBadKit", err)
			}
			noSecretIn(t, err, secrets...)
			n++
		}
	}
	if n < 500 {
		t.Errorf("only %d typos tried", n)
	}
}

func isHex(c byte) bool { return strings.IndexByte("0123456789abcdefABCDEF", c) >= 0 }

func TestKitStructuralErrors(t *testing.T) {
	text, _ := FormatKit(goldenKit)
	for name, bad := range map[string]string{
		"empty":         "",
		"no marker":     strings.Replace(text, kitMarker+": v1", "", 1),
		"future":        strings.Replace(text, kitMarker+": v1", kitMarker+": v2", 1),
		"no checksum":   text[:strings.Index(text, "checksum:")],
		"missing field": strings.Replace(text, "region: eu-central-1\n", "", 1),
		"duplicate":     strings.Replace(text, "region: eu-central-1\n", "region: eu-central-1\nregion: eu-central-1\n", 1),
		"unknown field": strings.Replace(text, "region: eu-central-1\n", "region: eu-central-1\ncolour: blue\n", 1),
		"short key":     strings.Replace(text, "00112233 ", "", 1),
		"bad time":      strings.Replace(text, "2026-03-14T15:09:26Z", "yesterday", 1),
	} {
		if _, err := ParseKit(bad); !errors.Is(err, ErrBadKit) {
			t.Errorf("%s: ParseKit = %v, want ErrBadKit", name, err)
		}
	}
}

func TestFormatKitRefusesUselessKit(t *testing.T) {
	for name, mut := range map[string]func(*Kit){
		"bad identity": func(k *Kit) { k.Identity = "AGE-SECRET-KEY-1XYZ" },
		"zero key":     func(k *Kit) { k.BlobIDKey = [32]byte{} },
		"no bucket":    func(k *Kit) { k.Bucket = "" },
		"no repo":      func(k *Kit) { k.RepoID = "" },
		"no time":      func(k *Kit) { k.Created = time.Time{} },
	} {
		k := goldenKit
		mut(&k)
		if _, err := FormatKit(k); err == nil {
			t.Errorf("%s: FormatKit succeeded", name)
		}
	}
}

func FuzzParseKit(f *testing.F) {
	text, _ := FormatKit(goldenKit)
	f.Add(text)
	f.Add(strings.Replace(text, "laptop/", `"a b"`, 1))
	f.Add("icevault-recovery-kit: v1\nchecksum: 0\n")
	f.Fuzz(func(t *testing.T, s string) {
		k, err := ParseKit(s)
		if err != nil {
			return
		}
		again, err := FormatKit(k)
		if err != nil {
			t.Fatalf("parsed kit does not format: %v", err)
		}
		k2, err := ParseKit(again)
		if err != nil || k2 != k {
			t.Fatalf("re-parse: %v, equal=%v", err, k2 == k)
		}
	})
}
