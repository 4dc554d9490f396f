package main

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"os"
	"slices"
	"strings"
	"time"

	"github.com/spf13/cobra"
	"golang.org/x/term"

	"github.com/icevault/icevault/internal/auth"
	"github.com/icevault/icevault/internal/awsprofile"
	"github.com/icevault/icevault/internal/config"
	"github.com/icevault/icevault/internal/iamkeys"
	"github.com/icevault/icevault/internal/store"
)

// stdinIsTerminal decides whether setup may prompt; tests replace it.
var stdinIsTerminal = func(r io.Reader) bool {
	f, ok := r.(*os.File)
	return ok && term.IsTerminal(int(f.Fd()))
}

type setupOpts struct {
	startURL, ssoRegion, accountID, roleName, ssoSession string
	staticKeys                                           bool
	accessKeyID                                          string
	bucket, prefix, region, endpoint                     string
	sources                                              []string
	yes, init                                            bool
	login, deviceCode, noDoctor                          bool
}

func newSetupCmd(a *app) *cobra.Command {
	var o setupOpts
	cmd := &cobra.Command{
		Use:   "setup",
		Short: "Set up AWS access and a repository: the SSO profile (or static keys), the config, init",
		Long: `Set up icevault in one go:

 1. AWS access: either an IAM Identity Center (SSO) profile — the
    [profile icevault] and [sso-session icevault] blocks in ~/.aws/config
    (AWS_CONFIG_FILE), keeping everything else in the file as it is, after a
    backup copy — or, with --static-keys, an IAM user's access key stored in the
    OS keychain (as 'icevault keys set' does);
 2. the repository in icevault's config file (bucket, prefix, region, sources);
 3. for SSO, a login if there is no current one (asked on a terminal;
    --login, with --device-code over SSH, when scripted);
 4. optionally 'icevault init' (asked on a terminal; --init when scripted);
 5. then 'icevault doctor' checks that everything works, test upload included
    (--no-doctor skips it; without a login it is left for later).

On a terminal, setup asks for what the flags do not give. With --yes (or without a
terminal) it never asks: each missing value is an error naming its flag.
Running it again with the same values changes nothing.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error { return a.runSetup(cmd, o) },
	}
	f := cmd.Flags()
	f.StringVar(&o.startURL, "sso-start-url", "", "IAM Identity Center start URL (https://d-xxxxxxxxxx.awsapps.com/start)")
	f.StringVar(&o.ssoRegion, "sso-region", "", "region of IAM Identity Center")
	f.StringVar(&o.accountID, "account-id", "", "AWS account ID (12 digits) holding the bucket")
	f.StringVar(&o.roleName, "role-name", "", "permission set (role) name to back up with")
	f.StringVar(&o.ssoSession, "sso-session", "", "name of the [sso-session] block (default: the profile name)")
	f.BoolVar(&o.staticKeys, "static-keys", false, "use static IAM user keys in the OS keychain instead of SSO (read like 'icevault keys set')")
	f.StringVar(&o.accessKeyID, "access-key-id", "", "with --static-keys: the access key ID; the secret is read from stdin or asked for")
	f.StringVar(&o.bucket, "bucket", "", "S3 bucket")
	f.StringVar(&o.prefix, "prefix", config.DefaultPrefix, "key prefix in the bucket")
	f.StringVar(&o.region, "region", "", "AWS region of the bucket")
	f.StringVar(&o.endpoint, "endpoint", "", "S3 endpoint (the simulator or tests; default AWS)")
	f.StringSliceVar(&o.sources, "source", nil, "folder to back up (repeatable)")
	f.BoolVar(&o.yes, "yes", false, "never prompt: every required value must come from a flag")
	f.BoolVar(&o.login, "login", false, "with SSO: log in now if there is no current login (as 'icevault login')")
	f.BoolVar(&o.deviceCode, "device-code", false, "with --login: use the device code flow (over SSH, or without a browser here)")
	f.BoolVar(&o.noDoctor, "no-doctor", false, "do not run 'icevault doctor' at the end")
	f.BoolVar(&o.init, "init", false, "create the repository in the bucket (icevault init) after writing the config")
	_ = f.MarkHidden("endpoint")
	return cmd
}

// prompter asks on the terminal; with interactive false it refuses, naming
// the flag.
type prompter struct {
	a           *app
	in          *bufio.Reader
	interactive bool
}

func (p *prompter) ask(label, flag, def string, required bool) (string, error) {
	if !p.interactive {
		if required && def == "" {
			return "", usageError{fmt.Errorf("--%s is required (setup does not prompt with --yes or without a terminal)", flag)}
		}
		return def, nil
	}
	if def != "" {
		fmt.Fprintf(p.a.stderr, "%s [%s]: ", label, def)
	} else {
		fmt.Fprintf(p.a.stderr, "%s: ", label)
	}
	line, err := p.in.ReadString('\n')
	if err != nil && line == "" {
		if def == "" && required {
			return "", usageError{fmt.Errorf("no answer for %s (--%s)", label, flag)}
		}
		return def, nil
	}
	if v := strings.TrimSpace(line); v != "" {
		return v, nil
	}
	if required && def == "" {
		return "", usageError{fmt.Errorf("%s is required (--%s)", label, flag)}
	}
	return def, nil
}

func (p *prompter) confirm(question string, def bool) bool {
	if !p.interactive {
		return false
	}
	hint := "y/N"
	if def {
		hint = "Y/n"
	}
	fmt.Fprintf(p.a.stderr, "%s [%s]: ", question, hint)
	line, err := p.in.ReadString('\n')
	if err != nil && line == "" {
		return false
	}
	switch strings.ToLower(strings.TrimSpace(line)) {
	case "":
		return def
	case "y", "yes":
		return true
	}
	return false
}

func (a *app) runSetup(cmd *cobra.Command, o setupOpts) error {
	interactive := !o.yes && stdinIsTerminal(a.stdin)
	p := &prompter{a: a, interactive: interactive}
	if f, ok := a.stdin.(*os.File); ok && stdinIsTerminal(f) {
		p.in = bufio.NewReader(f)
	} else {
		// One buffered reader for the prompts and the keys, so none of
		// stdin is lost between them.
		in := a.stdin
		if in == nil {
			in = strings.NewReader("")
		}
		p.in = bufio.NewReader(in)
		a.stdin = p.in
	}
	sso := o.startURL != "" || o.ssoRegion != "" || o.accountID != "" || o.roleName != "" || o.ssoSession != ""
	if o.staticKeys && sso {
		return usageError{errors.New("--static-keys and the SSO flags (--sso-start-url, --sso-region, --account-id, --role-name) exclude each other: choose one")}
	}
	if !o.staticKeys && o.accessKeyID != "" {
		return usageError{errors.New("--access-key-id goes with --static-keys")}
	}
	if interactive && !o.staticKeys && !sso {
		o.staticKeys = p.confirm("Use static IAM user keys instead of IAM Identity Center (SSO)?", false)
	}

	path, cf, err := a.configForEdit()
	if err != nil {
		return err
	}
	name := a.repo
	if name == "" {
		name = cf.Default
	}
	if name == "" {
		if len(cf.Repositories) > 0 {
			return usageError{errors.New("the config has several repositories: name the one to set up with --repo")}
		}
		name = "default"
	}
	existing := cf.Repositories[name]
	def := func(v, old string) string {
		if v != "" {
			return v
		}
		return old
	}
	var old config.Repository
	if existing != nil {
		old = *existing
	}

	// Everything is asked for and checked before anything is written.
	if o.bucket, err = p.ask("S3 bucket", "bucket", def(o.bucket, old.Bucket), true); err != nil {
		return err
	}
	if err := config.ValidateBucket(o.bucket); err != nil {
		return usageError{err}
	}
	if o.region, err = p.ask("Bucket region", "region", def(o.region, old.Region), true); err != nil {
		return err
	}
	if !cmd.Flags().Changed("prefix") && existing != nil {
		o.prefix = old.Prefix
	}
	if o.prefix, err = p.ask("Key prefix in the bucket", "prefix", o.prefix, false); err != nil {
		return err
	}
	if len(o.sources) == 0 && interactive && (existing == nil || len(existing.Sources) == 0) {
		s, err := p.ask("Folders to back up, comma-separated (empty: decide later)", "source", "", false)
		if err != nil {
			return err
		}
		for _, v := range strings.Split(s, ",") {
			if v = strings.TrimSpace(v); v != "" {
				o.sources = append(o.sources, v)
			}
		}
	}

	profile := a.profile
	var ssoCfg awsprofile.SSO
	if !o.staticKeys {
		ssoCfg = awsprofile.SSO{Profile: profile, Session: o.ssoSession, Region: o.region}
		for _, q := range []struct {
			dst         *string
			label, flag string
			def         string
		}{
			{&ssoCfg.StartURL, "IAM Identity Center start URL", "sso-start-url", o.startURL},
			{&ssoCfg.SSORegion, "IAM Identity Center region", "sso-region", o.ssoRegion},
			{&ssoCfg.AccountID, "AWS account ID", "account-id", o.accountID},
			{&ssoCfg.RoleName, "Permission set (role) name", "role-name", o.roleName},
		} {
			if *q.dst, err = p.ask(q.label, q.flag, q.def, true); err != nil {
				return err
			}
		}
	}

	// The repository entry, checked with the rest of the config.
	nr := config.Repository{Bucket: o.bucket, Prefix: o.prefix, Region: o.region, Endpoint: o.endpoint, Credentials: config.CredentialsProfile, Profile: profile}
	if o.staticKeys {
		nr.Credentials, nr.Profile = config.CredentialsKeychain, ""
	}
	for i, s := range o.sources {
		if o.sources[i], err = expandHome(s); err != nil {
			return err
		}
	}
	if existing != nil {
		check := nr // normalized (prefix ends in /) as the config stores it
		if err := (&config.File{Repositories: map[string]*config.Repository{name: &check}}).Validate(); err != nil {
			return usageError{err}
		}
		if existing.Bucket != check.Bucket || existing.Prefix != check.Prefix || existing.Region != check.Region {
			return usageError{fmt.Errorf("repository %q in %s is s3://%s/%s (%s); setup would change it to s3://%s/%s (%s): choose another name with --repo, or edit the config by hand",
				name, path, existing.Bucket, existing.Prefix, existing.Region, check.Bucket, check.Prefix, check.Region)}
		}
		nr = *existing
		nr.Credentials, nr.Profile = config.CredentialsProfile, profile
		if o.staticKeys {
			nr.Credentials, nr.Profile = config.CredentialsKeychain, ""
		}
		if o.endpoint != "" {
			nr.Endpoint = o.endpoint
		}
		for _, s := range o.sources {
			if !slices.Contains(nr.Sources, s) {
				nr.Sources = append(nr.Sources, s)
			}
		}
	} else {
		nr.Sources = o.sources
	}
	next := &config.File{Default: cf.Default, Repositories: map[string]*config.Repository{}}
	for k, v := range cf.Repositories {
		next.Repositories[k] = v
	}
	next.Repositories[name] = &nr
	if next.Default == "" && len(next.Repositories) == 1 {
		next.Default = name
	}
	if err := next.Validate(); err != nil {
		return usageError{err}
	}
	var edits []awsprofile.SectionEdit
	if !o.staticKeys {
		if edits, err = ssoCfg.Edits(); err != nil {
			return usageError{err}
		}
	}
	var keys iamkeys.Keys
	if o.staticKeys {
		if keys, err = a.readStaticKeys(o.accessKeyID); err != nil {
			return err
		}
	}

	// 1. AWS access.
	if o.staticKeys {
		if err := a.storeStaticKeys(name, keys); err != nil {
			return err
		}
	} else {
		awsPath, err := awsprofile.Path()
		if err != nil {
			return err
		}
		res, err := awsprofile.Edit(awsPath, edits, time.Now())
		if err != nil {
			return err
		}
		switch {
		case !res.Changed:
			a.printf("AWS profile %q in %s is already set up; unchanged.\n", profile, res.Path)
		case res.Created:
			a.printf("Wrote AWS profile %q to %s (new file).\n", profile, res.Path)
		default:
			a.printf("Wrote AWS profile %q to %s (the old file is saved as %s).\n", profile, res.Path, res.Backup)
		}
		if a.json {
			if err := a.emitJSON(map[string]any{"event": "aws-profile", "profile": profile, "path": res.Path,
				"changed": res.Changed, "backup": res.Backup}); err != nil {
				return err
			}
		}
	}

	// 2. icevault's config.
	changed := existing == nil || !equalRepo(*existing, nr) || next.Default != cf.Default
	if changed {
		if err := config.Save(path, next); err != nil {
			return err
		}
		a.printf("Saved repository %q (s3://%s/%s, %s) in %s.\n", name, nr.Bucket, nr.Prefix, nr.Region, path)
	} else {
		a.printf("Repository %q in %s is already set up; unchanged.\n", name, path)
	}
	if a.json {
		if err := a.emitJSON(map[string]any{"event": "repository", "repository": name, "path": path, "changed": changed,
			"bucket": nr.Bucket, "prefix": nr.Prefix, "region": nr.Region, "credentials": nr.Credentials}); err != nil {
			return err
		}
	}
	a.repo = name

	// 3. login (SSO): init and doctor need working credentials. Only a
	// login the user asked for, never a silent one.
	loggedIn := o.staticKeys
	if !o.staticKeys {
		st, err := auth.GetStatus(cmd.Context(), auth.StatusOptions{Profile: profile})
		loggedIn = err == nil && !st.LoginRequired
		doLogin := !loggedIn && (o.login || interactive && p.confirm("Log in to AWS IAM Identity Center now (icevault login)?", true))
		if doLogin {
			a.profile, a.profileSet = profile, true
			lc := newLoginCmd(a)
			lc.SetContext(cmd.Context())
			if o.deviceCode {
				if err := lc.Flags().Set("device-code", "true"); err != nil {
					return err
				}
			}
			if err := lc.RunE(lc, nil); err != nil {
				return fmt.Errorf("setup wrote the configuration, but the login failed (run `icevault login --profile %s`, then `icevault init`): %w", profile, err)
			}
			loggedIn = true
		}
	}

	// 4. init.
	if o.init && !loggedIn {
		return fmt.Errorf("setup wrote the configuration, but --init needs a current SSO login: add --login, or run `icevault login --profile %s`, then `icevault init`: %w", profile, store.ErrLoginRequired)
	}
	doInit := o.init
	if !doInit && interactive && loggedIn {
		q := "Create the repository in the bucket now (icevault init)?"
		if !o.staticKeys {
			q = "Create the repository in the bucket now (icevault init; needs a current SSO login)?"
		}
		doInit = p.confirm(q, true)
	}
	if doInit {
		ic := newInitCmd(a)
		ic.SetContext(cmd.Context())
		if err := ic.RunE(ic, nil); err != nil {
			return fmt.Errorf("setup wrote the configuration, but init failed (fix that, then run `icevault init`): %w", err)
		}
	} else {
		if !o.staticKeys {
			a.printf("next: icevault login --profile %s\n", profile)
		}
		a.printf("next: icevault init\n")
	}

	// 5. doctor.
	if o.noDoctor || !loggedIn {
		a.printf("next: icevault doctor\n")
		return nil
	}
	a.printf("\nChecking the setup (icevault doctor):\n")
	dc := newDoctorCmd(a)
	dc.SetContext(cmd.Context())
	return dc.RunE(dc, nil)
}

func equalRepo(x, y config.Repository) bool {
	return x.Bucket == y.Bucket && x.Prefix == y.Prefix && x.Region == y.Region && x.Endpoint == y.Endpoint &&
		x.Credentials == y.Credentials && x.Profile == y.Profile && slices.Equal(x.Sources, y.Sources)
}
