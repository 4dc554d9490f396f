// Package cost prices what icevault stores and sends, from one table of AWS
// prices, so every quote (backup summary, `icevault cost`, restore plans)
// agrees with every other.
package cost

import (
	"encoding/json"
	"fmt"
	"os"
	"time"
)

// Prices are AWS list prices in US dollars. Sizes are in GB of 10^9 bytes,
// as AWS bills them.
type Prices struct {
	AsOf   string `json:"as_of"`  // when these were checked
	Region string `json:"region"` //

	DeepArchivePerGBMonth float64 `json:"deep_archive_per_gb_month"`
	StandardPerGBMonth    float64 `json:"standard_per_gb_month"`
	// Each archived object is billed 8 KB at Standard (its name and
	// metadata) and 32 KB at Deep Archive (index) on top of its data.
	OverheadStandardBytes    int64 `json:"overhead_standard_bytes"`
	OverheadDeepArchiveBytes int64 `json:"overhead_deep_archive_bytes"`
	MinimumStorageDays       int   `json:"minimum_storage_days"`

	PutPer1000  float64 `json:"put_per_1000"`
	GetPer1000  float64 `json:"get_per_1000"`
	ListPer1000 float64 `json:"list_per_1000"`

	RestoreStandardPer1000 float64 `json:"restore_standard_per_1000"`
	RestoreStandardPerGB   float64 `json:"restore_standard_per_gb"`
	RestoreBulkPer1000     float64 `json:"restore_bulk_per_1000"`
	RestoreBulkPerGB       float64 `json:"restore_bulk_per_gb"`

	EgressPerGB       float64 `json:"egress_per_gb"`
	EgressFreeGBMonth float64 `json:"egress_free_gb_month"`
}

// Default is us-east-1 as of the date in AsOf (DESIGN §4).
var Default = Prices{
	AsOf: "2026-12-01", Region: "us-east-1",
	DeepArchivePerGBMonth: 0.00099, StandardPerGBMonth: 0.023,
	OverheadStandardBytes: 8 << 10, OverheadDeepArchiveBytes: 32 << 10, MinimumStorageDays: 180,
	PutPer1000: 0.05, GetPer1000: 0.0004, ListPer1000: 0.005,
	RestoreStandardPer1000: 0.10, RestoreStandardPerGB: 0.02,
	RestoreBulkPer1000: 0.025, RestoreBulkPerGB: 0.0025,
	EgressPerGB: 0.09, EgressFreeGBMonth: 100,
}

// Load returns the prices in the JSON file named by $ICEVAULT_PRICES (any
// field left out keeps its default), or Default.
func Load() (Prices, error) {
	p := Default
	path := os.Getenv("ICEVAULT_PRICES")
	if path == "" {
		return p, nil
	}
	b, err := os.ReadFile(path)
	if err != nil {
		return p, fmt.Errorf("reading prices from $ICEVAULT_PRICES: %w", err)
	}
	if err := json.Unmarshal(b, &p); err != nil {
		return p, fmt.Errorf("prices in %s: %w", path, err)
	}
	return p, nil
}

const gb = 1e9

// StorageMonth is the monthly cost of objects archived objects holding bytes.
func (p Prices) StorageMonth(objects, bytes int64) float64 {
	return float64(bytes+objects*p.OverheadDeepArchiveBytes)/gb*p.DeepArchivePerGBMonth +
		float64(objects*p.OverheadStandardBytes)/gb*p.StandardPerGBMonth
}

// Puts is the cost of n PUT requests.
func (p Prices) Puts(n int64) float64 { return float64(n) / 1000 * p.PutPer1000 }

// Month is a calendar month's length for pricing.
const Month = 30 * 24 * time.Hour

// Bytes formats a size for people in binary units ("2.3 MiB"): sizes and
// what they cost are shown side by side, so both are formatted here.
func Bytes(n int64) string {
	const unit = 1024
	if n < unit {
		return fmt.Sprintf("%d B", n)
	}
	div, exp := int64(unit), 0
	for m := n / unit; m >= unit; m /= unit {
		div *= unit
		exp++
	}
	return fmt.Sprintf("%.1f %ciB", float64(n)/float64(div), "KMGTPE"[exp])
}

// Dollars formats an amount for people: cents where they matter, more
// digits for fractions of a cent.
func Dollars(v float64) string {
	switch {
	case v == 0:
		return "$0"
	case v < 0.01:
		return fmt.Sprintf("$%.4f", v)
	default:
		return fmt.Sprintf("$%.2f", v)
	}
}
