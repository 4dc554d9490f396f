package keystore

import (
	"fmt"
	"os"
)

const osKeychainName = "macOS Keychain"

// osKeychainPrecheck: go-keyring drives /usr/bin/security (no cgo).
func osKeychainPrecheck() error {
	if _, err := os.Stat("/usr/bin/security"); err != nil {
		return fmt.Errorf("macOS keychain tool missing: %w", err)
	}
	return nil
}
