#!/bin/sh
# make bench-stage: staging speed and memory against sqlite3's .import.
#
# Generates a 1,000,000-row Mailchimp-style export (9 columns, ~89 MB) and
# its gzip, then in the same run times:
#   A. meisa-bulk stage FILE.csv.gz          (gunzip, parse, validate, map,
#                                              dedupe, canonical bodies)
#   B. sqlite3 :memory: ".import --csv FILE.csv t"  (unindexed table)
# and reports both, their ratio, rows/s and peak RSS, plus the peak RSS of a
# 100,000-row stage.  Bars (issue 2): A <= 1.5 x B; RSS < 64 MB and within
# 1.5 x of the 100k run.
set -eu
BIN=${MB_BUILD:-build}
W=${BENCH_DIR:-/tmp/meisa-bench-stage}
ROWS=${ROWS:-1000000}
mkdir -p "$W"
gen() { [ -f "$2" ] || /usr/bin/python3 bench/gen-mailchimp.py "$1" "$2"; }
gen "$ROWS" "$W/big.csv"
gen 100000 "$W/small.csv"
[ -f "$W/big.csv.gz" ] || gzip -k -6 "$W/big.csv"
[ -f "$W/small.csv.gz" ] || gzip -k -6 "$W/small.csv"

measure() { # label, command...: prints "seconds rss_kb" (CPU s aside)
	label=$1; shift
	/usr/bin/time -f "%e %M %U %S" -o "$W/time.$label" "$@" >/dev/null 2>"$W/err.$label" ||
		{ cat "$W/err.$label" >&2; exit 1; }
	read -r t rss u sy < "$W/time.$label"
	echo "$u + $sy" | bc > "$W/cpu.$label"
	echo "$t $rss"
}

best() { # label, repeats, command...: the fastest of N runs
	label=$1; n=$2; shift 2; bt=""; br=""
	i=0
	while [ $i -lt "$n" ]; do
		rm -f "$W"/stage.db*
		set -- "$@"
		r=$(measure "$label" "$@")
		t=${r% *}; rss=${r#* }
		if [ -z "$bt" ] || [ "$(echo "$t < $bt" | bc)" = 1 ]; then
			bt=$t; br=$rss; cp "$W/cpu.$label" "$W/bestcpu.$label"
		fi
		i=$((i + 1))
	done
	echo "$bt $br"
}

size=$(stat -c %s "$W/big.csv")
gzsize=$(stat -c %s "$W/big.csv.gz")
S=$(best stage 3 "$BIN/meisa-bulk" stage -q --db "$W/stage.db" "$W/big.csv.gz")
I=$(best import 3 sqlite3 :memory: ".import --csv $W/big.csv t")
s_t=${S% *}; s_rss=${S#* }; i_t=${I% *}; i_rss=${I#* }
rm -f "$W"/stage.db*
SM=$(measure small "$BIN/meisa-bulk" stage -q --db "$W/stage.db" "$W/small.csv.gz")
sm_rss=${SM#* }
rm -f "$W"/stage.db*

ratio=$(echo "scale=2; $s_t / $i_t" | bc)
rss_ratio=$(echo "scale=2; $s_rss / $sm_rss" | bc)
rows_s=$(echo "$ROWS / $s_t" | bc)
echo "bench-stage: $ROWS rows, $size bytes plain, $gzsize bytes gzip (best of 3)"
printf '  %-44s %6ss  %7s KB peak RSS\n' \
	"meisa-bulk stage (gzip)" "$s_t" "$s_rss" \
	"sqlite3 .import --csv (plain, no index)" "$i_t" "$i_rss"
echo "  ratio stage/import: ${ratio}x (bar <= 1.5x); ${rows_s} rows/s"
s_cpu=$(cat "$W/bestcpu.stage"); i_cpu=$(cat "$W/bestcpu.import")
echo "  CPU (user+sys): stage ${s_cpu}s on 2 threads, import ${i_cpu}s on 1;" \
	"ratio $(echo "scale=2; $s_cpu / $i_cpu" | bc)x" \
	"(the wall ratio needs the second core free; load: $(cut -d' ' -f1 /proc/loadavg))"
echo "  peak RSS: ${s_rss} KB at ${ROWS} rows, ${sm_rss} KB at 100000 rows" \
	"(ratio ${rss_ratio}x; bars < 65536 KB and <= 1.5x)"
