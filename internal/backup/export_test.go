package backup

import "testing"

// SetAfterRead makes fn run after each read of a file, before the engine
// checks whether the file changed meanwhile (attempt is 1, then 2 for the
// re-read), until the end of the test.
func SetAfterRead(t testing.TB, fn func(abs string, attempt int)) {
	afterRead = fn
	t.Cleanup(func() { afterRead = nil })
}
