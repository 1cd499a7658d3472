#!/bin/sh
# make bench-push: upsert throughput against curl, and pacing at a limit.
#
# 1. Unlimited key, sandbox --latency-ms 20, 20,000 staged contacts:
#    meisa-bulk push --concurrency 32 --rate none, against
#    curl --parallel --parallel-max 32 sending the same 20,000 bodies to a
#    fresh sandbox in the same run.  Bar: meisa-bulk >= 0.9x curl.
# 2. Sandbox limited to 20/s, client --rate 20/s, 600 contacts: throughput
#    within 5% of 20/s and zero 429s.
set -eu
BIN=${MB_BUILD:-build}
N=${N:-20000}
W=$(mktemp -d /tmp/meisa-bench-push.XXXXXX)
KEY=meisa_test_bench
SB=""
trap 'stop_sandbox; rm -rf "$W"' EXIT INT TERM

start_sandbox() { # db, extra options...
	db=$1; shift
	rm -f "$W/port" "$db"*
	"$BIN/meisa-sandbox" --port 0 --port-file "$W/port" --db "$db" \
		--key "$KEY" --sequence onboarding=active "$@" 2>>"$W/sandbox.log" &
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

# Input: N contacts in a generic export.
/usr/bin/python3 - "$N" "$W/in.csv" <<'PY'
import sys
n, out = int(sys.argv[1]), sys.argv[2]
with open(out, "w") as f:
    f.write("email,first_name,last_name,company,plan,seats\n")
    for i in range(n):
        f.write("user%d@example.com,First%d,Last%d,Company %d,pro,%d\n"
                % (i, i, i, i % 300, i % 50 + 1))
PY
"$BIN/meisa-bulk" stage -q --db "$W/stage.db" "$W/in.csv" >/dev/null
cp "$W/stage.db" "$W/stage-pristine.db"

# curl's config: the very bodies meisa-bulk staged, one transfer each.
# ("next" starts a new transfer and resets its options, so each one says
# silent; no "next" after the last.)
sqlite3 "$W/stage.db" "SELECT group_concat(
  'url = \"@URL@/contacts/upsert/\"' || char(10) ||
  'data-binary = \"' || replace(replace(body, '\\', '\\\\'), '\"', '\\\"') || '\"' || char(10) ||
  'header = \"Content-Type: application/json\"' || char(10) ||
  'header = \"X-API-Key: $KEY\"' || char(10) || 'output = \"/dev/null\"' || char(10) ||
  'silent', char(10) || 'next' || char(10)) FROM (SELECT body FROM contacts ORDER BY id)" > "$W/curl.tmpl"

# 1a. meisa-bulk
start_sandbox "$W/sb1.db" --rate none --latency-ms 20
t0=$(now)
MEISA_API_KEY=$KEY MEISA_BASE_URL=$URL "$BIN/meisa-bulk" push -q --yes \
	--db "$W/stage.db" --rate none --concurrency 32 >/dev/null
t1=$(now)
mb_ok=$(sqlite3 "$W/sb1.db" "SELECT count(*) FROM requests WHERE path LIKE '%/upsert/' AND status IN (200, 201)")
stop_sandbox
# 1b. curl --parallel
start_sandbox "$W/sb2.db" --rate none --latency-ms 20
sed "s#@URL@#$URL#" "$W/curl.tmpl" > "$W/curl.cfg"
t2=$(now)
curl -s --parallel --parallel-max 32 -K "$W/curl.cfg" 2>/dev/null || true
t3=$(now)
curl_ok=$(sqlite3 "$W/sb2.db" "SELECT count(*) FROM requests WHERE path LIKE '%/upsert/' AND status IN (200, 201)")
stop_sandbox

mb_t=$(echo "$t1 - $t0" | bc); curl_t=$(echo "$t3 - $t2" | bc)
mb_rps=$(echo "scale=1; $mb_ok / $mb_t" | bc); curl_rps=$(echo "scale=1; $curl_ok / $curl_t" | bc)
ratio=$(echo "scale=2; $mb_rps / $curl_rps" | bc)
echo "bench-push 1: $N upserts, sandbox --latency-ms 20, concurrency 32"
printf '  %-36s %8ss  %8s req/s  (%s acknowledged)\n' \
	"meisa-bulk push" "$mb_t" "$mb_rps" "$mb_ok" \
	"curl --parallel --parallel-max 32" "$curl_t" "$curl_rps" "$curl_ok"
echo "  ratio meisa-bulk/curl: ${ratio}x (bar >= 0.9x)"

# 2. Pacing at a known limit.
printf 'email\n' > "$W/600.csv"
i=0; while [ $i -lt 600 ]; do echo "pace$i@example.com"; i=$((i + 1)); done >> "$W/600.csv"
"$BIN/meisa-bulk" stage -q --db "$W/pace.db" "$W/600.csv" >/dev/null
start_sandbox "$W/sb3.db" --rate 20/s
MEISA_API_KEY=$KEY MEISA_BASE_URL=$URL "$BIN/meisa-bulk" push -q --yes \
	--db "$W/pace.db" --rate 20/s --concurrency 4 >/dev/null
stop_sandbox
sqlite3 "$W/sb3.db" "SELECT count(*), sum(status = 429),
	(max(ts) - min(ts)) FROM requests" | {
	IFS='|' read -r total throttled span
	rps=$(echo "scale=2; ($total - 1) / $span" | bc)
	echo "bench-push 2: 600 contacts, sandbox --rate 20/s, client --rate 20/s"
	echo "  $total requests in ${span}s: $rps req/s (bar: 19.0-21.0), 429s: $throttled (bar: 0)"
}
