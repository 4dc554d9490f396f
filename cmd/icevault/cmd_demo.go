package main

import (
	"bytes"
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/spf13/cobra"

	"github.com/icevault/icevault/internal/clock"
	"github.com/icevault/icevault/internal/sim"
	"github.com/icevault/icevault/internal/store"
	"github.com/icevault/icevault/internal/store/s3store"
)

const demoBucket = "icevault-demo"

func newDemoCmd(a *app) *cobra.Command {
	var (
		scale float64
		tier  string
		size  int
	)
	cmd := &cobra.Command{
		Use:   "demo",
		Short: "Show the whole Deep Archive round trip on the built-in simulator (no AWS account needed)",
		Long: `Start the Deep Archive simulator inside this process and walk through what icevault
does with every object: a create-only DEEP_ARCHIVE upload with a SHA-256 checksum,
a refused overwrite, a refused read of an archived object, a restore request, the
thaw (12 h for Standard, on a clock running --time-scale times faster), and a read
verified byte for byte. Nothing leaves this machine.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			t, err := parseTier(tier)
			if err != nil {
				return usageError{err}
			}
			if scale < 1 || size < 1 || size > 256<<20 {
				return usageError{errors.New("--time-scale must be ≥ 1 and --size between 1 byte and 256 MiB")}
			}
			return runDemo(cmd.Context(), a, demoOptions{scale: scale, tier: t, size: size})
		},
	}
	f := cmd.Flags()
	f.Float64Var(&scale, "time-scale", 7200, "simulated seconds per real second (7200: a 12 h thaw takes 6 s)")
	f.StringVar(&tier, "tier", "standard", "retrieval tier: standard (12 h) or bulk (48 h)")
	f.IntVar(&size, "size", 1<<20, "size of the sample object in bytes")
	return cmd
}

func parseTier(s string) (store.Tier, error) {
	switch s {
	case "standard", "Standard":
		return store.TierStandard, nil
	case "bulk", "Bulk":
		return store.TierBulk, nil
	case "expedited", "Expedited":
		return "", errors.New("tier expedited does not exist for Deep Archive: use standard (≤ 12 h) or bulk (≤ 48 h)")
	}
	return "", fmt.Errorf("tier %q: use standard (≤ 12 h) or bulk (≤ 48 h)", s)
}

type demoOptions struct {
	scale float64
	tier  store.Tier
	size  int
}

// demoStep is one line of the demo's story; with --json each is one event.
type demoStep struct {
	Event  string         `json:"event"`
	Step   string         `json:"step"`
	Text   string         `json:"text"`
	Fields map[string]any `json:"fields,omitempty"`
}

func runDemo(ctx context.Context, a *app, o demoOptions) error {
	say := func(step, format string, args ...any) {
		text := fmt.Sprintf(format, args...)
		if a.json {
			_ = a.emitJSON(demoStep{Event: "demo", Step: step, Text: text})
			return
		}
		a.printf("%-8s %s\n", step, text)
	}
	clk := clock.NewScaled(o.scale)
	srv, err := sim.Start(sim.Options{Clock: clk, Buckets: []string{demoBucket}})
	if err != nil {
		return fmt.Errorf("starting the simulator: %w", err)
	}
	defer srv.Close()
	say("sim", "Deep Archive simulator at %s, bucket %s, clock x%g (this process only; no AWS account)", srv.URL, demoBucket, o.scale)

	client, err := s3store.NewClient(aws.Config{
		Region:      "us-east-1",
		Credentials: credentials.NewStaticCredentialsProvider(sim.DefaultAccessKey, sim.DefaultSecretKey, ""),
	}, s3store.ClientOptions{Endpoint: srv.URL, MaxAttempts: 3})
	if err != nil {
		return err
	}
	st := s3store.New(client, demoBucket, s3store.Options{})

	data := make([]byte, o.size)
	rng := rand.New(rand.NewPCG(1, 2))
	for i := range data {
		data[i] = byte(rng.IntN(256))
	}
	sum := sha256.Sum256(data)
	key := "icevault/demo/data/pack-0001"
	if _, err := st.Put(ctx, store.PutRequest{Key: key, Body: bytes.NewReader(data), Size: int64(len(data)), SHA256: sum,
		Metadata: map[string]string{"icevault-kind": "demo"}}); err != nil {
		return err
	}
	say("put", "%s: %d bytes to DEEP_ARCHIVE, create-only (If-None-Match: *), sha256 %x…", key, len(data), sum[:6])

	other := []byte("different bytes under the same key")
	_, err = st.Put(ctx, store.PutRequest{Key: key, Body: bytes.NewReader(other), Size: int64(len(other)), SHA256: sha256.Sum256(other)})
	if !errors.Is(err, store.ErrExists) {
		return fmt.Errorf("overwrite was not refused: %v", err)
	}
	say("put", "the same key with other bytes: refused (412 PreconditionFailed); nothing is ever overwritten")

	info, err := st.Head(ctx, key)
	if err != nil {
		return err
	}
	say("head", "storage class %s, %d bytes, %s", info.StorageClass, info.Size, info.Restore.State)

	if _, err := st.Get(ctx, key, nil); !errors.Is(err, store.ErrArchived) {
		return fmt.Errorf("read of an archived object was not refused: %v", err)
	}
	say("get", "refused: archived (403 InvalidObjectState); Deep Archive objects must be restored first")

	res, err := st.RequestRestore(ctx, key, 1, o.tier)
	if err != nil {
		return err
	}
	again, err := st.RequestRestore(ctx, key, 1, o.tier)
	if err != nil {
		return err
	}
	say("restore", "%s tier, keep 1 day: %s; asked again: %s", o.tier, res, again)

	start := clk.Now()
	for {
		if err := clk.Sleep(ctx, time.Hour); err != nil {
			return err
		}
		info, err = st.Head(ctx, key)
		if err != nil {
			return err
		}
		elapsed := clk.Now().Sub(start).Truncate(time.Minute)
		if info.Restore.State == store.RestoreDone {
			say("thaw", "ready after %s of simulated time; the copy is readable until %s", elapsed, info.Restore.Expiry.Format(time.RFC1123))
			break
		}
		if hours := int(elapsed.Hours()); hours%3 == 0 && !a.json {
			say("thaw", "still thawing after %dh (simulated)", hours)
		}
	}

	rc, err := st.Get(ctx, key, nil)
	if err != nil {
		return err
	}
	got, err := io.ReadAll(rc)
	rc.Close()
	if err != nil {
		return fmt.Errorf("reading %s: %w", key, err)
	}
	if !bytes.Equal(got, data) {
		return fmt.Errorf("restored object differs from what was uploaded (%d vs %d bytes)", len(got), len(data))
	}
	say("get", "%d bytes read back; sha256 matches byte for byte", len(got))

	counts := srv.Counts()
	say("log", "requests the simulator saw: PutObject %d, HeadObject %d, GetObject %d, RestoreObject %d; DeleteObject %d, CopyObject %d, multipart %d",
		counts["PutObject"], counts["HeadObject"], counts["GetObject"], counts["RestoreObject"],
		counts["DeleteObject"]+counts["DeleteObjects"], counts["CopyObject"],
		counts["CreateMultipartUpload"]+counts["UploadPart"]+counts["CompleteMultipartUpload"])
	if a.json {
		return a.emitJSON(map[string]any{"event": "done", "verified": true, "requests": counts})
	}
	a.printf("done: the round trip worked. Next: icevault --help\n")
	return nil
}
