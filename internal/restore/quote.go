package restore

import (
	"time"

	"github.com/icevault/icevault/internal/cost"
	"github.com/icevault/icevault/internal/store"
)

// Thaw times: the longest S3 takes for Deep Archive, per tier.
var thawTime = map[store.Tier]time.Duration{
	store.TierStandard: 12 * time.Hour,
	store.TierBulk:     48 * time.Hour,
}

// ThawTime is how long a tier may take.
func ThawTime(t store.Tier) time.Duration { return thawTime[t] }

// TierQuote prices a restore at one tier.
type TierQuote struct {
	Tier          store.Tier `json:"tier"`
	ReadyBy       time.Time  `json:"ready_by"`
	RequestCost   float64    `json:"request_usd"`   // restore requests
	RetrievalCost float64    `json:"retrieval_usd"` // per GB thawed
	CopyCost      float64    `json:"restored_copy_usd"`
	GetCost       float64    `json:"get_usd"`
	EgressCost    float64    `json:"egress_usd"`
	Total         float64    `json:"total_usd"`
}

// Quote is what a restore will cost and when it will be ready.
type Quote struct {
	Files     int         `json:"files"`
	FileBytes int64       `json:"file_bytes"`
	Packs     int         `json:"packs"`
	PackBytes int64       `json:"pack_bytes"`
	Days      int         `json:"days"`
	Chosen    TierQuote   `json:"chosen"`
	Tiers     []TierQuote `json:"tiers"`
	Egress    string      `json:"egress_note"`
	// ThawOnly marks a job that thaws and downloads nothing (StartThaw).
	ThawOnly bool `json:"thaw_only,omitempty"`
}

// QuoteFor prices p for keeping the restored copies days days, at each tier,
// with chosen as the one the job will use.
func QuoteFor(p *Plan, chosen store.Tier, days int, prices cost.Prices, now time.Time) Quote {
	q := Quote{Files: p.Files, FileBytes: p.FileBytes, Packs: len(p.Packs), PackBytes: p.PackBytes, Days: days,
		Egress: "egress assumes this month's first 100 GB of free transfer out are unused"}
	gb := float64(p.PackBytes) / 1e9
	n := float64(len(p.Packs))
	for _, t := range []store.Tier{store.TierStandard, store.TierBulk} {
		tq := TierQuote{Tier: t, ReadyBy: now.Add(thawTime[t])}
		if t == store.TierStandard {
			tq.RequestCost = n / 1000 * prices.RestoreStandardPer1000
			tq.RetrievalCost = gb * prices.RestoreStandardPerGB
		} else {
			tq.RequestCost = n / 1000 * prices.RestoreBulkPer1000
			tq.RetrievalCost = gb * prices.RestoreBulkPerGB
		}
		// The restored copy is billed at Standard for the days it is kept.
		tq.CopyCost = gb * prices.StandardPerGBMonth * float64(days) / 30
		tq.GetCost = n / 1000 * prices.GetPer1000
		if over := gb - prices.EgressFreeGBMonth; over > 0 {
			tq.EgressCost = over * prices.EgressPerGB
		}
		tq.Total = tq.RequestCost + tq.RetrievalCost + tq.CopyCost + tq.GetCost + tq.EgressCost
		q.Tiers = append(q.Tiers, tq)
		if t == chosen {
			q.Chosen = tq
		}
	}
	return q
}
