package s3store

import (
	"fmt"
	"net"
	"net/url"
	"os"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/aws/retry"
	"github.com/aws/aws-sdk-go-v2/service/s3"
)

// ClientOptions say where and how to reach S3.
type ClientOptions struct {
	// Endpoint overrides AWS's endpoint (simulator, moto, tests). Empty means
	// whatever the SDK resolved from AWS_ENDPOINT_URL_S3, AWS_ENDPOINT_URL or
	// the profile's endpoint_url, else AWS (doc.go, "Endpoint"). Plain
	// http:// is allowed only on loopback, from any source.
	Endpoint string
	// MaxAttempts bounds the SDK's retries of transient errors; 0 means 8.
	// Deep Archive backups run for hours, so a few throttles or dropped
	// connections must not fail a run, but a dead endpoint must fail it in
	// well under a minute (backoff is capped at MaxBackoff).
	MaxAttempts int
	// MaxBackoff caps one retry delay; 0 means 10s.
	MaxBackoff time.Duration
}

// NewClient builds the S3 client from an AWS config (credentials and region
// resolved by the caller, e.g. config.LoadDefaultConfig with a profile).
//
// The endpoint is opts.Endpoint if set; otherwise whatever the SDK resolved
// from the environment or the profile (AWS_ENDPOINT_URL_S3, AWS_ENDPOINT_URL,
// endpoint_url; see doc.go). Either way the same rule applies: it must pass
// ValidateEndpoint, and a custom endpoint is addressed path-style.
func NewClient(cfg aws.Config, opts ClientOptions) (*s3.Client, error) {
	if err := ValidateEndpoint(opts.Endpoint); err != nil {
		return nil, err
	}
	if cfg.Region == "" {
		return nil, fmt.Errorf("no AWS region configured: set region in the repository config or the AWS profile")
	}
	attempts := opts.MaxAttempts
	if attempts <= 0 {
		attempts = 8
	}
	backoff := opts.MaxBackoff
	if backoff <= 0 {
		backoff = 10 * time.Second
	}
	var endpointErr error
	client := s3.NewFromConfig(cfg, func(o *s3.Options) {
		// Option functions run after the SDK's own endpoint resolution, so
		// o.BaseEndpoint holds what it found in the environment or profile.
		endpoint := opts.Endpoint
		if endpoint == "" && o.BaseEndpoint != nil && *o.BaseEndpoint != "" {
			endpoint = *o.BaseEndpoint
			if err := ValidateEndpoint(endpoint); err != nil {
				endpointErr = fmt.Errorf("%w (set by %s; fix or unset it, or set endpoint in the repository config, which takes precedence)",
					err, endpointSource(endpoint))
			}
		}
		if endpoint != "" {
			o.BaseEndpoint = aws.String(endpoint)
			// The simulator and moto serve path-style buckets only; AWS
			// itself keeps the default virtual-hosted style. An endpoint
			// from the environment is treated as the repository's would be,
			// so one URL behaves the same wherever it is written.
			o.UsePathStyle = true
		}
		// Ranged reads carry no whole-object checksum; packs are
		// authenticated by age anyway, so the SDK need not log that.
		o.DisableLogOutputChecksumValidationSkipped = true
		o.Retryer = retry.NewStandard(func(so *retry.StandardOptions) {
			so.MaxAttempts = attempts
			so.MaxBackoff = backoff
		})
	})
	if endpointErr != nil {
		return nil, endpointErr
	}
	return client, nil
}

// endpointSource names where the SDK found endpoint, for error messages.
func endpointSource(endpoint string) string {
	for _, v := range []string{"AWS_ENDPOINT_URL_S3", "AWS_ENDPOINT_URL"} {
		if os.Getenv(v) == endpoint {
			return "$" + v
		}
	}
	return "endpoint_url in the AWS profile (~/.aws/config)"
}

// ValidateEndpoint accepts "" (AWS), any https:// URL, and http:// only on a
// loopback host: credentials and data must never cross a network in clear.
func ValidateEndpoint(raw string) error {
	if raw == "" {
		return nil
	}
	u, err := url.Parse(raw)
	if err != nil || u.Host == "" {
		return fmt.Errorf("endpoint %q is not a URL: write it as https://host[:port] (or http://127.0.0.1:PORT for the simulator)", raw)
	}
	switch u.Scheme {
	case "https":
		return nil
	case "http":
		if IsLoopback(u.Hostname()) {
			return nil
		}
		return fmt.Errorf("endpoint %q uses plain http:// on a non-loopback host: use https://, or run the simulator on 127.0.0.1", raw)
	default:
		return fmt.Errorf("endpoint %q: scheme %q is not supported: use https:// (or http:// on loopback)", raw, u.Scheme)
	}
}

// IsLoopback reports whether host names this machine only.
func IsLoopback(host string) bool {
	if strings.EqualFold(host, "localhost") {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}
