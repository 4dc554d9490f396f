package scan

import (
	"bytes"
	"strings"
)

// This file implements gitignore semantics (git's dir.c and wildmatch.c,
// re-derived from the gitignore(5) documentation and git's behaviour) for a
// walker that does not descend into excluded directories. Because pruning
// happens during the walk, a pattern is only ever matched against the path
// of the entry itself, never against a path inside an excluded directory,
// which is exactly how git evaluates ignore rules (and why "it is not
// possible to re-include a file if a parent directory of that file is
// excluded").

// pattern is one parsed line of an ignore file or one Options.Excludes item.
type pattern struct {
	glob     string // wildmatch pattern, without '!', leading '/' or trailing '/'
	negate   bool   // "!pattern": re-include
	dirOnly  bool   // "pattern/": matches directories only
	basename bool   // no '/' in the pattern: match the entry's name at any depth
}

// parsePattern parses one line; ok is false for blank lines and comments.
func parsePattern(line string) (p pattern, ok bool) {
	line = strings.TrimSuffix(line, "\r") // files edited on Windows
	line = trimTrailingSpaces(line)
	if line == "" || line[0] == '#' {
		return pattern{}, false
	}
	if line[0] == '!' {
		p.negate = true
		line = line[1:]
	}
	if strings.HasSuffix(line, "/") {
		p.dirOnly = true
		line = line[:len(line)-1]
	}
	if line == "" {
		return pattern{}, false
	}
	p.basename = !strings.Contains(line, "/")
	p.glob = strings.TrimPrefix(line, "/")
	if p.glob == "" {
		return pattern{}, false
	}
	return p, true
}

// trimTrailingSpaces removes trailing spaces unless escaped with a backslash,
// as git does (tabs are kept).
func trimTrailingSpaces(s string) string {
	end := len(s)
	for end > 0 && s[end-1] == ' ' {
		// Count the backslashes before this space: an odd number escapes it.
		n := 0
		for i := end - 2; i >= 0 && s[i] == '\\'; i-- {
			n++
		}
		if n%2 == 1 {
			break
		}
		end--
	}
	return s[:end]
}

// parsePatterns parses an ignore file.
func parsePatterns(data []byte) []pattern {
	data = bytes.TrimPrefix(data, []byte("\xef\xbb\xbf")) // UTF-8 BOM, as git skips it
	var ps []pattern
	for line := range strings.SplitSeq(string(data), "\n") {
		if p, ok := parsePattern(line); ok {
			ps = append(ps, p)
		}
	}
	return ps
}

// match reports whether p matches the entry at rel (relative to the
// pattern's base directory, '/'-separated) whose last element is name.
func (p *pattern) match(rel, name string, isDir bool) bool {
	if p.dirOnly && !isDir {
		return false
	}
	if p.basename {
		return wildmatch(p.glob, name)
	}
	return wildmatch(p.glob, rel)
}

// lastMatch applies a list of patterns with git's "last matching pattern
// wins" rule. decided is false if no pattern matched.
func lastMatch(ps []pattern, rel, name string, isDir bool) (excluded, decided bool) {
	for i := len(ps) - 1; i >= 0; i-- {
		if ps[i].match(rel, name, isDir) {
			return !ps[i].negate, true
		}
	}
	return false, false
}

// ignoreNode is one directory's ignore file. Nodes form an immutable chain
// from a directory up to the backup root, shared by all directories below
// the node's directory, so memory is proportional to the ignore files in the
// walk's current frontier, not to the number of directories.
type ignoreNode struct {
	parent   *ignoreNode
	base     string // directory holding the ignore file, relative to the root ("" = root)
	patterns []pattern
}

// excluded decides an entry at relPath (relative to the backup root).
// Precedence follows git: the command-line patterns first, then ignore files
// from the deepest directory up to the root; within one source the last
// matching pattern wins.
func excluded(cmdline []pattern, n *ignoreNode, relPath, name string, isDir bool) bool {
	if ex, ok := lastMatch(cmdline, relPath, name, isDir); ok {
		return ex
	}
	for ; n != nil; n = n.parent {
		rel := relPath
		if n.base != "" {
			rel = relPath[len(n.base)+1:]
		}
		if ex, ok := lastMatch(n.patterns, rel, name, isDir); ok {
			return ex
		}
	}
	return false
}

// wildmatch matches text against a gitignore glob with '/' treated as a path
// separator: '*', '?' and bracket expressions never match '/'; "**" matches
// across directories only as a whole path component ("**/x", "x/**",
// "x/**/y"), otherwise it acts like '*'. Matching is bytewise, so names that
// are not valid UTF-8 work, and '?' matches one byte.
func wildmatch(glob, text string) bool {
	return doWild(glob, text) == wmMatch
}

type wmResult int

const (
	wmMatch wmResult = iota
	wmNoMatch
	wmAbortAll        // no later text position can match: stop every '*' loop
	wmAbortToStarStar // only an outer "**" can still help
)

