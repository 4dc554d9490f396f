// Package keystore keeps a repository's secrets on this machine and renders
// them as a printable recovery kit.
//
// A repository has two secrets: the age identity, needed only to restore
// (packs and metadata are encrypted to its recipient; DESIGN §2.4), and the
// 32-byte blob-ID key, needed to back up (blob IDs are keyed hashes). Other
// named secrets per repository (static IAM keys) use the same storage.
//
// # Where secrets live
//
// The OS keychain when there is one (github.com/zalando/go-keyring): service
// "icevault", account "<repo-id>/<name>" with names "identity" (the age
// secret key string) and "blob-id-key" (64 lower-case hex digits). Each
// secret is its own entry, so a backup reads the blob-ID key without
// touching the identity. On Linux this is the Secret Service over the D-Bus
// session bus; Open checks for the bus and for org.freedesktop.secrets before
// calling go-keyring (which would otherwise try to autolaunch a bus) and then
// probes with a read. Without a usable keychain (headless Linux), Auto mode
// uses the key file and Describe says why.
//
// # Key file
//
// <dir>/<repo-id>.age, mode 0600 in a directory that others cannot write
// (created 0700). It is an age v1 file encrypted to a passphrase (one scrypt
// stanza; age's default work factor), whose plaintext is JSON:
//
//	{"format":"icevault-keys/v1","repository":"<repo-id>",
//	 "secrets":{"blob-id-key":"<64 hex>","identity":"AGE-SECRET-KEY-PQ-1…"}}
//
// so `age -d FILE` with the passphrase recovers it by hand. It is replaced
// atomically (temp file, fsync, rename, fsync of the directory). A file or
// directory open to other users is refused, never silently fixed. The
// passphrase comes from a caller's prompt function; this package never reads
// the terminal. A wrong passphrase is ErrWrongPassphrase and changes nothing.
//
// # Recovery kit (text, version 1)
//
// Plain ASCII, lines of at most 80 columns, one page. Free text (what the
// kit is, what to do with it) comes first and is ignored by the parser, which
// starts at the line "icevault-recovery-kit: v1" and stops after the checksum
// line. Fields, one per line as "name: value", in this order:
//
//	repository   repository ID
//	bucket       S3 bucket
//	prefix       key prefix in the bucket (may be empty)
//	region       AWS region (may be empty)
//	created      RFC 3339 UTC time, seconds
//	blob-id-key  on the next line, indented: 64 hex digits in groups of 8
//	identity     on the next line, indented: the age secret key
//	checksum     first 8 hex digits of SHA-256 over the canonical fields
//
// A value that is empty or not plain printable ASCII without spaces is
// written Go-quoted ("" for an empty prefix). Indented continuation lines
// extend blob-id-key and identity; their white space is dropped, and case is
// ignored there, so a retyped kit parses.
//
// The checksum is over "icevault-recovery-kit v1\n" followed by
// "<field>=<value>\n" for the seven fields in the order above, with values
// unquoted, the key in lower-case hex and the identity as age prints it. It
// catches typing mistakes, not forgery: the kit is a secret, not a signature.
// testdata/kit-v1.txt is a frozen example.
//
// # Errors
//
// No error message contains a secret value or a passphrase: parse failures of
// identities drop the parser's text, and messages from the keychain are
// redacted should they echo a value.
package keystore
