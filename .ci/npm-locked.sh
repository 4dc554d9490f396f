# Sourced by the .ci/install-*.sh scripts that install an npm test tool.
# npm_locked DIR PACKAGE: makes DIR/node_modules what `npm ci` would make
# from DIR/package-lock.json, running npm ci only when the installed tree
# differs (npm writes node_modules/.package-lock.json on every install; when
# it matches the committed lock file, nothing needs doing). Never downloads a
# browser. Sets $installed ("already installed" / "installed now") and $pkg
# (the package's package.json); calls die (the caller's) on failure.
npm_locked() {
	local dir=$1 name=$2
	command -v node >/dev/null 2>&1 || die "node not found on PATH; install Node.js 20 or later (e.g. apt-get install nodejs npm)"
	command -v npm >/dev/null 2>&1 || die "npm not found on PATH; install it with Node.js (e.g. apt-get install npm)"
	local node_major
	node_major=$(node -p 'process.versions.node.split(".")[0]')
	[[ $node_major -ge 20 ]] || die "Node.js $(node --version) is too old; $name needs 20 or later"
	[[ -f $dir/package-lock.json ]] || die "$dir/package-lock.json is missing"

	installed="already installed"
	pkg=$dir/node_modules/$name/package.json
	if [[ ! -f $pkg || ! -f $dir/node_modules/.package-lock.json ]] ||
		! node -e '
			const fs = require("fs"), [lock, have] = process.argv.slice(1).map(f => JSON.parse(fs.readFileSync(f, "utf8")));
			const strip = p => Object.fromEntries(Object.entries(p).filter(([k]) => k !== "").map(([k, v]) => [k, v.version + " " + v.integrity]));
			process.exit(JSON.stringify(strip(lock.packages)) === JSON.stringify(strip(have.packages)) ? 0 : 1);
		' "$dir/package-lock.json" "$dir/node_modules/.package-lock.json"; then
		local npm_log
		npm_log=$(mktemp)
		if ! (cd "$dir" && PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD=1 npm ci --no-audit --no-fund --loglevel=error) >"$npm_log" 2>&1 </dev/null; then
			cat "$npm_log" >&2
			rm -f "$npm_log"
			die "npm ci in $dir failed (output above)"
		fi
		rm -f "$npm_log"
		[[ -f $pkg ]] || die "npm ci succeeded but $pkg is missing"
		installed="installed now"
	fi
}
