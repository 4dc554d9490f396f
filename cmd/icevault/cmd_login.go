package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"runtime"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/icevault/icevault/internal/auth"
	"github.com/icevault/icevault/internal/config"
	"github.com/icevault/icevault/internal/store"
)

// loginRequiredError carries auth's message and exits with
// exitLoginRequired (through store.ErrLoginRequired).
type loginRequiredError struct{ msg string }

func (e loginRequiredError) Error() string { return e.msg }
func (e loginRequiredError) Unwrap() error { return store.ErrLoginRequired }

// loginProfile is the AWS profile login, logout and status act on: --profile,
// else the repository's profile, else the default.
func (a *app) loginProfile() string {
	if a.profileSet {
		return a.profile
	}
	if f, err := a.loadConfig(); err == nil {
		if _, rc, err := f.Repo(a.repo); err == nil && rc.Credentials == config.CredentialsProfile && rc.Profile != "" {
			return rc.Profile
		}
	}
	return a.profile
}

// browserOpener opens the login page; tests replace it with a client that
// plays the browser.
var browserOpener = openBrowser

// openBrowser opens url in the user's browser.
func openBrowser(url string) error {
	var cmd *exec.Cmd
	switch runtime.GOOS {
	case "darwin":
		cmd = exec.Command("open", url)
	case "windows":
		cmd = exec.Command("rundll32", "url.dll,FileProtocolHandler", url)
	default:
		cmd = exec.Command("xdg-open", url)
	}
	if err := cmd.Start(); err != nil {
		return err
	}
	go func() { _ = cmd.Wait() }()
	return nil
}

