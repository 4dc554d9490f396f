// Package awsprofile edits the AWS shared config file (AWS_CONFIG_FILE or
// ~/.aws/config) to add or update the blocks icevault needs:
//
//	[profile icevault]
//	sso_session = icevault
//	sso_account_id = 123456789012
//	sso_role_name = IcevaultBackup
//	region = eu-west-1
//
//	[sso-session icevault]
//	sso_start_url = https://example.awsapps.com/start
//	sso_region = eu-west-1
//	sso_registration_scopes = sso:account:access
//
// The file belongs to the user and to the AWS CLI, so the editor is
// line-preserving rather than an INI round trip (no INI library keeps bytes
// exactly): every line it does not change is written back byte for byte —
// comments, blank lines, ordering, unknown keys, other profiles and the
// file's line endings (CRLF stays CRLF). A key that already holds the wanted
// value is left untouched, so a second run changes nothing and writes
// nothing. A key given with a new value has its line (and any continuation
// lines under it) replaced; a missing key is added after the section's last
// setting; a missing section is appended at the end, after a blank line.
// A profile still in the legacy SSO layout (sso_start_url and sso_region in
// the profile itself) has those keys updated to match the sso-session, since
// the SDK refuses a profile whose two start URLs differ.
//
// Before a change, the old file is copied to
// <file>.icevault-backup-<UTC timestamp> with its mode; the new content is
// then written to a temporary file in the same directory, synced and renamed
// over the old one with the original mode (0600 for a new file). A symlinked
// config file is edited at its target.
//
// A line that is neither a section header, a "key = value" setting, an
// indented continuation of a setting, a comment (# or ;) nor blank — or an
// unterminated "[section" header, or a setting before any section — makes
// the edit fail with an error naming the file and line; the file is not
// touched.
package awsprofile
