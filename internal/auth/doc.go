// Package auth is where icevault decides what an AWS credential problem
// means, and where it logs in to IAM Identity Center (DESIGN §2.7, §5).
//
//   - Classify is the one classifier of AWS and credential errors: login
//     required, access denied, transient, permanent.
//   - Login runs the SSO-OIDC login (authorization code with PKCE and a
//     loopback redirect, or the device code) and writes the AWS CLI's token
//     cache, ~/.aws/sso/cache/<sha1(sso-session name)>.json (legacy profiles:
//     sha1 of the start URL), so `aws`, the SDK and icevault share one login.
//   - GetStatus reads that cache (never logging in) and Logout removes it.
//
// The package never prints: Login shows its URL and user code through
// LoginOptions.OnPrompt. Package ssofake fakes the services for tests.
package auth
