package cost

import (
	"math"
	"os"
	"path/filepath"
	"testing"
)

func TestStorageMonth(t *testing.T) {
	// 1 TB in 1,000 objects: 1000 GB at Deep Archive plus 32 MB of index
	// overhead there and 8 MB at Standard.
	got := Default.StorageMonth(1000, 1e12)
	want := (1e12+1000*32768)/1e9*0.00099 + (1000*8192)/1e9*0.023
	if math.Abs(got-want) > 1e-9 || math.Abs(got-0.99) > 0.01 {
		t.Fatalf("StorageMonth = %v, want %v (~$0.99)", got, want)
	}
	// A million small objects: the overhead dominates (the rclone case).
	if o := Default.StorageMonth(1e6, 0); math.Abs(o-(32.768*0.00099+8.192*0.023)) > 1e-9 {
		t.Fatalf("overhead of a million objects = %v", o)
	}
	if Default.Puts(1e6) != 50 {
		t.Fatalf("a million PUTs = %v, want $50", Default.Puts(1e6))
	}
}

func TestLoadOverride(t *testing.T) {
	p := filepath.Join(t.TempDir(), "prices.json")
	os.WriteFile(p, []byte(`{"as_of":"2027-01-01","put_per_1000":0.06}`), 0o600)
	t.Setenv("ICEVAULT_PRICES", p)
	got, err := Load()
	if err != nil || got.PutPer1000 != 0.06 || got.AsOf != "2027-01-01" || got.DeepArchivePerGBMonth != 0.00099 {
		t.Fatalf("Load = %+v, %v", got, err)
	}
	os.WriteFile(p, []byte(`{"put_per_1000":`), 0o600)
	if _, err := Load(); err == nil {
		t.Fatal("a broken prices file was accepted")
	}
}

func TestDollars(t *testing.T) {
	for v, want := range map[float64]string{0: "$0", 0.00123: "$0.0012", 1.5: "$1.50"} {
		if got := Dollars(v); got != want {
			t.Errorf("Dollars(%v) = %q, want %q", v, got, want)
		}
	}
}
