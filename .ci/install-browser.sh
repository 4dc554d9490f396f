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
# shellcheck source=npm-locked.sh
source .ci/npm-locked.sh
npm_locked internal/dashboard/e2e playwright-core
version=$(node -p "require('./$pkg').version")
echo "playwright-core: ok ($installed; $version, node $(node --version))"
