// Package doctor checks, one step at a time, that this machine can back up
// to the configured bucket: who the credentials belong to and how long they
// last, that the bucket is where the config says, that listing, create-only
// DEEP_ARCHIVE uploads and restore requests are allowed, that the clock is
// close enough for SigV4, that the connection is TLS, and (only when asked)
// that the policy refuses a STANDARD upload.
//
// Run returns a Report; it never prints. Every check says what it found
// (Detail) and, when something is wrong, what to do (Fix): a command to run
// or the policy statement to add. A check that needs an earlier one which
// failed is skipped with the reason, so the first ✗ is the one to fix.
//
// Everything the checks call comes in through Deps as small interfaces and
// func fields, so each ✓ and ✗ path is testable with fakes, and the S3
// checks also against the Deep Archive simulator.
//
// Side effects, on purpose and documented to the user:
//   - the put test creates one small object under <prefix>doctor/ through
//     the same create-only DEEP_ARCHIVE path backups use (store.Store.Put);
//     under icevault's no-delete policy it can never be removed (~40 KB
//     billed, a fraction of a cent a year); Options.SkipPutTest turns it off;
//   - the restore check sends RestoreObject for a key that does not exist.
//     S3 authorizes a request before it looks the key up, so NoSuchKey (404)
//     proves s3:RestoreObject is allowed and AccessDenied (403) that it is
//     not, without thawing (or paying for) anything. One caveat: without
//     s3:ListBucket S3 hides missing keys behind 403, so a 403 is only
//     conclusive when the listing check passed; the report says so;
//   - the deny probe (Options.ProbeDeny, never by default) sends a STANDARD
//     PutObject that a correct policy refuses. It is the one write that does
//     not go through store.Store, because s3store refuses non-DEEP_ARCHIVE
//     puts by construction (invariant 1): that is exactly what cannot be
//     probed through it. If the policy is missing, the probe leaves one tiny
//     undeletable STANDARD object (~$0.023/GB-month) — which is the finding.
package doctor
