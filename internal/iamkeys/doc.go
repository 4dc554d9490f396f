// Package iamkeys keeps a repository's static IAM user access key in the
// keystore (the OS keychain, or the passphrase-protected key file) and
// rotates it.
//
// # Storage
//
// Static keys may be stored before `icevault init` has given the repository
// an ID, so they are filed under the repository's name from the config file:
// keystore ID "iam.<name>" (repository IDs are lower-case hex, so the two can
// never collide), secret name "static-key". In the keychain that is service
// "icevault", account "iam.<name>/static-key"; in key-file mode the file
// <keys dir>/iam.<name>.age. The value is one JSON object,
//
//	{"access_key_id":"AKIA…","secret_access_key":"…"}
//
// so that the pair is replaced in one write: a rotation can never leave a
// new key ID next to an old secret.
//
// # Rotation
//
// Rotate, with IAM and STS behind the small interfaces below:
//
//  1. STS GetCallerIdentity with the stored key: it must work and be an IAM
//     user (arn:…:iam::ACCOUNT:user/NAME).
//  2. IAM ListAccessKeys for that user. IAM allows two keys per user: if the
//     user has another key besides the stored one, rotation refuses and names
//     it — unless that key is Inactive and DeleteInactive is set, in which
//     case it is deleted first. An Active other key is never deleted: it may
//     be in use elsewhere.
//  3. IAM CreateAccessKey.
//  4. Verify the new key: STS GetCallerIdentity signed with it must return
//     the same user ARN. New keys take seconds to work everywhere (IAM is
//     eventually consistent), so this retries with a bounded exponential
//     backoff on the injected clock (default: up to about a minute).
//  5. Store the new key (one keystore write replacing the old one).
//  6. IAM DeleteAccessKey for the old key (signed with the new key).
//
// The new key is stored only once it is proven to work: until then the old
// one stays stored and working. If verification or storing fails, the new
// key is deleted from IAM (signed with the old key) and the error says
// whether that worked. If the process dies during step 4, the new key is
// left in IAM with a secret nobody holds; the next rotation names it as the
// user's other key. If step 6 fails, the new key is stored and works and the
// error says which old key to delete by hand.
//
// No error or String form here contains a secret access key.
package iamkeys