func doWild(p, text string) wmResult {
	pi, ti := 0, 0
	for ; pi < len(p); pi, ti = pi+1, ti+1 {
		pc := p[pi]
		if ti >= len(text) && pc != '*' {
			return wmAbortAll
		}
		var tc byte
		if ti < len(text) {
			tc = text[ti]
		}
		switch pc {
		case '\\':
			// Escaped literal; a trailing backslash matches nothing.
			pi++
			if pi >= len(p) || tc != p[pi] {
				return wmNoMatch
			}
		default:
			if tc != pc {
				return wmNoMatch
			}
		case '?':
			if tc == '/' {
				return wmNoMatch
			}
		case '*':
			matchSlash := false
			pi++
			if pi < len(p) && p[pi] == '*' {
				start := pi - 1
				for pi < len(p) && p[pi] == '*' {
					pi++
				}
				// "**" is special only as a whole component.
				if (start == 0 || p[start-1] == '/') &&
					(pi == len(p) || p[pi] == '/' || (p[pi] == '\\' && pi+1 < len(p) && p[pi+1] == '/')) {
					// "x/**/y" also matches "x/y": try "**/" as nothing.
					if pi < len(p) && p[pi] == '/' && doWild(p[pi+1:], text[ti:]) == wmMatch {
						return wmMatch
					}
					matchSlash = true
				}
			}
			if pi == len(p) {
				// A trailing "**" matches everything, '*' the rest of one component.
				if !matchSlash && strings.IndexByte(text[ti:], '/') >= 0 {
					return wmNoMatch
				}
				return wmMatch
			}
			if !matchSlash && p[pi] == '/' {
				// One '*' then '/': the '*' takes the rest of this component.
				slash := strings.IndexByte(text[ti:], '/')
				if slash < 0 {
					return wmNoMatch
				}
				ti += slash // the loop's increment consumes the '/' on both sides
				continue
			}
			for {
				if ti >= len(text) {
					break
				}
				// Skip ahead to the next occurrence of a literal that must follow.
				if !isGlobSpecial(p[pi]) {
					for ti < len(text) && (matchSlash || text[ti] != '/') && text[ti] != p[pi] {
						ti++
					}
					if ti >= len(text) || text[ti] != p[pi] {
						if matchSlash {
							return wmAbortAll
						}
						return wmAbortToStarStar
					}
				}
				r := doWild(p[pi:], text[ti:])
				if r != wmNoMatch {
					if !matchSlash || r != wmAbortToStarStar {
						return r
					}
				} else if !matchSlash && text[ti] == '/' {
					return wmAbortToStarStar
				}
				ti++
			}
			return wmAbortAll
		case '[':
			r, next := matchClass(p, pi, tc)
			if r != wmMatch {
				return r
			}
			pi = next
		}
	}
	if ti < len(text) {
		return wmNoMatch
	}
	return wmMatch
}

func isGlobSpecial(c byte) bool {
	return c == '*' || c == '?' || c == '[' || c == '\\'
}

// matchClass matches tc against the bracket expression starting at p[pi]
// ('['), returning the index of its closing ']'.
func matchClass(p string, pi int, tc byte) (wmResult, int) {
	at := func(i int) byte {
		if i < len(p) {
			return p[i]
		}
		return 0
	}
	pi++
	pc := at(pi)
	negated := false
	if pc == '!' || pc == '^' {
		negated = true
		pi++
		pc = at(pi)
	}
	var prev byte
	matched := false
	for {
		if pc == 0 && pi >= len(p) {
			return wmAbortAll, pi // unterminated class
		}
		switch {
		case pc == '\\':
			pi++
			if pi >= len(p) {
				return wmAbortAll, pi
			}
			pc = p[pi]
			if tc == pc {
				matched = true
			}
		case pc == '-' && prev != 0 && pi+1 < len(p) && p[pi+1] != ']':
			pi++
			pc = p[pi]
			if pc == '\\' {
				pi++
				if pi >= len(p) {
					return wmAbortAll, pi
				}
				pc = p[pi]
			}
			if tc >= prev && tc <= pc {
				matched = true
			}
			pc = 0 // a range end cannot start another range
		case pc == '[' && at(pi+1) == ':':
			end := strings.Index(p[pi+2:], "]")
			if end < 0 {
				return wmAbortAll, pi
			}
			body := p[pi+2 : pi+2+end]
			if !strings.HasSuffix(body, ":") {
				// Not "[:class:]": a literal '['.
				if tc == '[' {
					matched = true
				}
				break
			}
			in, ok := inClass(body[:len(body)-1], tc)
			if !ok {
				return wmAbortAll, pi // malformed class name
			}
			if in {
				matched = true
			}
			pi += 2 + end
			pc = 0
		default:
			if tc == pc {
				matched = true
			}
		}
		prev = pc
		pi++
		pc = at(pi)
		if pc == ']' {
			break
		}
	}
	if matched == negated || tc == '/' {
		return wmNoMatch, pi
	}
	return wmMatch, pi
}

// inClass implements the POSIX character classes for ASCII, as git does.
func inClass(name string, c byte) (in, ok bool) {
	isDigit := '0' <= c && c <= '9'
	isUpper := 'A' <= c && c <= 'Z'
	isLower := 'a' <= c && c <= 'z'
	isAlpha := isUpper || isLower
	isPrint := c >= 0x20 && c < 0x7f
	switch name {
	case "alnum":
		return isAlpha || isDigit, true
	case "alpha":
		return isAlpha, true
	case "blank":
		return c == ' ' || c == '\t', true
	case "cntrl":
		return c < 0x20 || c == 0x7f, true
	case "digit":
		return isDigit, true
	case "graph":
		return isPrint && c != ' ', true
	case "lower":
		return isLower, true
	case "print":
		return isPrint, true
	case "punct":
		return isPrint && c != ' ' && !isAlpha && !isDigit, true
	case "space":
		return c == ' ' || (c >= '\t' && c <= '\r'), true
	case "upper":
		return isUpper, true
	case "xdigit":
		return isDigit || ('a' <= c && c <= 'f') || ('A' <= c && c <= 'F'), true
	}
	return false, false
}
