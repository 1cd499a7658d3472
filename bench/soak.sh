#!/bin/sh
# make soak: a 200,000-contact import through faults and SIGKILLs.
#
# meisa-sandbox answers 5% of requests with a 5xx, drops 2% without an
# answer, applies 2% and then drops the answer (lost acks), and answers
# everything 429 for 10 s (a rate storm) STORM_AT seconds in.  meisa-bulk
# import (--rate none, --concurrency 16, --sequence soak) is SIGKILLed
# KILLS times at random moments (seeded: SEED), each time run again, then
# re-run until it exits 0.  Then the sandbox's own database must hold
# exactly the expected state:
#   - every contact upserted, once, with its data; none of the rows marked
#     unsubscribed at the source (skipped: never upserted);
#   - enrollments in 'soak' exactly for the upserted contacts that are not
#     on Meisa's unsubscribed list; nothing suppressed enrolled;
#   - meisa-bulk status: nothing pending or failed, all enrolled.
# and every run's peak RSS (/usr/bin/time) must stay flat: within RSS_MAX_KB
# and the last run's, sampled every second, no higher at its end than
# RSS_DRIFT_KB above its first quarter.  Prints duration, requests sent and
# re-sent by kind, and RSS per run.
#
#   make soak                     N=200000 KILLS=10 SEED=<random>
#   make soak N=20000 KILLS=3     a quicker rehearsal
set -eu
BIN=${MB_BUILD:-build}
N=${N:-200000}
KILLS=${KILLS:-10}
SEED=${SEED:-$(od -An -N2 -tu2 /dev/urandom | tr -d ' ')}
STORM_AT=${STORM_AT:-20}
RSS_MAX_KB=${RSS_MAX_KB:-65536}
RSS_DRIFT_KB=${RSS_DRIFT_KB:-8192}
KEY=meisa_test_soak
W=$(mktemp -d /tmp/meisa-soak.XXXXXX)
SB=""
MB=""
trap 'stop_all; rm -rf "$W"' EXIT
trap 'exit 130' INT TERM

stop_all() {
	[ -z "$MB" ] || kill -9 "$MB" 2>/dev/null || true
	[ -z "$SB" ] || { kill "$SB" 2>/dev/null; wait "$SB" 2>/dev/null || true; }
	SB=""; MB=""
}
fail() { echo "soak: FAIL: $*" >&2; exit 1; }
q() { sqlite3 "$W/sandbox.db" "$1"; }
now_ms() { date +%s%3N; }

# Input: N contacts, every 100th unsubscribed at the source; Meisa's own
# unsubscribed list has every 200th (offset 3), upserted but never enrolled.
/usr/bin/python3 - "$N" "$W" <<'PY'
import sys
n, w = int(sys.argv[1]), sys.argv[2]
with open(w + "/in.csv", "w") as f, open(w + "/unsub.txt", "w") as u:
    f.write("email,first_name,last_name,status,tags\n")
    for i in range(n):
        status = "unsubscribed" if i % 100 == 7 else "subscribed"
        f.write("soak%06d@example.com,First%d,Last%d,%s,t%d\n"
                % (i, i, i, status, i % 7))
        if i % 200 == 3:
            u.write("soak%06d@example.com\n" % i)
PY
skipped=$(( (N + 92) / 100 ))
meisa_unsub=$(( (N + 196) / 200 ))
upserted=$(( N - skipped ))
enrolled=$(( upserted - meisa_unsub ))

"$BIN/meisa-sandbox" --port 0 --port-file "$W/port" --db "$W/sandbox.db" \
	--key "$KEY" --sequence soak=active --unsubscribed "$W/unsub.txt" \
	--rate none --fail-rate 5% --drop-rate 2% --lost-ack-rate 2% \
	--rate-storm "$STORM_AT:10" --seed "$SEED" 2>>"$W/sandbox.log" &
SB=$!
i=0
while [ ! -s "$W/port" ]; do
	i=$((i + 1)); [ $i -lt 200 ] || { cat "$W/sandbox.log"; exit 1; }
	sleep 0.05
done
URL="http://127.0.0.1:$(cat "$W/port")/api/v1"

