#!/usr/bin/env bash
# Installs what the dashboard's browser test drives (cmd/icevault
# dashboard_e2e_test.go): Debian's Chromium at /usr/bin/chromium, and
# playwright-core (pinned by internal/dashboard/e2e/package-lock.json) in that
# folder. Playwright's own browser download is never used: it does not work
# here, and Debian's build is the one the test means to run.
# Idempotent: installs Chromium with apt-get only when /usr/bin/chromium is
# missing (needs root then), and runs `npm ci` only when the installed tree
# differs from the lock file. Prints one line per tool on success.
set -euo pipefail
cd "$(dirname "$0")/.."

die() {
	echo "install-browser: ERROR: $*" >&2
	exit 1
}

# --- Chromium ------------------------------------------------------------------
if [[ ! -x /usr/bin/chromium ]]; then
	command -v apt-get >/dev/null 2>&1 || die "/usr/bin/chromium is missing and there is no apt-get to install it (Debian package chromium)"
	[[ $(id -u) -eq 0 ]] || die "/usr/bin/chromium is missing; installing it needs root: sudo apt-get install chromium"
	apt_log=$(mktemp)
	if ! { apt-get update && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends chromium; } >"$apt_log" 2>&1 </dev/null; then
		cat "$apt_log" >&2
		rm -f "$apt_log"
		die "apt-get install chromium failed (output above)"
	fi
	rm -f "$apt_log"
	[[ -x /usr/bin/chromium ]] || die "apt-get installed chromium but /usr/bin/chromium is missing"
fi
echo "chromium: ok ($(/usr/bin/chromium --version 2>/dev/null || echo 'version unknown'))"

# --- playwright-core -----------------------------------------------------------
dir=internal/dashboard/e2e
command -v node >/dev/null 2>&1 || die "node not found on PATH; install Node.js 20 or later (e.g. apt-get install nodejs npm)"
command -v npm >/dev/null 2>&1 || die "npm not found on PATH; install it with Node.js (e.g. apt-get install npm)"
node_major=$(node -p 'process.versions.node.split(".")[0]')
[[ $node_major -ge 20 ]] || die "Node.js $(node --version) is too old; playwright-core needs 20 or later"
[[ -f $dir/package-lock.json ]] || die "$dir/package-lock.json is missing"

# npm writes node_modules/.package-lock.json on every install; when it
# matches the committed lock file, the tree is what npm ci would produce.
installed="already installed"
pkg=$dir/node_modules/playwright-core/package.json
if [[ ! -f $pkg || ! -f $dir/node_modules/.package-lock.json ]] ||
	! node -e '
		const fs = require("fs"), [lock, have] = process.argv.slice(1).map(f => JSON.parse(fs.readFileSync(f, "utf8")));
		const strip = p => Object.fromEntries(Object.entries(p).filter(([k]) => k !== "").map(([k, v]) => [k, v.version + " " + v.integrity]));
		process.exit(JSON.stringify(strip(lock.packages)) === JSON.stringify(strip(have.packages)) ? 0 : 1);
	' "$dir/package-lock.json" "$dir/node_modules/.package-lock.json"; then
	npm_log=$(mktemp)
	trap 'rm -f "$npm_log"' EXIT
	# playwright-core has no install script, but say it anyway: no browser download.
	if ! (cd "$dir" && PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD=1 npm ci --no-audit --no-fund --loglevel=error) >"$npm_log" 2>&1 </dev/null; then
		cat "$npm_log" >&2
		die "npm ci in $dir failed (output above)"
	fi
	[[ -f $pkg ]] || die "npm ci succeeded but $pkg is missing"
	installed="installed now"
fi
version=$(node -p "require('./$pkg').version")
echo "playwright-core: ok ($installed; $version, node $(node --version))"
