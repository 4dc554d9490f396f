package main

import (
	"fmt"
	"time"

	"github.com/spf13/cobra"

	"github.com/icevault/icevault/internal/clock"
	"github.com/icevault/icevault/internal/sim"
)

func newSimCmd(a *app) *cobra.Command {
	var (
		listen, dir, region string
		buckets             []string
		scale               float64
		thawStd, thawBulk   time.Duration
		policy              bool
	)
	cmd := &cobra.Command{
		Use:   "sim",
		Short: "Run the Deep Archive simulator (a development and demo tool)",
		Long: `Run icevault's Deep Archive simulator: a real S3 endpoint on loopback that behaves
like a bucket in S3 Glacier Deep Archive — objects are archived on upload, reads
fail with InvalidObjectState until a restore has thawed them, thaws take 12 h
(Standard) or 48 h (Bulk) of the simulator's clock, and restored copies expire.

It is for development, tests and demos. It is not storage: do not keep data in it.
Requests must be signed with the simulator's fixed test key (printed at start).
--time-scale 3600 makes one simulated hour pass every wall-clock second.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if scale < 1 {
				return usageError{fmt.Errorf("--time-scale %v: must be at least 1 (1 = real time)", scale)}
			}
			var clk clock.Clock = clock.Real{}
			if scale > 1 {
				clk = clock.NewScaled(scale)
			}
			srv, err := sim.Listen(listen, sim.Options{
				Clock: clk, Region: region, Dir: dir, Buckets: buckets,
				ThawStandard: thawStd, ThawBulk: thawBulk, EnforcePolicy: policy,
			})
			if err != nil {
				return usageError{err}
			}
			defer srv.Close()
			storage := "memory (lost on exit)"
			if dir != "" {
				storage = dir
			}
			if a.json {
				if err := a.emitJSON(map[string]any{"event": "listening", "endpoint": srv.URL, "region": region,
					"buckets": buckets, "access_key_id": sim.DefaultAccessKey, "time_scale": scale, "storage": storage}); err != nil {
					return err
				}
			} else {
				a.printf("Deep Archive simulator listening on %s\n", srv.URL)
				a.printf("  buckets %v, region %s, storage %s, clock x%g, policy mode %v\n", buckets, region, storage, scale, policy)
				a.printf("  It accepts only its fixed test key (not a secret; never a real AWS key):\n")
				a.printf("    export AWS_ACCESS_KEY_ID=%s AWS_SECRET_ACCESS_KEY=%s AWS_REGION=%s\n", sim.DefaultAccessKey, sim.DefaultSecretKey, region)
				a.printf("    aws --endpoint-url %s s3api list-objects-v2 --bucket %s\n", srv.URL, buckets[0])
				a.printf("Ctrl-C stops it.\n")
			}
			<-cmd.Context().Done()
			return nil
		},
	}
	f := cmd.Flags()
	f.StringVar(&listen, "listen", "127.0.0.1:9000", "loopback address to listen on")
	f.StringVar(&dir, "dir", "", "keep objects in this directory (survives restarts); default in memory")
	f.StringVar(&region, "region", "us-east-1", "region the simulator signs for")
	f.StringSliceVar(&buckets, "bucket", []string{"icevault-demo"}, "bucket(s) to create")
	f.Float64Var(&scale, "time-scale", 1, "simulated seconds per real second (3600: a 12 h thaw takes 12 s)")
	f.DurationVar(&thawStd, "thaw-standard", 12*time.Hour, "thaw time of the Standard tier (simulated)")
	f.DurationVar(&thawBulk, "thaw-bulk", 48*time.Hour, "thaw time of the Bulk tier (simulated)")
	f.BoolVar(&policy, "policy", false, "enforce the seed's bucket policy: only create-only DEEP_ARCHIVE puts, no deletes")
	return cmd
}
