package main

import (
	"github.com/spf13/cobra"

	"github.com/icevault/icevault/internal/catalog"
	"github.com/icevault/icevault/internal/cost"
)

func newCostCmd(a *app) *cobra.Command {
	return &cobra.Command{
		Use:   "cost",
		Short: "What the repository costs per month, and what its uploads cost (from the catalog)",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			h, err := a.openRepo(cmd.Context(), "cost", false)
			if err != nil {
				return err
			}
			defer h.Close()
			prices, err := cost.Load()
			if err != nil {
				return usageError{err}
			}
			packs, err := h.cat.Packs(cmd.Context(), catalog.PackFilter{State: catalog.Uploaded})
			if err != nil {
				return err
			}
			var objects, bytes, dataBytes int64
			for _, p := range packs {
				objects++
				bytes += p.Size
				if p.Kind == catalog.PackData {
					dataBytes += p.Size
				}
			}
			objects++ // the config object
			monthly := prices.StorageMonth(objects, bytes)
			overhead := prices.StorageMonth(objects, 0)
			puts := prices.Puts(objects)
			if a.json {
				return a.emitJSON(map[string]any{"objects": objects, "bytes": bytes, "data_bytes": dataBytes,
					"monthly_usd": monthly, "overhead_monthly_usd": overhead, "put_requests": objects, "put_usd": puts,
					"minimum_storage_days": prices.MinimumStorageDays, "prices_as_of": prices.AsOf, "region": prices.Region})
			}
			a.printf("Stored:     %s in %d objects (%s of it file data), all DEEP_ARCHIVE\n", bytesize(bytes), objects, bytesize(dataBytes))
			a.printf("Per month:  %s (of which %s is the per-object overhead)\n", cost.Dollars(monthly), cost.Dollars(overhead))
			a.printf("Uploads:    %d PUT requests so far, %s\n", objects, cost.Dollars(puts))
			a.printf("Note:       Deep Archive bills every object for at least %d days.\n", prices.MinimumStorageDays)
			a.printf("Prices:     %s list prices as of %s (override with $ICEVAULT_PRICES)\n", prices.Region, prices.AsOf)
			return nil
		},
	}
}
