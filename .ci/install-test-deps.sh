#!/usr/bin/env bash
# Makes sure the external peers of icevault's integration tests exist, so that
# CI (CI=true) runs every test instead of failing on a missing tool:
#   - moto_server (Python moto 5.x), preinstalled on the machine image via pyenv;
#     PyPI is not reachable from CI, so it is checked, never installed here.
#   - AWS CLI v2 at /usr/bin/aws (Debian 12 package awscli, 2.9.x); installed
#     with apt-get if missing. A v1 `aws` elsewhere on PATH is not enough.
# Idempotent; needs root only when it has to install the CLI. Prints one line
# per tool on success, and says what is wrong and how to fix it otherwise.
set -euo pipefail

die() {
	echo "install-test-deps: ERROR: $*" >&2
	exit 1
}

# --- moto_server -------------------------------------------------------------
moto=""
if command -v moto_server >/dev/null 2>&1; then
	moto=$(command -v moto_server)
elif [[ -x "${HOME:-/root}/.pyenv/shims/moto_server" ]]; then
	moto="${HOME:-/root}/.pyenv/shims/moto_server"
fi
[[ -n "$moto" ]] || die "moto_server not found on PATH or in ~/.pyenv/shims.
  It is expected on the machine image (pyenv Python with moto 5.x). PyPI is not
  reachable from CI, so this script cannot install it; on a machine with PyPI:
  pip install 'moto[server]>=5,<6'"
if ! moto_help=$("$moto" --help 2>&1); then
	die "$moto --help failed; moto is broken (missing server extras? pip install 'moto[server]'):
$moto_help"
fi
grep -q -- '--port' <<<"$moto_help" ||
	die "$moto --help does not look like moto_server's:
$moto_help"
moto_version=$(python3 -c 'import moto; print(moto.__version__)' 2>/dev/null ||
	"$(dirname "$moto")/python" -c 'import moto; print(moto.__version__)' 2>/dev/null ||
	echo "version unknown")
echo "moto_server: ok ($moto, moto $moto_version)"

# --- AWS CLI v2 --------------------------------------------------------------
aws_cli=/usr/bin/aws
cli_version() { "$aws_cli" --version 2>&1 | head -n1; }

if [[ ! -x "$aws_cli" ]]; then
	[[ $(id -u) -eq 0 ]] || die "$aws_cli missing and not running as root; run: sudo apt-get install awscli"
	export DEBIAN_FRONTEND=noninteractive
	apt_log=$(mktemp)
	trap 'rm -f "$apt_log"' EXIT
	if ! { apt-get update -q && apt-get install -y -q --no-install-recommends awscli; } \
		>"$apt_log" 2>&1 </dev/null; then
		cat "$apt_log" >&2
		die "apt-get install awscli failed (output above)"
	fi
	[[ -x "$aws_cli" ]] || die "apt-get installed awscli but $aws_cli does not exist"
fi
version=$(cli_version) || die "$aws_cli --version failed: $version"
[[ "$version" == aws-cli/2.* ]] ||
	die "$aws_cli is '$version', need AWS CLI v2 (aws-cli/2.x): Debian 12's awscli package is v2;
  the v1 from pip/pyenv is not usable by the tests"
echo "aws cli: ok ($aws_cli, ${version%% *})"

# --- age and zstd (docs/recovery-by-hand.md is run as written) ----------------
missing=()
command -v age >/dev/null 2>&1 || missing+=(age)
command -v zstd >/dev/null 2>&1 || missing+=(zstd)
if ((${#missing[@]})); then
	[[ $(id -u) -eq 0 ]] || die "${missing[*]} missing and not running as root; run: sudo apt-get install ${missing[*]}"
	export DEBIAN_FRONTEND=noninteractive
	apt_log=$(mktemp)
	if ! { apt-get update -q && apt-get install -y -q --no-install-recommends "${missing[@]}"; } \
		>"$apt_log" 2>&1 </dev/null; then
		cat "$apt_log" >&2
		die "apt-get install ${missing[*]} failed (output above)"
	fi
fi
echo "age, zstd: ok ($(age --version 2>&1 | head -n1), $(zstd --version 2>&1 | head -n1 | cut -c1-40))"
