#!/usr/bin/env bash
# Makes sure a real Secret Service can run headless for the keystore tests
# (internal/keystore): dbus-run-session (a private session bus) and
# gnome-keyring-daemon (org.freedesktop.secrets on that bus). The tests start
# both themselves; this script only installs them. dbus-x11 (dbus-launch) is
# not needed: the tests use dbus-run-session, never X11 autolaunch.
# Idempotent; needs root only when something is missing. Quiet on success
# apart from one summary line; on failure prints apt-get's output.
set -euo pipefail

die() {
	echo "install-dbus-keyring: ERROR: $*" >&2
	exit 1
}

have_all() {
	command -v dbus-run-session >/dev/null 2>&1 &&
		command -v dbus-daemon >/dev/null 2>&1 &&
		command -v gnome-keyring-daemon >/dev/null 2>&1
}

installed="already installed"
if ! have_all; then
	[[ $(id -u) -eq 0 ]] || die "dbus-run-session or gnome-keyring-daemon missing and not running as root;
  run: sudo apt-get install dbus gnome-keyring"
	export DEBIAN_FRONTEND=noninteractive
	apt_log=$(mktemp)
	trap 'rm -f "$apt_log"' EXIT
	# --no-install-recommends: the recommends (pinentry, PAM and PKCS#11
	# modules) pull in a desktop stack the tests do not use.
	if ! { apt-get update -q && apt-get install -y -q --no-install-recommends dbus gnome-keyring; } \
		>"$apt_log" 2>&1 </dev/null; then
		cat "$apt_log" >&2
		die "apt-get install dbus gnome-keyring failed (output above)"
	fi
	have_all || die "apt-get installed dbus and gnome-keyring, but dbus-run-session, dbus-daemon or gnome-keyring-daemon is still not on PATH"
	installed="installed now"
fi

keyring_version=$(gnome-keyring-daemon --version 2>/dev/null | head -n1 || true)
echo "dbus + gnome-keyring: ok ($installed; $(command -v dbus-run-session), ${keyring_version:-gnome-keyring-daemon version unknown})"