echo "soak: $N contacts ($upserted to upsert, $skipped unsubscribed at the" \
	"source, $meisa_unsub on Meisa's list), $KILLS SIGKILLs, seed $SEED"

# The k-th random delay before a kill, 0.5 to 9.5 s (awk: seeded, portable).
delay() { awk -v s="$SEED" -v k="$1" 'BEGIN { srand(s * 1000 + k);
	printf "%.1f", 0.5 + 9 * rand() }'; }

# One run in the background; MB is meisa-bulk's pid (under /usr/bin/time).
start_run() { # n
	MEISA_API_KEY=$KEY MEISA_BASE_URL=$URL MEISA_BULK_GIVE_UP_SECONDS=120 \
		/usr/bin/time -f "%M %e" -o "$W/time.$1" \
		"$BIN/meisa-bulk" import -q --yes --db "$W/stage.db" \
		--rate none --concurrency 16 --sequence soak "$W/in.csv" \
		>"$W/out.$1" 2>"$W/err.$1" &
	TIMEPID=$!
	MB=""
	while [ -z "$MB" ]; do
		MB=$(pgrep -P "$TIMEPID" || true)
		[ -n "$MB" ] || kill -0 "$TIMEPID" 2>/dev/null || break
	done
}

# Wait for the run (SIGKILL it after the given seconds, if given), sampling
# its RSS (KiB) once a second into rss.<n>; append "n exit peak" to runs.
finish_run() { # n [seconds before SIGKILL]
	n=$1
	kill_at=""
	[ -z "${2:-}" ] || kill_at=$(( $(now_ms) + $(echo "$2 * 1000 / 1" | bc) ))
	ticks=0
	: > "$W/rss.$n"
	while kill -0 "$TIMEPID" 2>/dev/null; do
		if [ $((ticks % 10)) -eq 0 ] && [ -n "$MB" ]; then
			awk '/^VmRSS/ { print $2 }' "/proc/$MB/status" \
				>>"$W/rss.$n" 2>/dev/null || true
		fi
		if [ -n "$kill_at" ] && [ "$(now_ms)" -ge "$kill_at" ]; then
			kill -9 "$MB" 2>/dev/null || true
			kill_at=""
		fi
		ticks=$((ticks + 1))
		sleep 0.1
	done
	set +e
	wait "$TIMEPID"
	RC=$?
	set -e
	MB=""
	# Killed: "Command terminated by signal 9" comes first; the last line
	# is the format's in both cases.
	peak=$(tail -1 "$W/time.$n" | awk '{ print $1 }')
	echo "$n $RC $peak" >>"$W/runs"
}

t_start=$(now_ms)
k=1
while [ $k -le "$KILLS" ]; do
	d=$(delay $k)
	start_run $k
	finish_run $k "$d"
	r=$(tail -1 "$W/runs" | awk '{ print $2 }')
	printf 'soak: run %2d: SIGKILL after %4ss -> exit %s\n' $k "$d" "$r"
	[ "$r" -eq 0 ] && break
	k=$((k + 1))
done
n=$((KILLS + 1))
while :; do
	start_run $n
	finish_run $n
	r=$(tail -1 "$W/runs" | awk '{ print $2 }')
	printf 'soak: run %2d: to the end -> exit %s\n' $n "$r"
	[ "$r" -eq 0 ] && break
	case $r in 69|75) ;; *) cat "$W/err.$n"; fail "run $n exited $r";; esac
	n=$((n + 1))
	[ $n -le $((KILLS + 10)) ] || fail "no convergence after 10 re-runs"
done
t_end=$(now_ms)

MEISA_API_KEY=$KEY "$BIN/meisa-bulk" status --json --db "$W/stage.db" \
	>"$W/status.json"
kill "$SB"; wait "$SB" 2>/dev/null || true; SB=""

