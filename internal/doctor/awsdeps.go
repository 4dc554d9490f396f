package doctor

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sts"

	"github.com/icevault/icevault/internal/store/s3store"
)

// SSOSession is what the SSO token cache says about the portal session.
// Zero times mean "not known".
type SSOSession struct {
	AccessTokenExpires  time.Time
	RefreshToken        bool
	RegistrationExpires time.Time
}

// AWSOptions say how to build Deps from an AWS config.
type AWSOptions struct {
	Endpoint string // S3 endpoint override ("" = AWS)
	Bucket   string
	Profile  string
	// Keychain is true when the config's static credentials came from the
	// OS keychain (config credentials = "keychain").
	Keychain bool
	// NoSTS leaves the identity check out (see STSAvailable).
	NoSTS           bool
	IsLoginRequired func(error) bool
	// SSOSession reads the SSO token cache for the profile; nil leaves the
	// token and portal-session fields unknown.
	SSOSession func(ctx context.Context) (SSOSession, error)
	// MaxAttempts bounds each call's retries; 0 means 2: a doctor should
	// answer in seconds, not retry for a minute like a backup.
	MaxAttempts int
}

// NewAWS builds the checks' dependencies on real SDK clients: STS, S3 (the
// store and the raw client for the deny probe) behind one Recorder, and the
// credential chain of cfg.
func NewAWS(cfg aws.Config, o AWSOptions) (Deps, error) {
	cfg = cfg.Copy()
	rec := NewRecorder(cfg.HTTPClient)
	cfg.HTTPClient = rec
	attempts := o.MaxAttempts
	if attempts <= 0 {
		attempts = 2
	}
	client, err := s3store.NewClient(cfg, s3store.ClientOptions{Endpoint: o.Endpoint, MaxAttempts: attempts, MaxBackoff: time.Second})
	if err != nil {
		return Deps{}, err
	}
	d := Deps{
		IsLoginRequired: o.IsLoginRequired,
		S3:              client,
		Probe:           client,
		Store:           s3store.New(client, o.Bucket, s3store.Options{IsLoginRequired: o.IsLoginRequired}),
		Wire:            rec.Observed,
	}
	if !o.NoSTS {
		stsClient := sts.NewFromConfig(cfg, func(so *sts.Options) { so.RetryMaxAttempts = attempts })
		d.CallerIdentity = func(ctx context.Context) (Identity, error) {
			out, err := stsClient.GetCallerIdentity(ctx, &sts.GetCallerIdentityInput{})
			if err != nil {
				return Identity{}, err
			}
			return Identity{Account: aws.ToString(out.Account), ARN: aws.ToString(out.Arn), UserID: aws.ToString(out.UserId)}, nil
		}
	}
	if cfg.Credentials != nil {
		d.Credentials = func(ctx context.Context) (CredentialInfo, error) {
			creds, err := cfg.Credentials.Retrieve(ctx)
			if err != nil {
				return CredentialInfo{}, err
			}
			info := CredentialInfo{Source: sourceOf(creds.Source, o.Keychain), Provider: creds.Source, Profile: o.Profile}
			if creds.CanExpire {
				info.RoleExpires = creds.Expires
			}
			if info.Source == SourceSSO && o.SSOSession != nil {
				s, err := o.SSOSession(ctx)
				if err != nil {
					return info, fmt.Errorf("reading the SSO token cache: %w", err)
				}
				info.AccessTokenExpires, info.RefreshToken, info.RegistrationExpires = s.AccessTokenExpires, s.RefreshToken, s.RegistrationExpires
			}
			return info, nil
		}
	}
	return d, nil
}

// sourceOf maps the SDK's provider names (aws.Credentials.Source) to ours.
func sourceOf(provider string, keychain bool) string {
	switch {
	case provider == "SSOProvider":
		return SourceSSO
	case strings.HasPrefix(provider, "SharedConfigCredentials"):
		return SourceStaticFile
	case provider == "EnvConfigCredentials":
		return SourceEnv
	case keychain:
		return SourceKeychain
	}
	return SourceOther
}

// STSAvailable reports whether STS can be asked who the caller is: always
// against AWS; with a custom S3 endpoint (simulator, tests) — the
// repository's or $AWS_ENDPOINT_URL_S3 — only when an STS endpoint is
// configured too, or the simulator's published key would be sent to the
// real STS.
func STSAvailable(s3Endpoint string, getenv func(string) string) bool {
	customS3 := s3Endpoint != "" || getenv("AWS_ENDPOINT_URL_S3") != ""
	return !customS3 || getenv("AWS_ENDPOINT_URL_STS") != "" || getenv("AWS_ENDPOINT_URL") != ""
}
