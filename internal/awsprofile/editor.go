package awsprofile

import (
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"
)

// KV is one setting to put in a section. Order matters only for keys that
// are added.
type KV struct {
	Key, Value string
}

// SectionEdit says which settings a section must have. Section is the text
// between the brackets, e.g. "profile icevault" or "sso-session icevault".
type SectionEdit struct {
	Section string
	Set     []KV
	// IfPresent keys are updated only where the section already has them
	// (a legacy SSO profile's sso_start_url must match its sso-session's,
	// or the SDK refuses the profile); they are never added.
	IfPresent []KV
}

// ParseError is a line the editor does not understand. The file is left as
// it was.
type ParseError struct {
	Path   string
	Line   int
	Reason string
}

func (e *ParseError) Error() string {
	return fmt.Sprintf("%s line %d: %s; fix or remove that line (the file was not changed)", e.Path, e.Line, e.Reason)
}

type lineKind int

const (
	kBlank lineKind = iota
	kComment
	kSection
	kProperty
	kContinuation
)

type line struct {
	raw     string // the line's bytes without its line ending
	eol     string // "\n", "\r\n" or "" (last line without newline)
	kind    lineKind
	section string // kSection: normalized name
	key     string // kProperty
	value   string // kProperty
}

// normSection turns "profile   icevault " into "profile icevault".
func normSection(s string) string { return strings.Join(strings.Fields(s), " ") }

func parse(path string, data []byte) ([]line, error) {
	var lines []line
	rest := string(data)
	inSection, afterProperty := false, false
	for n := 1; rest != ""; n++ {
		var l line
		if i := strings.IndexByte(rest, '\n'); i >= 0 {
			l.raw, l.eol, rest = rest[:i], "\n", rest[i+1:]
			if strings.HasSuffix(l.raw, "\r") {
				l.raw, l.eol = l.raw[:len(l.raw)-1], "\r\n"
			}
		} else {
			l.raw, rest = rest, ""
		}
		t := strings.TrimSpace(l.raw)
		if n == 1 {
			t = strings.TrimPrefix(t, "\ufeff") // a byte-order mark from a Windows editor
		}
		indented := l.raw != "" && (l.raw[0] == ' ' || l.raw[0] == '\t')
		switch {
		case t == "":
			l.kind = kBlank
		case t[0] == '#' || t[0] == ';':
			l.kind = kComment
		case t[0] == '[':
			end := strings.IndexByte(t, ']')
			if end < 0 {
				return nil, &ParseError{path, n, fmt.Sprintf("section header %q has no closing ]", t)}
			}
			if after := strings.TrimSpace(t[end+1:]); after != "" && after[0] != '#' && after[0] != ';' {
				return nil, &ParseError{path, n, fmt.Sprintf("unexpected text %q after the section header", after)}
			}
			l.kind, l.section = kSection, normSection(t[1:end])
			if l.section == "" {
				return nil, &ParseError{path, n, "empty section name []"}
			}
			inSection, afterProperty = true, false
		case indented && afterProperty:
			l.kind = kContinuation
		case strings.Contains(t, "="):
			k, v, _ := strings.Cut(t, "=")
			l.kind, l.key, l.value = kProperty, strings.TrimSpace(k), strings.TrimSpace(v)
			if l.key == "" {
				return nil, &ParseError{path, n, "a setting without a name (line starts with =)"}
			}
			if !inSection {
				return nil, &ParseError{path, n, fmt.Sprintf("setting %q is outside any [section]", l.key)}
			}
			afterProperty = true
		default:
			return nil, &ParseError{path, n, "not a [section], a key = value setting, a continuation, a comment or blank"}
		}
		if l.kind == kBlank || l.kind == kComment {
			afterProperty = false
		}
		lines = append(lines, l)
	}
	return lines, nil
}

// lineEnding is the file's dominant line ending: CRLF if any line uses it.
func lineEnding(lines []line) string {
	for _, l := range lines {
		if l.eol == "\r\n" {
			return "\r\n"
		}
	}
	return "\n"
}

func validKV(kv KV) error {
	if kv.Key == "" || strings.ContainsAny(kv.Key, "=[]#; \t\r\n") {
		return fmt.Errorf("awsprofile: invalid key %q", kv.Key)
	}
	if strings.ContainsAny(kv.Value, "\r\n") || strings.TrimSpace(kv.Value) != kv.Value || kv.Value == "" {
		return fmt.Errorf("awsprofile: invalid value for %s: empty, surrounding spaces or a line break", kv.Key)
	}
	return nil
}

