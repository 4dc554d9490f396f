package keystore

import (
	"bufio"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"regexp"
	"strconv"
	"strings"
	"time"
)

// Kit is the recovery kit: everything needed, besides the bucket, to read a
// repository's backups on a new machine. Its text form is specified in doc.go.
type Kit struct {
	RepoID    string
	Bucket    string
	Prefix    string
	Region    string
	Identity  string
	BlobIDKey [32]byte
	Created   time.Time // kept to the second, in UTC
}

// ErrBadKit: the kit text is malformed, mistyped or altered.
var ErrBadKit = errors.New("recovery kit not valid")

const kitMarker = "icevault-recovery-kit"

// kitFields is the field order of the text and of the checksum.
var kitFields = []string{"repository", "bucket", "prefix", "region", "created", "blob-id-key", "identity"}

func (k Kit) validate() error {
	if err := validateRepoID(k.RepoID); err != nil {
		return err
	}
	if k.Bucket == "" {
		return errors.New("keystore: kit: bucket is empty")
	}
	if k.Created.IsZero() {
		return errors.New("keystore: kit: created time is zero")
	}
	if _, err := ParseIdentity(k.Identity); err != nil {
		return fmt.Errorf("keystore: kit: %w", err)
	}
	if err := validateBlobIDKey(k.BlobIDKey); err != nil {
		return fmt.Errorf("keystore: kit: %w", err)
	}
	return nil
}

// values are the canonical field values: what the checksum covers.
func (k Kit) values() map[string]string {
	return map[string]string{
		"repository":  k.RepoID,
		"bucket":      k.Bucket,
		"prefix":      k.Prefix,
		"region":      k.Region,
		"created":     k.Created.UTC().Truncate(time.Second).Format(time.RFC3339),
		"blob-id-key": hex.EncodeToString(k.BlobIDKey[:]),
		"identity":    k.Identity,
	}
}

func kitChecksum(vals map[string]string) string {
	h := sha256.New()
	fmt.Fprintf(h, "%s v1\n", kitMarker)
	for _, f := range kitFields {
		fmt.Fprintf(h, "%s=%s\n", f, vals[f])
	}
	return hex.EncodeToString(h.Sum(nil))[:8]
}

var plainValueRe = regexp.MustCompile(`^[\x21-\x7e]+$`)

// kitValue prints a value as is when it is plain ASCII without spaces, else
// as a Go-quoted ASCII string (which also makes "" visible).
func kitValue(s string) string {
	if plainValueRe.MatchString(s) && s[0] != '"' {
		return s
	}
	return strconv.QuoteToASCII(s)
}

var shellWordRe = regexp.MustCompile(`^[A-Za-z0-9._/:=@+,-]+$`)

// shellWord quotes s for the instructions' command line, or returns
// placeholder when s cannot be written in plain ASCII.
func shellWord(s, placeholder string) string {
	switch {
	case shellWordRe.MatchString(s):
		return s
	case plainValueRe.MatchString(strings.ReplaceAll(s, " ", "x")) && !strings.Contains(s, "'"):
		return "'" + s + "'"
	}
	return placeholder
}

// FormatKit renders the kit as printable ASCII text (fits on one page). It
// refuses a kit that could not restore anything (bad identity, zero key).
func FormatKit(k Kit) (string, error) {
	if err := k.validate(); err != nil {
		return "", err
	}
	vals := k.values()
	var b strings.Builder
	w := func(format string, a ...any) { fmt.Fprintf(&b, format+"\n", a...) }
	w("ICEVAULT RECOVERY KIT")
	w("=====================")
	w("")
	w("This sheet holds the secret keys of the icevault backup repository below.")
	w("Anyone who has it and can read the bucket can read every backup in it.")
	w("Without it, losing this computer means losing access to the backups.")
	w("")
	w("  - Store it offline: print it and keep it somewhere safe, away from the")
	w("    computer. Do not keep it in the bucket, in email or in cloud notes.")
	w("  - To recover on a new machine (rebuilds the catalog from the bucket):")
	w("      icevault recover --bucket %s --prefix %s --kit FILE",
		shellWord(k.Bucket, "BUCKET"), shellWord(k.Prefix, "PREFIX"))
	w("  - To put the keys back on a machine that still has the repository:")
	w("      icevault key import --kit FILE")
	w("")
	w("FILE is this text, saved or typed in; everything above the first field")
	w("line is ignored. The checksum catches typing mistakes. The identity is")
	w("an age secret key (age-encryption.org); the blob-ID key names the data.")
	w("")
	w("%s: v1", kitMarker)
	for _, f := range []string{"repository", "bucket", "prefix", "region", "created"} {
		w("%s: %s", f, kitValue(vals[f]))
	}
	key := vals["blob-id-key"]
	groups := make([]string, 0, len(key)/8)
	for i := 0; i < len(key); i += 8 {
		groups = append(groups, key[i:i+8])
	}
	w("blob-id-key:")
	w("  %s", strings.Join(groups, " "))
	w("identity:")
	w("  %s", vals["identity"])
	w("checksum: %s", kitChecksum(vals))
	return b.String(), nil
}

