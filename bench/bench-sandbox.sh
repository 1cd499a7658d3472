#!/bin/sh
# make bench-sandbox: meisa-sandbox upsert throughput and latency.
#
# wrk drives POST /api/v1/contacts/upsert/ at 64 connections (2 threads) for
# 10 seconds, each request a new contact (bench/upsert.lua varies the email
# and external_id), against a sandbox with a file-backed db and --rate none.
# Three runs, each on a fresh db; every run is checked afterwards: every
# request answered 201, one contact per answered request, a clean exit.
# Reports requests/s and latency percentiles per run.  Bar (issue 3): at
# least 10,000 upserts/s (best run) on the 2-core machine.
#
# Environment: MB_BUILD (binaries, default build), DURATION (s, 10),
# CONNECTIONS (64), RUNS (3), SANDBOX_THREADS (sandbox --threads, default 1).
set -eu
BIN=${MB_BUILD:-build}
DURATION=${DURATION:-10}
CONNECTIONS=${CONNECTIONS:-64}
RUNS=${RUNS:-3}
THREADS=${SANDBOX_THREADS:-1}
BAR=10000
W=$(mktemp -d /tmp/meisa-bench-sandbox.XXXXXX)
SB=""
trap 'stop_sandbox; rm -rf "$W"' EXIT INT TERM

command -v wrk >/dev/null || { echo "bench-sandbox: wrk is not installed" \
	"(apt-get install wrk)" >&2; exit 1; }
command -v sqlite3 >/dev/null || { echo "bench-sandbox: sqlite3 is not" \
	"installed" >&2; exit 1; }

start_sandbox() {
	rm -f "$W/port" "$W"/sandbox.db*
	"$BIN/meisa-sandbox" --port 0 --port-file "$W/port" \
		--db "$W/sandbox.db" --rate none --threads "$THREADS" \
		2>>"$W/sandbox.log" &
	SB=$!
	i=0
	while [ ! -s "$W/port" ]; do
		i=$((i + 1)); [ $i -lt 200 ] || { cat "$W/sandbox.log"; exit 1; }
		sleep 0.05
	done
	PORT=$(cat "$W/port")
}

stop_sandbox() {
	[ -n "$SB" ] || return 0
	kill "$SB" 2>/dev/null || true
	status=0
	wait "$SB" || status=$?
	SB=""
	[ "$status" = 0 ] || { echo "bench-sandbox: meisa-sandbox exited" \
		"$status" >&2; cat "$W/sandbox.log" >&2; exit 1; }
}

q() { sqlite3 "$W/sandbox.db" "$1"; }

best=0
echo "bench-sandbox: wrk -t2 -c$CONNECTIONS -d${DURATION}s, new contact per" \
	"request, file db, --rate none, --threads $THREADS ($(nproc) cores)"
run=1
while [ $run -le "$RUNS" ]; do
	start_sandbox
	wrk -t2 -c"$CONNECTIONS" -d"$DURATION"s --latency \
		-s bench/upsert.lua "http://127.0.0.1:$PORT" >"$W/wrk.out" 2>&1 ||
		{ cat "$W/wrk.out"; exit 1; }
	stop_sandbox  # commits everything
	rps=$(awk '/^Requests\/sec:/ { printf "%d", $2 }' "$W/wrk.out")
	done_n=$(awk '/requests in/ { print $1 }' "$W/wrk.out")
	lat=$(awk '/Latency Distribution/ { on = 1; next }
		on && /%/ { printf "%s p%s %s", sep, $1, $2; sep = ","; n++ }
		n == 4 { exit }' "$W/wrk.out" | sed 's/%//g')
	if grep -q "Non-2xx\|Socket errors" "$W/wrk.out"; then
		cat "$W/wrk.out"; echo "bench-sandbox: errors in run $run" >&2
		exit 1
	fi
	logged=$(q "SELECT count(*) FROM requests")
	created=$(q "SELECT count(*) FROM requests WHERE status = 201")
	contacts=$(q "SELECT count(*) FROM contacts")
	# wrk stops counting at the deadline; answers in flight then are
	# logged by the sandbox but not counted by wrk.
	if [ "$created" != "$logged" ] || [ "$contacts" != "$created" ] ||
	   [ "$logged" -lt "$done_n" ]; then
		echo "bench-sandbox: run $run inconsistent: wrk $done_n," \
			"logged $logged, 201 $created, contacts $contacts" >&2
		exit 1
	fi
	printf '  run %d: %6d upserts/s  (%d requests; latency%s)\n' \
		"$run" "$rps" "$done_n" "$lat"
	[ "$rps" -le "$best" ] || best=$rps
	run=$((run + 1))
done
if [ "$best" -ge "$BAR" ]; then verdict=ok; else verdict=FAILED; fi
echo "  best: $best upserts/s (bar >= $BAR/s): $verdict"
[ "$verdict" = ok ]
