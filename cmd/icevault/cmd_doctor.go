package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strings"

	"github.com/spf13/cobra"

	"github.com/icevault/icevault/internal/auth"
	"github.com/icevault/icevault/internal/config"
	"github.com/icevault/icevault/internal/doctor"
	"github.com/icevault/icevault/internal/store"
)

func newDoctorCmd(a *app) *cobra.Command {
	var opts doctor.Options
	cmd := &cobra.Command{
		Use:   "doctor",
		Short: "Check credentials, bucket, region, policy and clock for the configured repository",
		Long: `doctor checks, in order, that this machine can back up to the repository's
bucket: who the credentials belong to (STS GetCallerIdentity) and how long
they last, that the bucket is in the configured region, that listing, a
create-only DEEP_ARCHIVE upload and restore requests are allowed, that the
clock is within SigV4's limits and that the connection is TLS. Every ✗ comes
with a fix: a command to run or the policy statement to add.

The put test creates one small object under <prefix>doctor/ the way backups
do. Under icevault's no-delete policy it can never be removed: it is ~40 KB
of billed storage, a fraction of a cent a year. --no-put-test skips it.

The restore check sends RestoreObject for a key that does not exist: S3
checks the permission first, so "NoSuchKey" means allowed; nothing thaws.

--probe-deny also sends one STANDARD upload that a correct policy refuses.
If the policy does not refuse it, the probe leaves a tiny STANDARD object
that icevault cannot delete (~$0.023/GB-month) — and doctor tells you to fix
the policy. It never runs unless asked.

Exits non-zero when a check failed (4 login required, 5 access denied,
6 AWS unreachable, 8 no such bucket, 2 wrong configuration, 1 otherwise).`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return a.doctor(cmd.Context(), opts)
		},
	}
	f := cmd.Flags()
	f.BoolVar(&opts.SkipPutTest, "no-put-test", false, "skip the test upload (it leaves one small undeletable DEEP_ARCHIVE object, ~40 KB billed)")
	f.BoolVar(&opts.ProbeDeny, "probe-deny", false, "also check that a STANDARD upload is refused; if the policy is missing, this leaves an undeletable STANDARD object (~$0.023/GB-month)")
	return cmd
}

func (a *app) doctor(ctx context.Context, opts doctor.Options) error {
	f, err := a.loadConfig()
	if err != nil {
		return err
	}
	name, rc, err := f.Repo(a.repo)
	if err != nil {
		return usageError{err}
	}
	profile := rc.Profile
	if a.profileSet {
		profile = a.profile
	}
	opts.Repo, opts.Bucket, opts.Prefix, opts.Region, opts.Endpoint, opts.Profile = name, rc.Bucket, rc.Prefix, rc.Region, rc.Endpoint, profile
	if rc.Credentials == config.CredentialsKeychain {
		opts.Profile = ""
	}

	var deps doctor.Deps
	cfg, err := a.awsConfig(ctx, rc)
	if err == nil {
		deps, err = doctor.NewAWS(cfg, doctor.AWSOptions{
			Endpoint: rc.Endpoint, Bucket: rc.Bucket, Profile: opts.Profile,
			Keychain:        rc.Credentials == config.CredentialsKeychain,
			NoSTS:           !doctor.STSAvailable(rc.Endpoint, os.Getenv),
			IsLoginRequired: auth.IsLoginRequired,
			SSOSession: func(ctx context.Context) (doctor.SSOSession, error) {
				// The token cache only: no refresh, no login.
				st, err := auth.GetStatus(ctx, auth.StatusOptions{Profile: opts.Profile})
				return doctor.SSOSession{AccessTokenExpires: st.AccessTokenExpiresAt, RefreshToken: st.RefreshToken,
					RegistrationExpires: st.RegistrationExpiresAt}, err
			},
		})
	}
	if err != nil {
		// No usable AWS config (missing profile, no keys): that is the
		// finding, and the report says what to do about it.
		cfgErr := err
		deps = doctor.Deps{
			IsLoginRequired: auth.IsLoginRequired,
			CallerIdentity:  func(context.Context) (doctor.Identity, error) { return doctor.Identity{}, cfgErr },
			Credentials:     func(context.Context) (doctor.CredentialInfo, error) { return doctor.CredentialInfo{}, cfgErr },
		}
	}
	deps.Host, _ = os.Hostname()

	rep := doctor.Run(ctx, deps, opts)
	if err := ctx.Err(); err != nil {
		return err
	}
	if a.json {
		if err := a.emitJSON(struct {
			Event  string         `json:"event"`
			Repo   string         `json:"repo"`
			OK     bool           `json:"ok"`
			Checks []doctor.Check `json:"checks"`
		}{"doctor", name, rep.OK(), rep.Checks}); err != nil {
			return err
		}
	} else {
		renderDoctor(a, rep)
	}
	return doctorError(rep)
}

var doctorMarks = map[doctor.Status]string{doctor.OK: "✓", doctor.Fail: "✗", doctor.Warn: "!", doctor.Skipped: "-"}

func renderDoctor(a *app, rep doctor.Report) {
	for _, c := range rep.Checks {
		detail := c.Detail
		if c.Status == doctor.Skipped {
			detail = "skipped: " + detail
		}
		a.printf("%s %s: %s\n", doctorMarks[c.Status], c.Name, detail)
		if c.Fix != "" && (c.Status == doctor.Fail || c.Status == doctor.Warn) {
			a.printf("    fix: %s\n", c.Fix)
		}
	}
	if !rep.OK() {
		return
	}
	warnings := 0
	for _, c := range rep.Checks {
		if c.Status == doctor.Warn {
			warnings++
		}
	}
	switch warnings {
	case 0:
		a.printf("all checks passed\n")
	case 1:
		a.printf("all checks passed, with 1 warning\n")
	default:
		a.printf("all checks passed, with %d warnings\n", warnings)
	}
}

// doctorError turns a report with failures into an error whose exit code
// says what the first failure was (see exit.go).
func doctorError(rep doctor.Report) error {
	failed := rep.Failed()
	if len(failed) == 0 {
		return nil
	}
	names := make([]string, len(failed))
	for i, c := range failed {
		names[i] = c.Name
	}
	msg := fmt.Sprintf("doctor: %d of %d checks failed (%s)", len(failed), len(rep.Checks), strings.Join(names, ", "))
	switch failed[0].Cause {
	case doctor.CauseLogin, doctor.CauseCredentials:
		return fmt.Errorf("%s: %w", msg, store.ErrLoginRequired)
	case doctor.CauseAccess, doctor.CausePolicy:
		return fmt.Errorf("%s: %w", msg, store.ErrAccessDenied)
	case doctor.CauseNetwork:
		return fmt.Errorf("%s: %w", msg, store.ErrTransient)
	case doctor.CauseNotFound:
		return fmt.Errorf("%s: %w", msg, store.ErrNotFound)
	case doctor.CauseConfig:
		return usageError{errors.New(msg + ": fix the repository config")}
	}
	return errors.New(msg)
}