// Apply returns data with the edits made. Unchanged lines keep their bytes.
func Apply(path string, data []byte, edits []SectionEdit) ([]byte, error) {
	lines, err := parse(path, data)
	if err != nil {
		return nil, err
	}
	eol := lineEnding(lines)
	for _, e := range edits {
		name := normSection(e.Section)
		if name == "" || strings.ContainsAny(name, "[]\r\n") {
			return nil, fmt.Errorf("awsprofile: invalid section name %q", e.Section)
		}
		for _, kv := range append(slices.Clone(e.Set), e.IfPresent...) {
			if err := validKV(kv); err != nil {
				return nil, err
			}
		}
		lines = applyOne(lines, name, e.Set, eol, true)
		lines = applyOne(lines, name, e.IfPresent, eol, false)
	}
	var b bytes.Buffer
	for _, l := range lines {
		b.WriteString(l.raw)
		b.WriteString(l.eol)
	}
	return b.Bytes(), nil
}

func applyOne(lines []line, section string, set []KV, eol string, add bool) []line {
	start := -1
	for i, l := range lines {
		if l.kind == kSection && l.section == section {
			start = i
			break
		}
	}
	if start < 0 && !add {
		return lines
	}
	if start < 0 {
		if n := len(lines); n > 0 {
			if lines[n-1].eol == "" {
				lines[n-1].eol = eol
			}
			if lines[n-1].kind != kBlank {
				lines = append(lines, line{eol: eol, kind: kBlank})
			}
		}
		lines = append(lines, line{raw: "[" + section + "]", eol: eol, kind: kSection, section: section})
		for _, kv := range set {
			lines = append(lines, propLine(kv, eol))
		}
		return lines
	}
	for _, kv := range set {
		end := sectionEnd(lines, start)
		found := false
		for i := start + 1; i < end; i++ {
			if lines[i].kind != kProperty || lines[i].key != kv.Key {
				continue
			}
			found = true
			j := i + 1
			for j < end && lines[j].kind == kContinuation {
				j++
			}
			if lines[i].value == kv.Value && j == i+1 {
				break
			}
			nl := propLine(kv, lines[i].eol)
			if nl.eol == "" {
				nl.eol = lines[j-1].eol
			}
			lines = append(lines[:i], append([]line{nl}, lines[j:]...)...)
			break
		}
		if found || !add {
			continue
		}
		// After the section's last setting (or its header), so trailing
		// comments and the blank line before the next section stay put.
		at := start + 1
		for i := start + 1; i < end; i++ {
			if lines[i].kind == kProperty || lines[i].kind == kContinuation {
				at = i + 1
			}
		}
		nl := propLine(kv, eol)
		if lines[at-1].eol == "" { // the file ended without a newline there
			lines[at-1].eol = eol
		}
		lines = append(lines[:at], append([]line{nl}, lines[at:]...)...)
	}
	return lines
}

func propLine(kv KV, eol string) line {
	return line{raw: kv.Key + " = " + kv.Value, eol: eol, kind: kProperty, key: kv.Key, value: kv.Value}
}

// sectionEnd is the index of the next section header after start, or len.
func sectionEnd(lines []line, start int) int {
	for i := start + 1; i < len(lines); i++ {
		if lines[i].kind == kSection {
			return i
		}
	}
	return len(lines)
}

// Path is the AWS shared config file: $AWS_CONFIG_FILE or ~/.aws/config.
func Path() (string, error) {
	if p := os.Getenv("AWS_CONFIG_FILE"); p != "" {
		if p == "~" || strings.HasPrefix(p, "~/") {
			home, err := os.UserHomeDir()
			if err != nil {
				return "", err
			}
			p = filepath.Join(home, p[1:])
		}
		return p, nil
	}
	home, err := os.UserHomeDir()
	if err != nil {
		return "", fmt.Errorf("awsprofile: finding the home directory: %w", err)
	}
	return filepath.Join(home, ".aws", "config"), nil
}

// Result says what Edit did.
type Result struct {
	Path    string // the file written (a symlink's target)
	Changed bool   // false: everything was already as wanted; nothing was written
	Created bool   // the file did not exist
	Backup  string // the copy of the old file, if there was one
}

// renameFile is replaced by tests to fail the last step.
var renameFile = os.Rename