func newLoginCmd(a *app) *cobra.Command {
	var deviceCode, noBrowser, awsCLI bool
	cmd := &cobra.Command{
		Use:   "login",
		Short: "Log in to AWS IAM Identity Center (SSO) for the profile",
		Long: `Log in to AWS IAM Identity Center for the AWS profile (--profile, the
repository's profile, or "icevault") and store the token where the AWS CLI
keeps it (~/.aws/sso/cache), so icevault, the SDK and 'aws' share one login.

By default a browser opens the authorization page (authorization code with
PKCE, redirected to this machine). Over SSH, or without a browser here, use
--device-code: open the printed URL on any device and check the code.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			profile := a.loginProfile()
			if awsCLI {
				return runAWSCLILogin(cmd.Context(), a, profile, deviceCode, noBrowser)
			}
			opts := auth.LoginOptions{Profile: profile, DeviceCode: deviceCode, OnPrompt: func(p auth.Prompt) { a.showPrompt(p) }}
			if !noBrowser {
				opts.OpenBrowser = browserOpener
			}
			res, err := auth.Login(cmd.Context(), opts)
			if err != nil {
				return loginError(profile, err)
			}
			if a.json {
				return a.emitJSON(map[string]any{"event": "logged_in", "profile": profile,
					"sso_session": res.Session.Name, "start_url": res.Session.StartURL, "cache_file": res.Session.CachePath,
					"access_token_expires_at": res.ExpiresAt, "refresh_token": res.Refresh})
			}
			a.printf("Logged in to %s (profile %s).\n", res.Session.StartURL, profile)
			a.printf("The access token expires in %s", untilText(res.ExpiresAt))
			if res.Refresh {
				a.printf("; it is renewed automatically while the session lasts")
			}
			a.printf(".\n")
			return nil
		},
	}
	f := cmd.Flags()
	f.BoolVar(&deviceCode, "device-code", false, "log in with a code shown here and approved on any device (for SSH, no local browser)")
	f.BoolVar(&noBrowser, "no-browser", false, "print the URL instead of opening a browser")
	f.BoolVar(&awsCLI, "aws-cli", false, "run `aws sso login` instead of icevault's own login")
	return cmd
}

// showPrompt tells the user how to approve the login: on stderr in text
// mode (stdout stays the result), as an event with --json.
func (a *app) showPrompt(p auth.Prompt) {
	if a.json {
		ev := map[string]any{"event": "login_prompt", "url": p.URL, "browser_opened": p.BrowserOpened}
		if p.UserCode != "" {
			ev["user_code"] = p.UserCode
			ev["verification_uri"] = p.VerificationURI
		}
		_ = a.emitJSON(ev)
		return
	}
	w := a.stderr
	switch {
	case p.BrowserOpened:
		fmt.Fprintf(w, "A browser window opened to approve the login. If it did not, open:\n\n  %s\n\n", p.URL)
	case p.BrowserErr != nil:
		fmt.Fprintf(w, "Could not open a browser (%v). Open this URL:\n\n  %s\n\n", p.BrowserErr, p.URL)
	default:
		fmt.Fprintf(w, "Open this URL to approve the login:\n\n  %s\n\n", p.URL)
	}
	if p.UserCode != "" {
		fmt.Fprintf(w, "and check that the page shows the code:\n\n  %s\n\n", p.UserCode)
	}
	fmt.Fprintln(w, "Waiting for approval...")
}

func loginError(profile string, err error) error {
	switch {
	case errors.Is(err, auth.ErrNotSSO):
		return usageError{fmt.Errorf("%w: profile %q has no sso_session or sso_start_url; `icevault setup` writes one", err, profile)}
	case errors.Is(err, context.Canceled):
		return err
	}
	return fmt.Errorf("login (profile %s): %w", profile, err)
}

// runAWSCLILogin runs `aws sso login --profile P` and then checks, as
// `auth status` does, that the token it cached gives a session icevault can
// use: the two share ~/.aws/sso/cache, but a success reported by aws alone
// could hide a profile the two read differently.
func runAWSCLILogin(ctx context.Context, a *app, profile string, deviceCode, noBrowser bool) error {
	path, err := exec.LookPath("aws")
	if err != nil {
		return usageError{errors.New("--aws-cli: the AWS CLI (aws) is not installed; run `icevault login` without --aws-cli")}
	}
	args := []string{"sso", "login", "--profile", profile}
	if deviceCode {
		args = append(args, "--use-device-code")
	}
	if noBrowser {
		args = append(args, "--no-browser")
	}
	c := exec.CommandContext(ctx, path, args...)
	// aws's own messages (the URL, the code, "Successfully logged in") are
	// prompts: stderr, as icevault's own login shows them, so stdout stays
	// the result (and valid JSON with --json).
	c.Stdin, c.Stdout, c.Stderr = a.stdin, a.stderr, a.stderr
	if a.stdin == nil {
		c.Stdin = os.Stdin
	}
	command := "aws " + strings.Join(args, " ")
	if err := c.Run(); err != nil {
		if ctx.Err() != nil {
			return ctx.Err()
		}
		var ee *exec.ExitError
		if errors.As(err, &ee) {
			return fmt.Errorf("`%s` failed (exit status %d, its messages are above): fix what it reports, or run `icevault login` without --aws-cli", command, ee.ExitCode())
		}
		return fmt.Errorf("running `%s`: %w", command, err)
	}
	st, err := auth.GetStatus(ctx, auth.StatusOptions{Profile: profile, RoleCredentials: true})
	if err != nil {
		return loginError(profile, err)
	}
	if st.LoginRequired {
		return loginRequiredError{fmt.Sprintf("`%s` succeeded, but the token cache gives no valid session for profile %s: %s", command, profile, st.Message)}
	}
	if a.json {
		ev := map[string]any{"event": "logged_in", "via": "aws-cli", "profile": profile,
			"sso_session": st.SessionName, "start_url": st.StartURL, "cache_file": st.CachePath,
			"access_token_expires_at": st.AccessTokenExpiresAt, "refresh_token": st.RefreshToken}
		if !st.RoleCredsExpiresAt.IsZero() {
			ev["role_credentials_expire_at"] = st.RoleCredsExpiresAt
		}
		return a.emitJSON(ev)
	}
	a.printf("Logged in with the AWS CLI to %s (profile %s).\n", st.StartURL, profile)
	a.printf("The access token expires in %s", untilText(st.AccessTokenExpiresAt))
	if st.RefreshToken {
		a.printf("; it is renewed automatically while the session lasts")
	}
	a.printf(".\n")
	switch {
	case !st.RoleCredsExpiresAt.IsZero():
		a.printf("Role credentials for %s/%s: valid.\n", st.AccountID, st.RoleName)
	case st.RoleCredsError != "":
		a.printf("Role credentials for %s/%s: refused (%s).\n", st.AccountID, st.RoleName, st.RoleCredsError)
	}
	return nil
}

func newLogoutCmd(a *app) *cobra.Command {
	return &cobra.Command{
		Use:   "logout",
		Short: "Remove the profile's IAM Identity Center token from the shared cache",
		Long: `Remove the profile's IAM Identity Center token from ~/.aws/sso/cache. The
cache is shared with the AWS CLI, so this logs 'aws' out of that session too.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			profile := a.loginProfile()
			removed, err := auth.Logout(cmd.Context(), profile)
			if err != nil {
				return loginError(profile, err)
			}
			if a.json {
				return a.emitJSON(map[string]any{"event": "logged_out", "profile": profile, "removed": removed})
			}
			if removed == "" {
				a.printf("Not logged in (profile %s): there was no token to remove.\n", profile)
			} else {
				a.printf("Logged out (profile %s): removed %s.\n", profile, removed)
			}
			return nil
		},
	}
}

