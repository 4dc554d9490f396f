#!/usr/bin/env bash
# bench/run.sh — icevault's end-to-end backup benchmark (issue 3, "Measure").
#
# Generates deterministic data sets (once; a matching manifest skips the work),
# then backs each up to the Deep Archive simulator, which runs as a separate
# process so its memory and CPU are not the backup's, and prints a table.
#
#   bench/run.sh                      # (a0) (a) (b)
#   BENCH_MILLION=1 bench/run.sh      # also (c): 1M small files
#
# Runs:
#   (a0) incompressible  4 × 256 MiB random files only: the ≥ 300 MB/s target
#   (a)  mixed           1 GiB random in 4 files + 20k small files (100 B–64 KiB,
#                        half text, half random) + a 64 MiB log file
#   (b)  small100k       100k small files: the no-change re-run target (< 2 s)
#   (c)  million         BENCH_MILLION_FILES (default 1,000,000) small files of
#                        100 B–8 KiB: peak RSS (< 300 MB) and PutObjects
#
# Environment:
#   BENCH_DIR            data sets, binaries, logs, profiles (default /tmp/icevault-bench)
#   BENCH_MILLION=1      run (c)
#   BENCH_MILLION_FILES  size of (c) (e.g. 300000 when 1M does not fit the time)
#   BENCH_ONLY           space-separated subset of: incompressible mixed small100k million
#   PACK_MIB             pack size (default 128)
#   BENCH_ARGS           extra flags for `backupbench run` (e.g. "-readers 3")
#
# The data sets are generated just before they are read, so reads come from the
# page cache (the box has 24 GiB): this measures the engine, not the disk.
set -euo pipefail

cd "$(dirname "$0")/.."
BENCH_DIR=${BENCH_DIR:-/tmp/icevault-bench}
PACK_MIB=${PACK_MIB:-128}
BENCH_MILLION=${BENCH_MILLION:-0}
BENCH_MILLION_FILES=${BENCH_MILLION_FILES:-1000000}
BENCH_ARGS=${BENCH_ARGS:-}
BENCH_ONLY=${BENCH_ONLY:-}
mkdir -p "$BENCH_DIR/data" "$BENCH_DIR/bin" "$BENCH_DIR/out"
stamp=$(date -u +%Y%m%dT%H%M%SZ)
results="$BENCH_DIR/out/results-$stamp.jsonl"
: >"$results"

echo "== machine"
echo "date:       $(date -u)"
echo "cpu:        $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ *//'), nproc $(nproc)"
echo "memory:     $(free -g | awk '/^Mem:/ {print $2 " GiB total, " $7 " GiB available"}')"
echo "go:         $(go version)"
echo "kernel:     $(uname -sr)"
echo "load:       $(cut -d' ' -f1-3 /proc/loadavg) (1, 5, 15 min; the machine is shared)"
echo "commit:     $(git rev-parse --short HEAD 2>/dev/null || echo '?')$(git diff --quiet 2>/dev/null || echo ' (+ uncommitted changes)')"
echo "bench dir:  $BENCH_DIR (free: $(df -h "$BENCH_DIR" | awk 'NR==2 {print $4}'))"
echo

echo "== build"
go build -o "$BENCH_DIR/bin/backupbench" ./bench/backupbench
go build -o "$BENCH_DIR/bin/icevault" ./cmd/icevault
BB="$BENCH_DIR/bin/backupbench"

want() { [[ -z "$BENCH_ONLY" || " $BENCH_ONLY " == *" $1 "* ]]; }

# bench NAME GEN-FLAGS -- RUN-FLAGS
bench() {
	local name=$1
	shift
	local gen=()
	while [[ $1 != -- ]]; do
		gen+=("$1")
		shift
	done
	shift
	echo
	echo "== $name"
	"$BB" gen -dir "$BENCH_DIR/data/$name" "${gen[@]}"
	# shellcheck disable=SC2086 # BENCH_ARGS is a list of flags
	"$BB" run -data "$BENCH_DIR/data/$name" -label "$name" -icevault "$BENCH_DIR/bin/icevault" \
		-pack-mib "$PACK_MIB" "$@" $BENCH_ARGS | tee "$BENCH_DIR/out/$name-$stamp.log"
	tail -n 1 "$BENCH_DIR/out/$name-$stamp.log" >>"$results"
}

if want incompressible; then
	bench incompressible -small 0 -large-mib 1024 -large-files 4 -text-mib 0 -- \
		-baseline -cpuprofile "$BENCH_DIR/out/incompressible-$stamp.cpu.prof"
fi
if want mixed; then
	bench mixed -small 20000 -large-mib 1024 -large-files 4 -text-mib 64 -- \
		-cpuprofile "$BENCH_DIR/out/mixed-$stamp.cpu.prof"
fi
if want small100k; then
	bench small100k -small 100000 -large-mib 0 -text-mib 0 -- \
		-rerun-cpuprofile "$BENCH_DIR/out/small100k-rerun-$stamp.cpu.prof"
fi
if [[ $BENCH_MILLION == 1 ]] && want million; then
	name=million
	[[ $BENCH_MILLION_FILES == 1000000 ]] || name=small$((BENCH_MILLION_FILES / 1000))k
	bench "$name" -small "$BENCH_MILLION_FILES" -small-max 8192 -large-mib 0 -text-mib 0 -- \
		-memprofile "$BENCH_DIR/out/$name-$stamp.heap.prof" -cpuprofile "$BENCH_DIR/out/$name-$stamp.cpu.prof"
fi

echo
echo "== results ($results)"
"$BB" table "$results"
echo
echo "targets (2 cores): incompressible ≥ 300 MB/s; no-change re-run of 100k files < 2 s;"
echo "peak RSS < 300 MB for 1M files; ≤ 10 PutObjects per GiB uploaded, 1M small files ≤ a few hundred PutObjects."
echo "load now: $(cut -d' ' -f1-3 /proc/loadavg)"
echo "profiles: go tool pprof -top $BB $BENCH_DIR/out/<run>-$stamp.cpu.prof"
