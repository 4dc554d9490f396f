package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/spf13/cobra"

	"github.com/icevault/icevault/internal/config"
)

// app is what every command shares: global flags and where output goes.
type app struct {
	profile    string
	profileSet bool // --profile was given: it overrides the repository's profile
	repo       string
	configPath string
	json       bool
	verbose    int

	stdin          io.Reader
	stdout, stderr io.Writer
}

// loadConfig reads the config file named by --config, ICEVAULT_CONFIG or the
// default location.
func (a *app) loadConfig() (*config.File, error) {
	p, err := a.configFilePath()
	if err != nil {
		return nil, err
	}
	return config.Load(p)
}

// configFilePath is the config file in use: --config, $ICEVAULT_CONFIG or
// the default location.
func (a *app) configFilePath() (string, error) {
	if a.configPath != "" {
		return a.configPath, nil
	}
	return config.DefaultPath()
}

// emitJSON writes v as one line of JSON: --json output is a stream of
// objects, one per line, so tools can read it as it comes.
func (a *app) emitJSON(v any) error {
	b, err := json.Marshal(v)
	if err != nil {
		return err
	}
	_, err = fmt.Fprintf(a.stdout, "%s\n", b)
	return err
}

func (a *app) printf(format string, args ...any) {
	if !a.json {
		fmt.Fprintf(a.stdout, format, args...)
	}
}

func newRootCmd(a *app) *cobra.Command {
	root := &cobra.Command{
		Use:   "icevault",
		Short: "Back up folders to S3 Glacier Deep Archive, and get them back",
		Long: `icevault archives folders to one S3 bucket in the DEEP_ARCHIVE storage class —
deduplicated, packed, compressed and encrypted on this machine — under a
least-privilege, no-delete policy, with AWS IAM Identity Center (SSO) or keychain
credentials, and restores them across Deep Archive's 12–48 hour thaw.

Try it without an AWS account:  icevault demo`,
		SilenceUsage:  true,
		SilenceErrors: true,
	}
	root.SetIn(a.stdin)
	root.SetOut(a.stdout)
	root.SetErr(a.stderr)
	f := root.PersistentFlags()
	f.StringVar(&a.profile, "profile", config.DefaultProfile, "AWS profile to use (an IAM Identity Center profile by default)")
	f.StringVar(&a.repo, "repo", "", "repository name from the config (default: the config's default, or the only one)")
	f.StringVar(&a.configPath, "config", "", "config file (default: $ICEVAULT_CONFIG or <user config dir>/icevault/config.toml)")
	f.BoolVar(&a.json, "json", false, "write machine-readable JSON lines instead of text")
	f.CountVarP(&a.verbose, "verbose", "v", "say more (repeat for more)")
	root.SetFlagErrorFunc(func(_ *cobra.Command, err error) error { return usageError{err} })
	root.PersistentPreRun = func(cmd *cobra.Command, _ []string) {
		a.profileSet = cmd.Flags().Changed("profile")
	}

	root.AddCommand(newVersionCmd(a), newSimCmd(a), newDemoCmd(a),
		newInitCmd(a), newKeyCmd(a), newBackupCmd(a),
		newSnapshotsCmd(a), newLsCmd(a), newFindCmd(a), newDiffCmd(a), newCostCmd(a),
		newRestoreCmd(a), newRecoverCmd(a))
	root.AddCommand(newPolicyCmd(a))
	root.AddCommand(newKeysCmd(a))
	root.AddCommand(newSetupCmd(a))
	root.AddCommand(newDoctorCmd(a))
	root.AddCommand(newLoginCmd(a), newLogoutCmd(a), newAuthCmd(a))
	root.AddCommand(newScheduleCmd(a))
	root.AddCommand(newAgentCmd(a), newStatusCmd(a), newDashboardCmd(a))
	return root
}

// run executes the command line and returns the process exit code.
func run(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	a := &app{stdin: stdin, stdout: stdout, stderr: stderr}
	root := newRootCmd(a)
	root.SetArgs(args)
	err := root.ExecuteContext(ctx)
	if err == nil {
		return exitOK
	}
	if isCobraUsage(err) {
		err = usageError{err}
	}
	code := exitCode(err)
	if a.json {
		_ = a.emitJSON(map[string]any{"event": "error", "error": err.Error(), "exit_code": code})
	} else {
		fmt.Fprintf(stderr, "icevault: %v\n", err)
	}
	return code
}

// isCobraUsage recognises cobra's own argument errors, which it does not type.
func isCobraUsage(err error) bool {
	var ue usageError
	if errors.As(err, &ue) {
		return false
	}
	msg := err.Error()
	for _, p := range []string{"unknown command", "accepts ", "requires at least", "requires at most", "invalid argument"} {
		if strings.HasPrefix(msg, p) {
			return true
		}
	}
	return false
}