func newAuthCmd(a *app) *cobra.Command {
	cmd := &cobra.Command{Use: "auth", Short: "Show the AWS login state"}
	cmd.AddCommand(&cobra.Command{
		Use:   "status",
		Short: "Show the IAM Identity Center session: token expiry, refresh, registration, role credentials",
		Long: `Show the profile's IAM Identity Center session as the token cache holds it.
It never logs in and never refreshes the token. Exits 4 when a login is
required.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			profile := a.loginProfile()
			st, err := auth.GetStatus(cmd.Context(), auth.StatusOptions{Profile: profile, RoleCredentials: true})
			if err != nil {
				return loginError(profile, err)
			}
			if a.json {
				if err := a.emitJSON(st); err != nil {
					return err
				}
			} else {
				printStatus(a, st)
			}
			if st.LoginRequired {
				return loginRequiredError{st.Message}
			}
			return nil
		},
	})
	return cmd
}

func printStatus(a *app, st auth.Status) {
	a.printf("profile:              %s\n", st.Profile)
	if st.SessionName != "" {
		a.printf("sso session:          %s\n", st.SessionName)
	} else {
		a.printf("sso session:          (legacy profile, no sso-session)\n")
	}
	a.printf("start URL:            %s (%s)\n", st.StartURL, st.Region)
	a.printf("token cache:          %s\n", st.CachePath)
	if !st.LoggedIn {
		a.printf("logged in:            no\n")
	} else {
		a.printf("access token:         %s\n", expiryText(st.AccessTokenExpiresAt))
		a.printf("refresh token:        %s\n", map[bool]string{true: "present", false: "none"}[st.RefreshToken])
		if !st.RegistrationExpiresAt.IsZero() {
			a.printf("client registration:  %s\n", expiryText(st.RegistrationExpiresAt))
		}
	}
	switch {
	case !st.RoleCredsExpiresAt.IsZero():
		a.printf("role credentials:     %s/%s, %s\n", st.AccountID, st.RoleName, expiryText(st.RoleCredsExpiresAt))
	case st.RoleCredsError != "":
		a.printf("role credentials:     refused (%s)\n", st.RoleCredsError)
	}
	if st.Message != "" {
		a.printf("%s\n", st.Message)
	}
}

func expiryText(t time.Time) string {
	if time.Now().After(t) {
		return fmt.Sprintf("expired %s ago (%s)", time.Since(t).Round(time.Second), t.UTC().Format(time.RFC3339))
	}
	return fmt.Sprintf("expires in %s (%s)", untilText(t), t.UTC().Format(time.RFC3339))
}

func untilText(t time.Time) string { return time.Until(t).Round(time.Minute).String() }
