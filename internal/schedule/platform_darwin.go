//go:build darwin

package schedule

// Native is the service manager of this OS.
const Native = "launchd"
