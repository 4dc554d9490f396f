// Package testenv starts the external peers icevault's integration tests talk
// to: a private moto_server per test (an S3 with Glacier semantics) and the
// Debian AWS CLI v2 (a real client to cross-check what icevault writes).
//
// A missing tool skips the test on a developer machine but fails it under
// CI=true: CI on this kind of machine has every tool (see
// .ci/install-test-deps.sh) and must run every test (DESIGN §8).
package testenv
