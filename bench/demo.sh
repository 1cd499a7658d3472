#!/bin/sh
# make demo: a real import of a provider fixture against a local sandbox.
#
# Starts build/meisa-sandbox on a free port with one active sequence and two
# of the fixture's subscribers already unsubscribed in "Meisa" (so they are
# upserted but never enrolled), imports the Mailchimp fixture
# (the four files of an audience export) with --sequence, prints the summary
# and the status, writes the HTML report (kept: build/demo-report.html) and
# stops the sandbox.  Nothing leaves this machine.
set -eu
BIN=${MB_BUILD:-build}
W=$(mktemp -d /tmp/meisa-demo.XXXXXX)
trap 'kill "$SANDBOX" 2>/dev/null; wait "$SANDBOX" 2>/dev/null; rm -rf "$W"' EXIT INT TERM

printf 'sam+newsletter@example.com\no'"'"'brien@example.org\n' \
	> "$W/unsubscribed.txt"
"$BIN/meisa-sandbox" --port 0 --port-file "$W/port" --db "$W/sandbox.db" \
	--key meisa_test_demo --sequence onboarding=active \
	--unsubscribed "$W/unsubscribed.txt" --rate 20/s 2>"$W/sandbox.log" &
SANDBOX=$!
i=0
while [ ! -s "$W/port" ]; do
	i=$((i + 1)); [ $i -lt 100 ] || { cat "$W/sandbox.log"; exit 1; }
	sleep 0.05
done
export MEISA_BASE_URL="http://127.0.0.1:$(cat "$W/port")/api/v1"
export MEISA_API_KEY=meisa_test_demo

echo "== meisa-sandbox at $MEISA_BASE_URL"
echo "== meisa-bulk ping"
"$BIN/meisa-bulk" ping
echo
# Mailchimp's audience export as it is downloaded: one zip holding a CSV
# per status (fixtures/zip/make-zip.py builds it from fixtures/mailchimp/).
echo "== meisa-bulk import fixtures/zip/mailchimp-audience.zip --sequence onboarding --rate 20/s"
"$BIN/meisa-bulk" import --db "$W/demo.db" --sequence onboarding \
	--rate 20/s --tag migrated-from-mailchimp \
	fixtures/zip/mailchimp-audience.zip
echo
echo "== meisa-bulk status --json"
"$BIN/meisa-bulk" status --json --db "$W/demo.db"
echo
echo "== meisa-bulk export suppressed -o -"
"$BIN/meisa-bulk" export suppressed -o - --db "$W/demo.db"
echo
echo "== what the sandbox received"
sqlite3 "$W/sandbox.db" "SELECT method, path, status, count(*) FROM requests GROUP BY 1, 2, 3"
echo
# The page for the people who own the list; kept (the rest of the demo is
# removed on exit) beside the binaries.
REPORT=$(cd "$BIN" && pwd)/demo-report.html
echo "== meisa-bulk report -o $REPORT"
"$BIN/meisa-bulk" report -o "$REPORT" --db "$W/demo.db"
echo "open it in a browser: file://$REPORT"
