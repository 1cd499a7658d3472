#!/bin/sh
# make bench-sync: a nightly sync's second night, against a plain stage.
#
# An application's users dump of ROWS rows (default 100,000;
# bench/gen-users.py), then the next night's dump with exactly PCT% of the
# rows changed (default 1%).  Night 1 is imported for real into
# meisa-sandbox --rate none (so every contact is acknowledged), then:
#   A. meisa-bulk stage NIGHT2 into a copy of night 1's staging file: each
#      row is compared with its contact and what Meisa acknowledged; only
#      the changed, new and vanished contacts are written (schema 4: an
#      unchanged one is only recorded as seen), so a night costs what
#      changed, not what the list holds (stage + diff);
#   B. meisa-bulk stage NIGHT2 into a new staging file (a plain stage);
# both best of 3, reported with their ratio (bar: A <= 0.6 x B, issue 14;
# it was 1.5 x while every contact was rewritten each night).  Then
# night 2 is pushed for real: the upserts the sandbox receives must be
# exactly the changed rows (bar: equal), and a re-run of the same import
# must send no upsert at all.
set -eu
BIN=${MB_BUILD:-build}
ROWS=${ROWS:-100000}
PCT=${PCT:-1}
W=$(mktemp -d /tmp/meisa-bench-sync.XXXXXX)
KEY=meisa_test_bench
SB=""
trap 'stop_sandbox; rm -rf "$W"' EXIT INT TERM

start_sandbox() { # db
	rm -f "$W/port"
	"$BIN/meisa-sandbox" --port 0 --port-file "$W/port" --db "$1" \
		--key "$KEY" --rate none 2>>"$W/sandbox.log" &
	SB=$!
	i=0
	while [ ! -s "$W/port" ]; do
		i=$((i + 1)); [ $i -lt 200 ] || { cat "$W/sandbox.log"; exit 1; }
		sleep 0.05
	done
	URL="http://127.0.0.1:$(cat "$W/port")/api/v1"
}
stop_sandbox() { [ -z "$SB" ] || { kill "$SB" 2>/dev/null; wait "$SB" 2>/dev/null || true; SB=""; }; }
now() { date +%s.%N; }
upserts() { # sandbox db: upserts the sandbox applied
	sqlite3 "$1" "SELECT count(*) FROM requests WHERE path LIKE '%/contacts/upsert/' AND status IN (200, 201)"
}

best() { # setup, command...: the fastest wall time of 3 runs
	setup=$1; shift; bt=""
	for i in 1 2 3; do
		sh -c "$setup"
		t0=$(now)
		"$@" >/dev/null 2>"$W/err" || { cat "$W/err" >&2; exit 1; }
		t=$(echo "$(now) - $t0" | bc)
		if [ -z "$bt" ] || [ "$(echo "$t < $bt" | bc)" = 1 ]; then bt=$t; fi
	done
	echo "$bt"
}

/usr/bin/python3 bench/gen-users.py "$ROWS" "$W/night1.csv" >/dev/null
changed=$(/usr/bin/python3 bench/gen-users.py "$ROWS" "$W/night2.csv" \
	--night 2 --changed-pct "$PCT")
gzip -6 "$W/night1.csv" "$W/night2.csv"

# Night 1, for real.
start_sandbox "$W/sandbox.db"
t0=$(now)
MEISA_API_KEY=$KEY MEISA_BASE_URL=$URL "$BIN/meisa-bulk" import -q --yes \
	--db "$W/sync.db" --rate none --concurrency 32 "$W/night1.csv.gz" \
	>/dev/null
t1=$(now)
n1=$(upserts "$W/sandbox.db")
stop_sandbox
cp "$W/sync.db" "$W/night1.db"

# A and B: staging time only (no network).
A=$(best "cp '$W/night1.db' '$W/a.db'; rm -f '$W/a.db-'*" \
	"$BIN/meisa-bulk" stage -q --db "$W/a.db" "$W/night2.csv.gz")
B=$(best "rm -f '$W/b.db'*" \
	"$BIN/meisa-bulk" stage -q --db "$W/b.db" "$W/night2.csv.gz")
ratio=$(echo "scale=2; $A / $B" | bc)
unchanged=$("$BIN/meisa-bulk" status --json --db "$W/a.db" |
	sed 's/.*"unchanged":\([0-9]*\).*/\1/')

# Night 2, for real, then the same import again.
start_sandbox "$W/sandbox.db"
t2=$(now)
MEISA_API_KEY=$KEY MEISA_BASE_URL=$URL "$BIN/meisa-bulk" import -q --yes \
	--db "$W/sync.db" --rate none --concurrency 32 "$W/night2.csv.gz" \
	>/dev/null
t3=$(now)
n2=$(upserts "$W/sandbox.db")
MEISA_API_KEY=$KEY MEISA_BASE_URL=$URL "$BIN/meisa-bulk" import -q --yes \
	--db "$W/sync.db" --rate none "$W/night2.csv.gz" >/dev/null 2>&1
n3=$(upserts "$W/sandbox.db")
stop_sandbox

sent=$((n2 - n1)); again=$((n3 - n2))
echo "bench-sync: $ROWS-row users dump, night 2 with $changed rows changed ($PCT%)"
printf '  %-50s %7.3fs\n' \
	"night 1 import (stage + $n1 upserts)" "$(echo "$t1 - $t0" | bc)" \
	"A. stage + diff of night 2 (best of 3)" "$A" \
	"B. plain stage of the night 2 file (best of 3)" "$B" \
	"night 2 import (stage + diff + push)" "$(echo "$t3 - $t2" | bc)"
echo "  ratio A/B: ${ratio}x (bar <= 0.6x, goal 0.35x); unchanged after the" \
	"diff: $unchanged; load: $(cut -d' ' -f1-3 /proc/loadavg)"
echo "  night 2 upserts sent: $sent, changed rows: $changed" \
	"($([ "$sent" -eq "$changed" ] && echo ok || echo MISMATCH));" \
	"same import again: $again upserts (bar: 0)"
[ "$sent" -eq "$changed" ] && [ "$again" -eq 0 ]
