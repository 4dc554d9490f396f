package notify

import (
	"strings"
	"unicode"
)

// appleScriptString quotes s as an AppleScript string literal. Backslash
// and double quote are escaped; line breaks and tabs become the escapes
// AppleScript understands; other control characters are dropped, since
// a notification cannot show them and they could end the literal early in
// some parsers. The script goes to osascript as one argv element, never
// through a shell, so no shell quoting is involved.
func appleScriptString(s string) string {
	var b strings.Builder
	b.Grow(len(s) + 2)
	b.WriteByte('"')
	for _, r := range s {
		switch r {
		case '\\':
			b.WriteString(`\\`)
		case '"':
			b.WriteString(`\"`)
		case '\n':
			b.WriteString(`\n`)
		case '\r':
			b.WriteString(`\r`)
		case '\t':
			b.WriteString(`\t`)
		default:
			if unicode.IsControl(r) || r == '\u2028' || r == '\u2029' {
				continue
			}
			b.WriteRune(r)
		}
	}
	b.WriteByte('"')
	return b.String()
}

// displayScript is the AppleScript that shows n: the app name as the
// title, the notification's title as the subtitle, the body as text.
func displayScript(n Notification) string {
	s := "display notification " + appleScriptString(n.Body) +
		" with title " + appleScriptString(AppName)
	if n.Title != "" {
		s += " subtitle " + appleScriptString(n.Title)
	}
	return s
}
