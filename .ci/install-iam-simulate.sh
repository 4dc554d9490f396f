#!/usr/bin/env bash
# Installs the offline IAM policy simulator the policy tests run
# (internal/policy: every generated policy variant is evaluated with
# @cloud-copilot/iam-simulate through testdata/iamsim/simulate.mjs). It runs
# `npm ci` in that folder, from its committed package-lock.json, so the
# simulator version is pinned. Needs Node.js 20+ and npm; under CI=true the
# tests fail if this was not run.
# Idempotent: does nothing when the installed tree already matches the lock
# file. Quiet on success apart from one summary line; on failure prints
# npm's output.
set -euo pipefail
cd "$(dirname "$0")/.."

die() {
	echo "install-iam-simulate: ERROR: $*" >&2
	exit 1
}

dir=internal/policy/testdata/iamsim
command -v node >/dev/null 2>&1 || die "node not found on PATH; install Node.js 20 or later (e.g. apt-get install nodejs npm)"
command -v npm >/dev/null 2>&1 || die "npm not found on PATH; install it with Node.js (e.g. apt-get install npm)"
node_major=$(node -p 'process.versions.node.split(".")[0]')
[[ $node_major -ge 20 ]] || die "Node.js $(node --version) is too old; the simulator needs 20 or later"
[[ -f $dir/package-lock.json ]] || die "$dir/package-lock.json is missing"

# npm writes node_modules/.package-lock.json on every install; when it
# matches the committed lock file, the tree is what npm ci would produce.
installed="already installed"
pkg=$dir/node_modules/@cloud-copilot/iam-simulate/package.json
if [[ ! -f $pkg || ! -f $dir/node_modules/.package-lock.json ]] ||
	! node -e '
		const fs = require("fs"), [lock, have] = process.argv.slice(1).map(f => JSON.parse(fs.readFileSync(f, "utf8")));
		const strip = p => Object.fromEntries(Object.entries(p).filter(([k]) => k !== "").map(([k, v]) => [k, v.version + " " + v.integrity]));
		process.exit(JSON.stringify(strip(lock.packages)) === JSON.stringify(strip(have.packages)) ? 0 : 1);
	' "$dir/package-lock.json" "$dir/node_modules/.package-lock.json"; then
	npm_log=$(mktemp)
	trap 'rm -f "$npm_log"' EXIT
	if ! (cd "$dir" && npm ci --no-audit --no-fund --loglevel=error) >"$npm_log" 2>&1 </dev/null; then
		cat "$npm_log" >&2
		die "npm ci in $dir failed (output above)"
	fi
	[[ -f $pkg ]] || die "npm ci succeeded but $pkg is missing"
	installed="installed now"
fi

version=$(node -p "require('./$pkg').version")
echo "@cloud-copilot/iam-simulate: ok ($installed; $version, node $(node --version))"
