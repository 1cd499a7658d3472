#!/bin/sh
# make bench-scale: staging cost per row from 1 to 10 million contacts.
#
# Generates Mailchimp-style exports (bench/gen-mailchimp.py, ~87 bytes a
# row) of each size in SIZES (default 1, 5 and 10 million rows) and their
# gzip, and stages each into a new staging file, plain and gzip, once
# each (a 10M stage takes minutes: best-of-3 would take the machine for
# an hour).  Reports per size the wall time, the time per row and the
# peak RSS (/usr/bin/time -v), then the ratio per-row(largest) /
# per-row(smallest) (bar <= 1.3x, issue 14) and the largest peak RSS (bar
# <= 64 MB).  Each line carries the load average: the machine is shared.
# The generated files are deleted at the end (10M rows is ~1 GB of CSV).
# The reference for a first stage (<= 1.2x sqlite3 .import) is
# bench-stage.sh.
set -eu
BIN=${MB_BUILD:-build}
SIZES=${SIZES:-1000000 5000000 10000000}
W=$(mktemp -d "${BENCH_DIR:-/tmp}/meisa-bench-scale.XXXXXX")
trap 'rm -rf "$W"' EXIT INT TERM

run() { # label, file: prints "wall_s rss_kb"
	rm -f "$W"/stage.db*
	/usr/bin/time -v -o "$W/time" "$BIN/meisa-bulk" stage -q \
		--db "$W/stage.db" "$2" >/dev/null 2>"$W/err" ||
		{ cat "$W/err" >&2; exit 1; }
	wall=$(sed -n 's/.*Elapsed (wall clock) time (h:mm:ss or m:ss): //p' \
		"$W/time" | awk -F: '{ s = 0; for (i = 1; i <= NF; i++)
			s = s * 60 + $i; print s }')
	rss=$(sed -n 's/.*Maximum resident set size (kbytes): //p' "$W/time")
	echo "$wall $rss"
}

echo "bench-scale: meisa-bulk stage into a new staging file, by size"
printf '  %-9s %-5s %9s %12s %12s  %s\n' rows kind wall "us/row" \
	"peak RSS KB" load
first=""; last=""; max_rss=0
for n in $SIZES; do
	/usr/bin/python3 bench/gen-mailchimp.py "$n" "$W/in.csv" >/dev/null
	gzip -c -6 "$W/in.csv" > "$W/in.csv.gz"
	for kind in plain gzip; do
		f="$W/in.csv"; [ "$kind" = plain ] || f="$W/in.csv.gz"
		r=$(run "$kind" "$f")
		t=${r% *}; rss=${r#* }
		per=$(echo "scale=3; $t * 1000000 / $n" | bc)
		printf '  %-9s %-5s %8ss %12s %12s  %s\n' "$n" "$kind" "$t" \
			"$per" "$rss" "$(cut -d' ' -f1 /proc/loadavg)"
		[ "$rss" -le "$max_rss" ] || max_rss=$rss
		if [ "$kind" = gzip ]; then
			[ -n "$first" ] || first=$per
			last=$per
		fi
	done
	rm -f "$W"/in.csv "$W"/in.csv.gz "$W"/stage.db*
done
ratio=$(echo "scale=2; $last / $first" | bc)
echo "  per-row ratio, largest / smallest size (gzip): ${ratio}x" \
	"(bar <= 1.3x); peak RSS at most ${max_rss} KB (bar <= 65536 KB)"