func kitErr(line int, format string, a ...any) error {
	if line > 0 {
		return fmt.Errorf("%w: line %d: %s", ErrBadKit, line, fmt.Sprintf(format, a...))
	}
	return fmt.Errorf("%w: %s", ErrBadKit, fmt.Sprintf(format, a...))
}

// ParseKit reads a kit written by FormatKit, or typed in from its printout:
// surrounding text, blank lines, CRLF, spacing inside the key and identity
// lines and the case of hex digits do not matter. Errors name the line or
// field but never quote a secret.
func ParseKit(text string) (Kit, error) {
	sc := bufio.NewScanner(strings.NewReader(text))
	sc.Buffer(make([]byte, 4096), 64<<10)
	var (
		started  bool
		vals     = map[string]string{}
		lines    = map[string]int{}
		checksum string
		last     string // field that continuation lines extend
		n        int
	)
	for sc.Scan() {
		n++
		raw := strings.TrimRight(sc.Text(), " \t\r")
		if !started {
			if strings.TrimSpace(raw) == kitMarker+": v1" {
				started = true
			} else if strings.HasPrefix(strings.TrimSpace(raw), kitMarker+":") {
				return Kit{}, kitErr(n, "unsupported kit version %q", strings.TrimSpace(raw))
			}
			continue
		}
		if checksum != "" {
			continue // text after the checksum line is ignored
		}
		if raw == "" {
			last = ""
			continue
		}
		if raw[0] == ' ' || raw[0] == '\t' {
			if last != "blob-id-key" && last != "identity" {
				return Kit{}, kitErr(n, "unexpected indented line")
			}
			vals[last] += strings.Join(strings.Fields(raw), "")
			continue
		}
		name, value, ok := strings.Cut(raw, ":")
		if !ok {
			return Kit{}, kitErr(n, "expected \"field: value\"")
		}
		name, value = strings.ToLower(strings.TrimSpace(name)), strings.TrimSpace(value)
		if name == "checksum" {
			checksum = strings.ToLower(value)
			if checksum == "" {
				return Kit{}, kitErr(n, "empty checksum")
			}
			continue
		}
		known := false
		for _, f := range kitFields {
			known = known || f == name
		}
		if !known {
			if len(name) > 20 { // perhaps a secret with a colon typed in: do not quote it
				return Kit{}, kitErr(n, "unrecognized line")
			}
			return Kit{}, kitErr(n, "unknown field %q", name)
		}
		if _, dup := lines[name]; dup {
			return Kit{}, kitErr(n, "field %q appears twice (first on line %d)", name, lines[name])
		}
		lines[name], last = n, name
		if name == "blob-id-key" || name == "identity" {
			vals[name] = strings.Join(strings.Fields(value), "")
			continue
		}
		if strings.HasPrefix(value, `"`) {
			u, err := strconv.Unquote(value)
			if err != nil {
				return Kit{}, kitErr(n, "%s: bad quoted value", name)
			}
			value = u
		}
		vals[name] = value
	}
	if err := sc.Err(); err != nil {
		return Kit{}, kitErr(0, "%v", err)
	}
	if !started {
		return Kit{}, kitErr(0, "no %q line: not an icevault recovery kit", kitMarker+": v1")
	}
	for _, f := range kitFields {
		if _, ok := lines[f]; !ok {
			return Kit{}, kitErr(0, "field %q is missing", f)
		}
	}
	if checksum == "" {
		return Kit{}, kitErr(0, "checksum line is missing")
	}

	var k Kit
	k.RepoID, k.Bucket, k.Prefix, k.Region = vals["repository"], vals["bucket"], vals["prefix"], vals["region"]
	created, err := time.Parse(time.RFC3339, vals["created"])
	if err != nil {
		return Kit{}, kitErr(lines["created"], "created: not an RFC 3339 time")
	}
	k.Created = created.UTC()
	kb, err := hex.DecodeString(strings.ToLower(vals["blob-id-key"]))
	if err != nil || len(kb) != len(k.BlobIDKey) {
		return Kit{}, kitErr(lines["blob-id-key"], "blob-id-key: want 64 hex digits (0-9, a-f), found %d characters (mistyped?)", len(vals["blob-id-key"]))
	}
	copy(k.BlobIDKey[:], kb)
	// age writes identities in upper case; Bech32 is case-insensitive.
	k.Identity = strings.ToUpper(vals["identity"])
	if _, err := ParseIdentity(k.Identity); err != nil {
		return Kit{}, kitErr(lines["identity"], "identity: not a valid age secret key (mistyped?)")
	}
	if got := kitChecksum(k.values()); got != checksum {
		return Kit{}, kitErr(0, "checksum mismatch (the kit says %s, its fields give %s): a field was mistyped or altered", checksum, got)
	}
	if err := k.validate(); err != nil {
		return Kit{}, fmt.Errorf("%w: %w", ErrBadKit, err)
	}
	return k, nil
}

// Secrets returns the kit's secrets, for Store.Replace.
func (k Kit) Secrets() Secrets { return Secrets{Identity: k.Identity, BlobIDKey: k.BlobIDKey} }
