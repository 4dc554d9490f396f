//go:build !linux && !darwin

package keystore

const osKeychainName = "OS keychain"

// osKeychainPrecheck has nothing to check here: the probe finds out (go-keyring
// answers ErrUnsupportedPlatform where it has no keychain).
func osKeychainPrecheck() error { return nil }
