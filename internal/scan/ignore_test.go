package scan

import "testing"

func TestWildmatch(t *testing.T) {
	tests := []struct {
		glob, text string
		want       bool
	}{
		{"foo", "foo", true},
		{"foo", "foobar", false},
		{"*.log", "a.log", true},
		{"*.log", "dir/a.log", false}, // '*' stops at '/'
		{"?", "a", true},
		{"?", "/", false},
		{"?", "\xff", true}, // bytewise
		{"a?c", "abc", true},
		{"**/foo", "foo", true},
		{"**/foo", "a/b/foo", true},
		{"a/**/b", "a/b", true},
		{"a/**/b", "a/x/y/b", true},
		{"a/**/b", "a/x/y/c", false},
		{"a/**", "a/x/y", true},
		{"a/**", "a", false},
		{"a**b", "axyb", true}, // not a whole component: acts like '*'
		{"a**b", "ax/yb", false},
		{"a/*/b", "a/x/b", true},
		{"a/*/b", "a/x/y/b", false},
		{"[abc]", "b", true},
		{"[abc]", "d", false},
		{"[!abc]", "d", true},
		{"[^abc]", "a", false},
		{"[a-c]x", "bx", true},
		{"[a-c]x", "dx", false},
		{"[]]", "]", true},
		{"[!]]", "a", true},
		{"[a-]", "-", true},
		{"[[:digit:]]", "7", true},
		{"[[:digit:]]", "x", false},
		{"[[:alpha:][:digit:]]", "x", true},
		{"[[:bogus:]]", "x", false},
		{"[[:alpha:]", "a", false}, // no closing bracket: no match
		{"[x", "x", false},
		{"[/]", "/", false},
		{"\\*", "*", true},
		{"\\*", "a", false},
		{"\\", "\\", false},
		{"\xff*", "\xff\xfe", true},
		{"*", "", true},
		{"*a*b*c*", "xaxbxcx", true},
		{"*a*b*c*", "xaxcxbx", false},
		{"foo/*", "foo/bar", true},
		{"foo/*", "foo/bar/baz", false},
	}
	for _, tt := range tests {
		if got := wildmatch(tt.glob, tt.text); got != tt.want {
			t.Errorf("wildmatch(%q, %q) = %v, want %v", tt.glob, tt.text, got, tt.want)
		}
	}
}

func TestParsePattern(t *testing.T) {
	tests := []struct {
		line string
		want pattern
		ok   bool
	}{
		{"", pattern{}, false},
		{"# comment", pattern{}, false},
		{"   ", pattern{}, false},
		{"/", pattern{}, false},
		{"!", pattern{}, false},
		{`\#x`, pattern{glob: `\#x`, basename: true}, true},
		{`\!x`, pattern{glob: `\!x`, basename: true}, true},
		{"!x", pattern{glob: "x", negate: true, basename: true}, true},
		{"x/", pattern{glob: "x", dirOnly: true, basename: true}, true},
		{"/x", pattern{glob: "x"}, true},
		{"a/b", pattern{glob: "a/b"}, true},
		{"x  ", pattern{glob: "x", basename: true}, true},
		{`x\ `, pattern{glob: `x\ `, basename: true}, true},
		{"x\r", pattern{glob: "x", basename: true}, true},
		{"**/x/", pattern{glob: "**/x", dirOnly: true}, true},
	}
	for _, tt := range tests {
		got, ok := parsePattern(tt.line)
		if ok != tt.ok || got != tt.want {
			t.Errorf("parsePattern(%q) = %+v, %v; want %+v, %v", tt.line, got, ok, tt.want, tt.ok)
		}
	}
}