# ---- the sandbox's state must be exactly the expected one
got=$(q "SELECT count(*) FROM contacts")
[ "$got" -eq "$upserted" ] || fail "$got contacts in Meisa, want $upserted"
got=$(q "SELECT count(*) FROM contacts WHERE
	CAST(substr(email, 5, 6) AS INTEGER) % 100 = 7")
[ "$got" -eq 0 ] || fail "$got source-unsubscribed contacts were upserted"
got=$(q "SELECT count(*) FROM contacts WHERE first_name !=
	'First' || CAST(substr(email, 5, 6) AS INTEGER) OR last_name !=
	'Last' || CAST(substr(email, 5, 6) AS INTEGER)")
[ "$got" -eq 0 ] || fail "$got contacts with wrong data"
got=$(q "SELECT count(*) FROM contacts c WHERE NOT EXISTS (SELECT 1 FROM
	contact_tags t WHERE t.contact_id = c.id AND t.name = 't' ||
	(CAST(substr(c.email, 5, 6) AS INTEGER) % 7))")
[ "$got" -eq 0 ] || fail "$got contacts without their tag"
got=$(q "SELECT count(*) FROM enrollments WHERE sequence_slug = 'soak'")
[ "$got" -eq "$enrolled" ] || fail "$got enrollments, want $enrolled"
got=$(q "SELECT count(*) FROM enrollments e WHERE email IN (SELECT email
	FROM unsubscribed) OR CAST(substr(email, 5, 6) AS INTEGER) % 100 = 7
	OR email NOT IN (SELECT email FROM contacts)")
[ "$got" -eq 0 ] || fail "$got suppressed or unknown addresses enrolled"
for f in pending failed; do
	got=$(sed -n "s/.*\"$f\":\([0-9]*\).*/\1/p" "$W/status.json")
	[ "$got" -eq 0 ] || fail "status: $f $got"
done
got=$(sed -n 's/.*"enrolled":\([0-9]*\).*/\1/p' "$W/status.json")
[ "$got" -eq "$enrolled" ] || fail "status: enrolled $got, want $enrolled"

# ---- RSS: bounded, and flat through the longest run
max_peak=$(awk '$3 > m { m = $3 } END { print m + 0 }' "$W/runs")
[ "$max_peak" -le "$RSS_MAX_KB" ] || fail "peak RSS $max_peak KiB > $RSS_MAX_KB"
last=$(tail -1 "$W/runs" | awk '{ print $1 }')
drift=$(awk '{ v[NR] = $1 } END { q = int(NR / 4); if (q < 1) { print 0;
	exit } for (i = 1; i <= q; i++) if (v[i] > a) a = v[i];
	for (i = NR - q + 1; i <= NR; i++) if (v[i] > b) b = v[i];
	print b - a }' "$W/rss.$last")
[ "$drift" -le "$RSS_DRIFT_KB" ] || fail "RSS grew $drift KiB in run $last"

# ---- report
ups=$(q "SELECT count(*) FROM requests WHERE path = '/api/v1/contacts/upsert/'")
enr=$(q "SELECT count(*) FROM requests WHERE path = '/api/v1/sequences/api/bulk-enroll/'")
chunks=$(( (enrolled + 499) / 500 ))
echo "soak: converged in $(( (t_end - t_start) / 1000 )) s over $n runs" \
	"($((n - 1)) stopped: SIGKILL or give-up)"
echo "soak: requests seen by the sandbox: $(q "SELECT count(*) FROM requests")"
q "SELECT '  ' || coalesce(status, 0) || ': ' || count(*) FROM requests
	GROUP BY status ORDER BY status" | sed 's/^  0:/  0 (dropped or lost ack):/'
echo "soak: upserts sent $ups for $upserted contacts: $((ups - upserted)) re-sent"
echo "soak: bulk-enrolls sent $enr for $chunks chunks: $((enr - chunks)) re-sent"
echo "soak: meisa-bulk counted $(sed -n 's/.*"requests":\([0-9]*\).*/\1/p' \
	"$W/status.json") requests (all runs)"
echo "soak: peak RSS per run (KiB):" $(awk '{ print $3 }' "$W/runs")
echo "soak: last run RSS samples: first $(head -1 "$W/rss.$last") KiB," \
	"max $(sort -n "$W/rss.$last" | tail -1) KiB, last" \
	"$(tail -1 "$W/rss.$last") KiB ($(wc -l < "$W/rss.$last") samples)"
echo "soak: OK: exact sandbox state, nothing suppressed enrolled, RSS flat"
