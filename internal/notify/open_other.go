//go:build !linux && !darwin

package notify

// Open reports ErrUnavailable: this platform has no notifier yet.
func Open(SystemOptions) (System, error) {
	return nil, &UnavailableError{Op: "notifications on this platform"}
}