// Edit applies edits to the file at path: a backup copy first, then an
// atomic replace keeping the file's mode. now names the backup.
func Edit(path string, edits []SectionEdit, now time.Time) (Result, error) {
	if target, err := filepath.EvalSymlinks(path); err == nil {
		path = target
	}
	res := Result{Path: path}
	mode := fs.FileMode(0o600)
	data, err := os.ReadFile(path)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		res.Created = true
	case err != nil:
		return res, fmt.Errorf("awsprofile: reading %s: %w", path, err)
	default:
		fi, err := os.Stat(path)
		if err != nil {
			return res, fmt.Errorf("awsprofile: %w", err)
		}
		if !fi.Mode().IsRegular() {
			return res, fmt.Errorf("awsprofile: %s is not a regular file", path)
		}
		mode = fi.Mode().Perm()
	}
	out, err := Apply(path, data, edits)
	if err != nil {
		return res, err
	}
	if !res.Created && bytes.Equal(out, data) {
		return res, nil
	}
	dir := filepath.Dir(path)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return res, fmt.Errorf("awsprofile: creating %s: %w", dir, err)
	}
	if !res.Created {
		base := fmt.Sprintf("%s.icevault-backup-%s", path, now.UTC().Format("20060102T150405Z"))
		var err error
		// Never overwrite an older backup: two edits in one second get
		// a numbered second name.
		for i := 1; i <= 100; i++ {
			res.Backup = base
			if i > 1 {
				res.Backup = fmt.Sprintf("%s-%d", base, i)
			}
			if err = writeFileSync(res.Backup, data, mode, os.O_EXCL); !errors.Is(err, fs.ErrExist) {
				break
			}
		}
		if err != nil {
			res.Backup = ""
			return res, fmt.Errorf("awsprofile: writing the backup copy (nothing was changed): %w", err)
		}
	}
	tmp, err := os.CreateTemp(dir, ".icevault-aws-config-*")
	if err != nil {
		return res, fmt.Errorf("awsprofile: %w", err)
	}
	defer os.Remove(tmp.Name())
	err = tmp.Chmod(mode)
	if err == nil {
		_, err = tmp.Write(out)
	}
	if err == nil {
		err = tmp.Sync()
	}
	if cerr := tmp.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = renameFile(tmp.Name(), path)
	}
	if err != nil {
		return res, fmt.Errorf("awsprofile: writing %s (the old file is unchanged): %w", path, err)
	}
	if d, err := os.Open(dir); err == nil {
		_ = d.Sync()
		d.Close()
	}
	res.Changed = true
	return res, nil
}

func writeFileSync(path string, data []byte, mode fs.FileMode, flag int) error {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|flag, mode)
	if err != nil {
		return err
	}
	_, err = f.Write(data)
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	return err
}

// SSO describes an IAM Identity Center profile in the sso-session layout.
type SSO struct {
	Profile   string // profile name, e.g. "icevault"
	Session   string // sso-session name; default: Profile
	StartURL  string // https://d-xxxxxxxxxx.awsapps.com/start
	SSORegion string // the Identity Center region
	AccountID string
	RoleName  string // permission set name
	Region    string // default region for the profile (may be empty)
	Output    string // optional, e.g. "json"
}

// Edits returns the section edits for s: the profile and its sso-session.
func (s SSO) Edits() ([]SectionEdit, error) {
	sess := s.Session
	if sess == "" {
		sess = s.Profile
	}
	for _, f := range []struct{ name, v string }{
		{"profile name", s.Profile}, {"SSO start URL", s.StartURL}, {"SSO region", s.SSORegion},
		{"account ID", s.AccountID}, {"role name", s.RoleName},
	} {
		if f.v == "" {
			return nil, fmt.Errorf("awsprofile: %s is not set", f.name)
		}
	}
	if len(s.AccountID) != 12 || strings.Trim(s.AccountID, "0123456789") != "" {
		return nil, fmt.Errorf("awsprofile: account ID %q is not 12 digits", s.AccountID)
	}
	if !strings.HasPrefix(s.StartURL, "https://") {
		return nil, fmt.Errorf("awsprofile: SSO start URL %q must start with https://", s.StartURL)
	}
	if strings.ContainsAny(s.Profile+sess, " \t[]") {
		return nil, errors.New("awsprofile: profile and session names must not contain spaces or brackets")
	}
	prof := []KV{{"sso_session", sess}, {"sso_account_id", s.AccountID}, {"sso_role_name", s.RoleName}}
	if s.Region != "" {
		prof = append(prof, KV{"region", s.Region})
	}
	if s.Output != "" {
		prof = append(prof, KV{"output", s.Output})
	}
	profSection := "profile " + s.Profile
	if s.Profile == "default" {
		profSection = "default"
	}
	return []SectionEdit{
		{Section: profSection, Set: prof, IfPresent: []KV{{"sso_start_url", s.StartURL}, {"sso_region", s.SSORegion}}},
		{Section: "sso-session " + sess, Set: []KV{
			{"sso_start_url", s.StartURL}, {"sso_region", s.SSORegion},
			{"sso_registration_scopes", "sso:account:access"},
		}},
	}, nil
}
