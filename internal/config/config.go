// Package config reads and writes icevault's configuration file: which
// repositories exist (bucket, prefix, region, how to authenticate) and what
// each backs up and when.
//
// The file is TOML, at os.UserConfigDir()/icevault/config.toml unless
// --config or ICEVAULT_CONFIG names another. It holds no secrets: keys live
// in the OS keychain, SSO tokens in the AWS CLI's cache.
package config

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"

	"github.com/BurntSushi/toml"
)

// FileName is the config file's name inside Dir().
const FileName = "config.toml"

// DefaultProfile is the AWS profile icevault uses unless told otherwise.
const DefaultProfile = "icevault"

// DefaultPrefix is where repositories live in the bucket unless told otherwise.
const DefaultPrefix = "icevault/"

// Credential sources.
const (
	CredentialsProfile  = "profile"  // an AWS profile (SSO or anything the SDK resolves)
	CredentialsKeychain = "keychain" // static IAM user keys in the OS keychain
)

// File is the whole configuration.
type File struct {
	// Default names the repository commands use when --repo is not given;
	// empty means the only one, if there is exactly one.
	Default      string                 `toml:"default,omitempty"`
	Repositories map[string]*Repository `toml:"repository"`
	Agent        Agent                  `toml:"agent,omitempty"`
}

// Agent configures `icevault agent`.
type Agent struct {
	// LoginWith is what "Log in to AWS…" runs: "icevault" (icevault login,
	// the default) or "aws-cli" (aws sso login --profile P).
	LoginWith string `toml:"login_with,omitempty"`
	// Dashboard is the loopback address the dashboard listens on; empty
	// means 127.0.0.1 on a free port, "off" means no dashboard.
	Dashboard string `toml:"dashboard,omitempty"`
	// Notifications: Off silences all; Quiet lists kinds never shown
	// (backup_finished, backup_failed, login_required, restore_ready,
	// restore_complete). The tray icon shows the state either way.
	Notifications struct {
		Off   bool     `toml:"off,omitempty"`
		Quiet []string `toml:"quiet,omitempty"`
	} `toml:"notifications,omitempty"`
}

// Agent login commands.
const (
	LoginWithIcevault = "icevault"
	LoginWithAWSCLI   = "aws-cli"
)

// Repository is one archive in one bucket.
type Repository struct {
	Bucket      string   `toml:"bucket"`
	Prefix      string   `toml:"prefix"`
	Region      string   `toml:"region"`
	Endpoint    string   `toml:"endpoint,omitempty"` // simulator or tests only; empty means AWS
	Credentials string   `toml:"credentials"`        // "profile" or "keychain"
	Profile     string   `toml:"profile,omitempty"`  // for credentials = "profile"
	Sources     []string `toml:"sources,omitempty"`  // folders to back up
	Excludes    []string `toml:"excludes,omitempty"` // gitignore-style patterns
	Schedule    string   `toml:"schedule,omitempty"` // "every 6h", "daily 02:30", "daily 09:00,21:00", "" = manual
	PackSizeMiB int      `toml:"pack_size_mib,omitempty"`
}

// Dir is the directory holding icevault's config file.
func Dir() (string, error) {
	base, err := os.UserConfigDir()
	if err != nil {
		return "", fmt.Errorf("finding the user config directory: %w", err)
	}
	return filepath.Join(base, "icevault"), nil
}

// DefaultPath is where the config file lives unless ICEVAULT_CONFIG or
// --config says otherwise.
func DefaultPath() (string, error) {
	if p := os.Getenv("ICEVAULT_CONFIG"); p != "" {
		return p, nil
	}
	d, err := Dir()
	if err != nil {
		return "", err
	}
	return filepath.Join(d, FileName), nil
}

// ErrNoConfig is returned by Load when the file does not exist yet.
var ErrNoConfig = errors.New("no icevault configuration yet")

// Load reads and validates the file at path.
func Load(path string) (*File, error) {
	var f File
	md, err := toml.DecodeFile(path, &f)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("%w: %s does not exist; run `icevault setup` to create it", ErrNoConfig, path)
	}
	if err != nil {
		return nil, fmt.Errorf("reading %s: %w", path, err)
	}
	if undec := md.Undecoded(); len(undec) > 0 {
		keys := make([]string, len(undec))
		for i, k := range undec {
			keys[i] = k.String()
		}
		return nil, fmt.Errorf("%s: unknown setting(s) %s: check the spelling (see docs/config.md)", path, strings.Join(keys, ", "))
	}
	if err := f.Validate(); err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return &f, nil
}

