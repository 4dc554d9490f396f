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

# shellcheck source=npm-locked.sh
source .ci/npm-locked.sh
npm_locked internal/policy/testdata/iamsim @cloud-copilot/iam-simulate
version=$(node -p "require('./$pkg').version")
echo "@cloud-copilot/iam-simulate: ok ($installed; $version, node $(node --version))"