// Save writes f to path atomically (a temporary file renamed over the old
// one), creating the directory with mode 0700.
func Save(path string, f *File) error {
	if err := f.Validate(); err != nil {
		return err
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return fmt.Errorf("creating %s: %w", filepath.Dir(path), err)
	}
	tmp, err := os.CreateTemp(filepath.Dir(path), ".config-*.toml")
	if err != nil {
		return fmt.Errorf("saving config: %w", err)
	}
	defer os.Remove(tmp.Name())
	if _, err := tmp.WriteString("# icevault configuration; see docs/config.md\n"); err == nil {
		err = toml.NewEncoder(tmp).Encode(f)
	}
	if err == nil {
		err = tmp.Sync()
	}
	if cerr := tmp.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("saving config to %s: %w", path, err)
	}
	if err := os.Rename(tmp.Name(), path); err != nil {
		return fmt.Errorf("saving config to %s: %w", path, err)
	}
	return nil
}

// Repo returns the named repository, or the default one when name is empty.
func (f *File) Repo(name string) (string, *Repository, error) {
	if name == "" {
		name = f.Default
	}
	if name == "" {
		if len(f.Repositories) != 1 {
			return "", nil, fmt.Errorf("%d repositories are configured: choose one with --repo (%s)", len(f.Repositories), strings.Join(f.names(), ", "))
		}
		for n := range f.Repositories {
			name = n
		}
	}
	r, ok := f.Repositories[name]
	if !ok {
		return "", nil, fmt.Errorf("no repository named %q in the config (have: %s)", name, strings.Join(f.names(), ", "))
	}
	return name, r, nil
}

// Names lists the repositories, the default first, then by name.
func (f *File) Names() []string {
	n := f.names()
	if f.Default != "" {
		i := slices.Index(n, f.Default)
		n = append(append([]string{f.Default}, n[:i]...), n[i+1:]...)
	}
	return n
}

func (f *File) names() []string {
	var n []string
	for k := range f.Repositories {
		n = append(n, k)
	}
	slices.Sort(n)
	return n
}

// Validate checks every repository and fills in defaults.
func (f *File) Validate() error {
	if f.Default != "" {
		if _, ok := f.Repositories[f.Default]; !ok {
			return fmt.Errorf("default repository %q is not defined", f.Default)
		}
	}
	switch f.Agent.LoginWith {
	case "", LoginWithIcevault, LoginWithAWSCLI:
	default:
		return fmt.Errorf("[agent] login_with = %q: use %q or %q", f.Agent.LoginWith, LoginWithIcevault, LoginWithAWSCLI)
	}
	for _, name := range f.names() {
		if err := f.Repositories[name].validate(); err != nil {
			return fmt.Errorf("repository %q: %w", name, err)
		}
	}
	return nil
}

var bucketRE = regexp.MustCompile(`^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$`)

// ValidateBucket checks S3's bucket naming rules, so a typo fails here with
// a reason instead of at AWS with a generic error.
func ValidateBucket(b string) error {
	switch {
	case b == "":
		return errors.New("bucket is not set")
	case !bucketRE.MatchString(b):
		return fmt.Errorf("bucket name %q is not valid: 3–63 characters of lowercase letters, digits, dots and hyphens, starting and ending with a letter or digit", b)
	case strings.Contains(b, ".."):
		return fmt.Errorf("bucket name %q is not valid: it contains two adjacent dots", b)
	}
	return nil
}

func (r *Repository) validate() error {
	if err := ValidateBucket(r.Bucket); err != nil {
		return err
	}
	if r.Prefix != "" && !strings.HasSuffix(r.Prefix, "/") {
		r.Prefix += "/"
	}
	if strings.HasPrefix(r.Prefix, "/") {
		return fmt.Errorf("prefix %q must not start with '/'", r.Prefix)
	}
	if r.Region == "" {
		return errors.New("region is not set (e.g. region = \"us-east-1\")")
	}
	switch r.Credentials {
	case "":
		r.Credentials = CredentialsProfile
	case CredentialsProfile, CredentialsKeychain:
	default:
		return fmt.Errorf("credentials = %q: use %q (an AWS profile, e.g. SSO) or %q (static keys in the OS keychain)", r.Credentials, CredentialsProfile, CredentialsKeychain)
	}
	if r.Credentials == CredentialsProfile && r.Profile == "" {
		r.Profile = DefaultProfile
	}
	if _, err := ParseSchedule(r.Schedule); err != nil {
		return err
	}
	if r.PackSizeMiB != 0 && (r.PackSizeMiB < 8 || r.PackSizeMiB > 4096) {
		return fmt.Errorf("pack_size_mib = %d: choose between 8 and 4096 (default 128)", r.PackSizeMiB)
	}
	return nil
}
