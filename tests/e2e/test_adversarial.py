"""Adversarial inputs and hostile answers, end to end.

Each input case runs the real meisa-bulk (from MB_BUILD) on a file of
fixtures/bad/ -- the small ones are committed, the big ones are written by
fixtures/bad/generate.py into a temporary directory once per session -- and
asserts a clear error or a per-row reject, never a crash or a hang (every
run has a timeout), and bounded memory: the peak RSS of the meisa-bulk
process itself (see RUSAGE_WRAPPER) stays under RSS_LIMIT_MB.  Under ASan the
quarantine keeps up to 256 MB of freed memory on purpose, which is not the
program's memory use, so measured runs turn it off; leak detection stays on.

Hostile answers come from a raw socket server that sends scripted bytes:
a folded header after a 503 (a use-after-free in libcurl 7.88's reused
handles) and formula text in Meisa's error bodies, which the results export
must neutralise.

The fuzz regression inputs in fixtures/fuzz/<target>/ are replayed with the
replay runners make builds next to meisa-bulk (MB_BUILD/fuzz/<target>).
"""
import csv
import json
import os
import shutil
import signal
import socket
import sqlite3
import subprocess
import tempfile
import threading
import time
import zlib

import pytest

from conftest import CLOSED_URL, DEFAULT_KEY, MB_BUILD, REPO, tool_env

BAD = os.path.join(REPO, "fixtures", "bad")
FUZZ_FIXTURES = os.path.join(REPO, "fixtures", "fuzz")
PYTHON = "/usr/bin/python3"
# Under make check-valgrind the RSS is valgrind's: only errors count there.
RSS_LIMIT_MB = float("inf") if os.environ.get("MB_VALGRIND") else 100
# Under valgrind (make check-valgrind) runs are tens of times slower: the
# time bars below are for native runs.
SLOW = 30 if os.environ.get("MB_VALGRIND") else 1
MIB = 1 << 20


class Result:
    """What `measured` returns: returncode, stdout, stderr, rss_mb, seconds."""

    def __init__(self, returncode, stdout, stderr, rss_mb, seconds):
        self.returncode = returncode
        self.stdout = stdout
        self.stderr = stderr
        self.rss_mb = rss_mb
        self.seconds = seconds

    def __repr__(self):
        return "<Result rc=%d rss=%.1f MB %.1f s\n%s>" % (
            self.returncode, self.rss_mb, self.seconds, self.stderr[-2000:])


# Runs the program and writes its peak RSS (KiB) and wait status to a file.
# A child forked straight from pytest would inherit pytest's own peak RSS
# (Linux keeps the pre-exec high-water mark in ru_maxrss): this small
# process in between has a small one.
RUSAGE_WRAPPER = """
import os, sys
pid = os.fork()
if pid == 0:
    os.execv(sys.argv[2], sys.argv[2:])
_, status, usage = os.wait4(pid, 0)
with open(sys.argv[1], "w") as f:
    f.write("%d %d" % (usage.ru_maxrss, status))
sys.exit(os.waitstatus_to_exitcode(status) & 255)
"""


def measured(args, cwd=None, timeout=120, env=None, key=DEFAULT_KEY,
             base_url=None, binary="meisa-bulk"):
    """Run MB_BUILD/<binary> with args, measuring its peak RSS."""
    extra = {"MEISA_API_KEY": key, "MEISA_BASE_URL": base_url or CLOSED_URL}
    extra.update(env or {})
    environ = tool_env(extra)
    # The quarantine is ASan's, not ours: measure the program.
    environ["ASAN_OPTIONS"] = environ["ASAN_OPTIONS"] + ":quarantine_size_mb=0"
    fd, report = tempfile.mkstemp(prefix="rusage.")
    os.close(fd)
    start = time.monotonic()
    proc = subprocess.Popen(
        [PYTHON, "-c", RUSAGE_WRAPPER, report,
         os.path.join(MB_BUILD, binary)] + [str(a) for a in args],
        cwd=cwd, env=environ, stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE, stderr=subprocess.PIPE,
        start_new_session=True)
    try:
        out, err = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.communicate()
        os.unlink(report)
        raise AssertionError("killed after %d s: %s" % (timeout, args))
    seconds = time.monotonic() - start
    with open(report) as f:
        rss_kib, status = (int(v) for v in f.read().split())
    os.unlink(report)
    return Result(os.waitstatus_to_exitcode(status),
                  out.decode("utf-8", "replace"),
                  err.decode("utf-8", "replace"), rss_kib / 1024, seconds)


def assert_sane(res):
    """No crash, no sanitizer report, memory bounded."""
    assert res.returncode >= 0, "killed by signal %d" % -res.returncode
    for marker in ("ERROR: AddressSanitizer", "runtime error:",
                   "ERROR: LeakSanitizer", "Segmentation fault"):
        assert marker not in res.stderr, res
    assert res.rss_mb < RSS_LIMIT_MB, res


def stage(tmp_path, *files, timeout=120, cwd=None):
    db = str(tmp_path / "staging.db")
    res = measured(["stage", "--db", db] + [str(f) for f in files],
                   timeout=timeout, cwd=cwd)
    assert_sane(res)
    return res


def status(tmp_path):
    res = measured(["status", "--json", "--db", str(tmp_path / "staging.db")])
    assert res.returncode == 0, res
    return json.loads(res.stdout)


def export(tmp_path, what):
    """Rows of `export WHAT` as lists of cells (header first)."""
    out = tmp_path / ("%s.csv" % what)
    res = measured(["export", what, "--db", str(tmp_path / "staging.db"),
                    "-o", str(out)])
    assert res.returncode == 0, res
    with open(out, newline="", encoding="utf-8") as f:
        return list(csv.reader(f))


def rejects(tmp_path):
    """(line, email, reason, detail) of every reject, by line."""
    rows = export(tmp_path, "rejects")
    head = rows[0]
    found = [dict(zip(head, r)) for r in rows[1:]]
    return sorted((int(r["line"]), r["email"], r["reason"], r["detail"])
                  for r in found)


def bodies(tmp_path):
    con = sqlite3.connect(str(tmp_path / "staging.db"))
    try:
        return {e: json.loads(b) for e, b in
                con.execute("SELECT email, body FROM contacts")}
    finally:
        con.close()


@pytest.fixture(scope="session")
def generated(tmp_path_factory):
    """Path of a file written by fixtures/bad/generate.py (once a session)."""
    out = tmp_path_factory.mktemp("bad")
    made = {}

    def get(name):
        if name not in made:
            subprocess.run([PYTHON, os.path.join(BAD, "generate.py"),
                            str(out), name], check=True,
                           stdout=subprocess.DEVNULL)
            made[name] = str(out / name)
        return made[name]

    return get


def counts(tmp_path):
    s = status(tmp_path)
    return (s["rows_read"], s["rejected"], s["duplicates"], s["contacts"])


# ---------------------------------------------------------------- inputs


def test_1mb_field_at_the_limit_is_kept_one_byte_more_is_a_reject(
        tmp_path, generated):
    res = stage(tmp_path, generated("field_1mb.csv"))
    assert res.returncode == 0, res
    assert counts(tmp_path) == (3, 1, 0, 2)
    assert rejects(tmp_path) == [
        (3, "", "csv_error", "field longer than 1048576 bytes")]
    notes = bodies(tmp_path)["big@example.com"]["custom_fields"]["notes"]
    assert notes == "x" * MIB


def test_100000_columns_in_the_header_refuse_the_file(tmp_path, generated):
    path = generated("columns_100k.csv")
    res = stage(tmp_path, path)
    assert res.returncode == 65, res
    assert ("'%s' line 1: cannot read the header row: more than 10000"
            " fields" % path) in res.stderr, res
    assert counts(tmp_path) == (0, 0, 0, 0)


def test_100000_fields_in_a_row_reject_that_row(tmp_path, generated):
    res = stage(tmp_path, generated("row_100k_fields.csv"))
    assert res.returncode == 0, res
    assert rejects(tmp_path) == [(2, "", "csv_error",
                                  "more than 10000 fields")]
    assert set(bodies(tmp_path)) == {"ok@example.com"}


def test_a_nul_byte_at_the_start_rejects_its_row_not_the_file(tmp_path):
    """Binary by content (issue 15): one NUL refused the whole file."""
    res = stage(tmp_path, os.path.join(BAD, "nul_early.csv"))
    assert res.returncode == 0, res
    assert rejects(tmp_path) == [(2, "a@example.com", "invalid_utf8",
                                  "column 'name' is not valid UTF-8")]


def test_utf16_with_a_bom_is_transcoded(tmp_path):
    res = stage(tmp_path, os.path.join(BAD, "utf16_bom.csv"))
    assert res.returncode == 0, res
    assert set(bodies(tmp_path)) == {"a@example.com"}


def test_a_nul_byte_later_rejects_its_row(tmp_path):
    res = stage(tmp_path, os.path.join(BAD, "nul_late.csv"))
    assert res.returncode == 0, res
    assert counts(tmp_path) == (402, 1, 0, 401)
    assert rejects(tmp_path) == [(402, "nul@example.com", "invalid_utf8",
                                  "column 'name' is not valid UTF-8")]


def test_invalid_utf8_rejects_the_row_naming_the_column(tmp_path):
    res = stage(tmp_path, os.path.join(BAD, "invalid_utf8.csv"))
    assert res.returncode == 0, res
    name = "column 'name' is not valid UTF-8"
    assert rejects(tmp_path) == [
        (3, "stray@example.com", "invalid_utf8", name),
        (4, "cut@example.com", "invalid_utf8", name),
        (5, "surrogate@example.com", "invalid_utf8", name),
        # The address itself is not UTF-8: it is not echoed back.
        (6, "", "invalid_utf8", "column 'email' is not valid UTF-8"),
    ]
    assert set(bodies(tmp_path)) == {"ok@example.com", "last@example.com"}
    assert bodies(tmp_path)["ok@example.com"]["display_name"] == "Zo\u00eb"


def test_overlong_utf8_is_invalid(tmp_path):
    res = stage(tmp_path, os.path.join(BAD, "overlong_utf8.csv"))
    assert res.returncode == 0, res
    name = "column 'name' is not valid UTF-8"
    assert rejects(tmp_path) == [
        (2, "slash@example.com", "invalid_utf8", name),
        (3, "", "invalid_utf8", "column 'email' is not valid UTF-8"),
        (4, "nul3@example.com", "invalid_utf8", name),
        (5, "four@example.com", "invalid_utf8", name),
    ]
    assert set(bodies(tmp_path)) == {"fine@example.com"}


@pytest.mark.parametrize("name, message", [
    ("utf16le_nobom.csv", "looks like UTF-16LE without a byte order mark:"
     " stage it with --encoding UTF-16LE"),
    ("binary.csv", "is binary data, not CSV"),
    ("zip_as.csv", "is a zip archive with no CSV file in it: it is an"
     " Excel workbook (.xlsx); save it as CSV (UTF-8) and stage that"),
    ("empty.csv", "is empty: no header row"),
])
def test_files_that_are_not_csv_are_refused_saying_why(tmp_path, name,
                                                       message):
    path = os.path.join(BAD, name)
    res = stage(tmp_path, path)
    assert res.returncode == 65, res
    assert "'%s' %s" % (path, message) in res.stderr, res
    assert "1 of 1 files could not be staged" in res.stderr, res
    assert counts(tmp_path) == (0, 0, 0, 0)


@pytest.mark.parametrize("quiet", [[], ["-q"]], ids=["plain", "quiet"])
def test_quiet_still_says_why_a_file_was_refused(tmp_path, quiet):
    # A refusal is an error (cron mails it), with -q or not; the file after
    # it is staged and its own warning (staged before) follows -q.
    zipped = os.path.join(BAD, "zip_as.csv")
    good = os.path.join(BAD, "header_only.csv")
    db = str(tmp_path / "staging.db")
    assert_sane(measured(["stage", "--db", db, good]))
    res = measured(["stage"] + quiet + ["--db", db, zipped, good])
    assert_sane(res)
    assert res.returncode == 65, res
    lines = res.stderr.splitlines()
    assert lines[0].startswith(
        "meisa-bulk: error: '%s' is a zip archive" % zipped), res
    assert lines[-1] == "meisa-bulk: error: 1 of 2 files could not be" \
        " staged", res
    skipped = "meisa-bulk: warning: '%s' was staged before" % good
    assert any(line.startswith(skipped) for line in lines) != bool(quiet), \
        res
    assert len(lines) == (2 if quiet else 3), res


def test_a_refused_file_does_not_stop_the_others(tmp_path):
    res = stage(tmp_path, os.path.join(BAD, "zip_as.csv"),
                os.path.join(BAD, "nul_late.csv"))
    assert res.returncode == 65, res
    assert counts(tmp_path) == (402, 1, 0, 401)


def test_header_only_file_stages_nothing_and_is_fine(tmp_path):
    res = stage(tmp_path, os.path.join(BAD, "header_only.csv"))
    assert res.returncode == 0, res
    assert counts(tmp_path) == (0, 0, 0, 0)


def test_duplicate_header_names_get_distinct_keys(tmp_path):
    res = stage(tmp_path, os.path.join(BAD, "duplicate_headers.csv"))
    assert res.returncode == 0, res
    assert bodies(tmp_path) == {"dup@example.com": {
        "email": "dup@example.com", "display_name": "One",
        "source": "import", "custom_fields": {
            "email": "other@example.com", "name": "Two", "name_2": "Three",
            "notes": "n1", "notes_2": "n2"}}}


def test_10000_duplicate_header_names_stage_quickly(tmp_path, generated):
    res = stage(tmp_path, generated("many_duplicate_headers.csv"),
                timeout=5)
    assert res.returncode == 0, res
    custom = bodies(tmp_path)["dup@example.com"]["custom_fields"]
    assert len(custom) == 9999
    assert custom["x"] == 1 and custom["x_9999"] == 1


def test_duplicates_of_a_wide_row_merge_in_linear_time(tmp_path):
    # json_patch merged custom_fields key by key, quadratic: 30 rows of
    # one address with 10,000 columns took 5.5 s (30 distinct: 0.05 s).
    cols = 10000
    values = ",".join(str(i) for i in range(cols - 1))
    src = tmp_path / "wide.csv"
    later = ",".join("" if i % 2 else "x%d" % i for i in range(cols - 1))
    src.write_text("email," + ",".join("c%d" % i for i in range(cols - 1))
                   + "\n" + ("same@example.com," + values + "\n") * 29
                   + "same@example.com," + later + "\n")
    res = stage(tmp_path, src, timeout=5 * SLOW)
    assert res.returncode == 0, res
    assert counts(tmp_path) == (30, 0, 29, 1)
    assert res.seconds < 3 * SLOW, res
    # Later non-empty cells win, empty ones keep the earlier value.
    custom = bodies(tmp_path)["same@example.com"]["custom_fields"]
    assert len(custom) == cols - 1
    assert custom["c0"] == "x0" and custom["c1"] == 1
    assert custom["c9998"] == "x9998" and custom["c9997"] == 9997


def test_unbalanced_quote_at_end_of_file_is_damage_after_the_rows_before(
        tmp_path):
    # The quote opened on line 3 swallows the rest of the file: the file
    # was cut or is broken, an error (issue 16), the row before it staged.
    res = stage(tmp_path, os.path.join(BAD, "unbalanced_quote.csv"))
    assert res.returncode == 65, res
    assert "ends inside a quoted field that begins on line 3" in res.stderr
    assert counts(tmp_path) == (1, 0, 0, 1)
    assert rejects(tmp_path) == []


def test_10_million_character_lines_are_rejects_in_flat_memory(
        tmp_path, generated):
    res = stage(tmp_path, generated("line_10m.csv"))
    assert res.returncode == 0, res
    assert rejects(tmp_path) == [
        (2, "", "csv_error", "field longer than 1048576 bytes"),
        (3, "", "csv_error", "more than 10000 fields"),
    ]
    assert set(bodies(tmp_path)) == {"fine@example.com"}


def test_gzip_bomb_is_refused_quickly_keeping_the_rows_before(
        tmp_path, generated):
    path = generated("bomb.csv.gz")
    assert os.path.getsize(path) < MIB
    res = stage(tmp_path, path, timeout=60)
    assert ("'%s' inflates" % path) in res.stderr, res
    assert "refusing it as a likely gzip bomb (if it really is an export," \
        " gunzip it and stage the plain file)" in res.stderr, res
    # Inflating all 256 MiB would take seconds more: it stopped at 64.
    assert res.seconds < 20, res
    assert set(bodies(tmp_path)) == {"first@example.com"}


def test_gzip_bomb_before_any_row_refuses_the_file(tmp_path):
    z = zlib.compressobj(9, zlib.DEFLATED, 16 + 15)
    data = z.compress(b"email,name\n") + z.compress(b"\n" * (80 * MIB))
    path = tmp_path / "bomb_only.csv.gz"
    path.write_bytes(data + z.flush())
    res = stage(tmp_path, path)
    assert res.returncode == 65, res
    assert "likely gzip bomb" in res.stderr, res


# ------------------------------------------------- formulas in the exports

FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def assert_neutralised(rows):
    for row in rows:
        for cell in row:
            assert not cell.startswith(FORMULA_START), (cell, row)


def test_exports_neutralise_formula_cells(tmp_path):
    # A file whose very name starts with "=": it is the rejects' source.
    shutil.copy(os.path.join(BAD, "formula_cells.csv"),
                tmp_path / "=formula.csv")
    res = stage(tmp_path, "=formula.csv", cwd=str(tmp_path))
    assert res.returncode == 0, res
    rows = export(tmp_path, "rejects")
    assert_neutralised(rows)
    assert rows[1][:3] == ["'=formula.csv", "7", "'@at@example.com"]
    results = export(tmp_path, "results")
    assert_neutralised(results)
    by_email = {r[0]: r[1] for r in results[1:]}
    assert by_email == {"eq@example.com": "'=1+1",
                        "minus@example.com": "'+id",
                        "'=bad@example.com": "'-id",
                        "'+1@example.com": "'@id",
                        "'-dash@example.com": ""}
    # The staged data itself is kept as it was: only the exports change.
    assert bodies(tmp_path)["eq@example.com"]["last_name"] == "+SUM(1;2)"


# ------------------------------------------------------- hostile answers


class RawServer:
    """Answers each request with the next scripted bytes (the last one
    repeats), then closes the connection.  Records request heads."""

    def __init__(self, responses):
        self.responses = [r if isinstance(r, bytes) else r.encode()
                          for r in responses]
        self.requests = []
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(16)
        self.sock.settimeout(0.2)
        self.url = "http://127.0.0.1:%d/api/v1" % self.sock.getsockname()[1]
        self.done = False
        self.thread = threading.Thread(target=self.serve, daemon=True)
        self.thread.start()

    def serve(self):
        while not self.done:
            try:
                conn, _ = self.sock.accept()
            except socket.timeout:
                continue
            with conn:
                conn.settimeout(5)
                head = b""
                try:
                    while b"\r\n\r\n" not in head:
                        chunk = conn.recv(65536)
                        if not chunk:
                            break
                        head += chunk
                    length = 0
                    for line in head.split(b"\r\n"):
                        if line.lower().startswith(b"content-length:"):
                            length = int(line.split(b":")[1])
                    body = head.split(b"\r\n\r\n", 1)[-1]
                    while len(body) < length:
                        chunk = conn.recv(65536)
                        if not chunk:
                            break
                        body += chunk
                except OSError:
                    continue
                if not head:
                    continue
                i = min(len(self.requests), len(self.responses) - 1)
                self.requests.append(head.split(b"\r\n", 1)[0].decode())
                conn.sendall(self.responses[i])
                conn.shutdown(socket.SHUT_WR)

    def close(self):
        self.done = True
        self.thread.join()
        self.sock.close()


def http(status, body, headers=()):
    body = body.encode() if isinstance(body, str) else body
    head = ["HTTP/1.1 %d X" % status, "Content-Type: application/json",
            "Content-Length: %d" % len(body)] + list(headers)
    return ("\r\n".join(head) + "\r\n\r\n").encode() + body


PING = ('{"status":"ok","environment":"test","scopes":["contacts:read",'
        '"contacts:write","sequences:read","sequences:enroll"]}')


@pytest.fixture
def raw_server():
    servers = []

    def start(*responses):
        servers.append(RawServer(responses))
        return servers[-1]

    yield start
    for s in servers:
        s.close()


def test_folded_header_after_a_retry_does_not_crash(raw_server):
    """Regression: libcurl 7.88 follows a freed pointer when a reused handle
    gets a response whose first header line is folded (curl #11101)."""
    srv = raw_server(
        http(503, "{}"),
        b"HTTP/1.1 200 OK\r\n\tX-Folded: yes\r\nContent-Length: %d\r\n\r\n%s"
        % (len(PING), PING.encode()),
        http(200, PING))
    res = measured(["ping"], base_url=srv.url, timeout=60)
    assert_sane(res)
    assert res.returncode == 0, res
    assert len(srv.requests) >= 3


def test_formula_text_in_meisa_errors_is_neutralised(tmp_path, raw_server):
    csv_path = tmp_path / "one.csv"
    csv_path.write_text("email,first_name\nann@example.com,Ann\n")
    res = stage(tmp_path, csv_path)
    assert res.returncode == 0, res
    srv = raw_server(
        http(200, PING),
        http(200, '{"as_of":"2026-01-01T00:00:00Z","count":0,"emails":[]}'),
        http(422, '=HYPERLINK("http://x.example/","click") is invalid'))
    res = measured(["push", "--db", str(tmp_path / "staging.db"), "--yes",
                    "--rate", "none"], base_url=srv.url, timeout=60)
    assert_sane(res)
    assert res.returncode == 1, res
    results = export(tmp_path, "results")
    assert_neutralised(results)
    head = results[0]
    row = dict(zip(head, results[1]))
    assert row["state"] == "failed" and row["http_status"] == "422"
    assert row["error"].startswith("'=HYPERLINK("), row


# ------------------------------------------------------ concurrent runs


def test_a_reader_does_not_lock_out_a_run(tmp_path):
    src = tmp_path / "in.csv"
    src.write_text("email\n" + "".join("reader%05d@example.com\n" % i
                                       for i in range(5000)))
    res = stage(tmp_path, src)
    assert res.returncode == 0, res
    # An export to a pipe nobody reads blocks once the pipe is full: a
    # reader that stays, deterministically, like a slow export or a
    # dashboard polling status.
    reader = subprocess.Popen(
        [os.path.join(MB_BUILD, "meisa-bulk"), "export", "results", "--db",
         str(tmp_path / "staging.db"), "-o", "-"],
        env=tool_env(), stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
    try:
        time.sleep(1)
        assert reader.poll() is None
        res = measured(["push", "--db", str(tmp_path / "staging.db"),
                        "--yes"], env={"MEISA_BULK_GIVE_UP_SECONDS": "1"})
        assert_sane(res)
        assert "in use by another meisa-bulk run" not in res.stderr, res
        assert res.returncode == 69, res   # the API is down, not locked
    finally:
        reader.kill()
        reader.communicate()


# ---------------------------------------------------- fuzz regressions


def fuzz_targets():
    """Every libFuzzer target in fuzz/, whether it has inputs or not."""
    return sorted(name[:-2] for name in os.listdir(os.path.join(REPO, "fuzz"))
                  if name.startswith("fuzz_") and name.endswith(".c"))


@pytest.mark.parametrize("target", fuzz_targets())
def test_fuzz_regressions_replay_cleanly(target):
    runner = os.path.join(MB_BUILD, "fuzz", target)
    assert os.path.exists(runner), (
        "%s is missing: make builds it with the e2e tests (make fuzz-replay)"
        % runner)
    inputs = os.path.join(FUZZ_FIXTURES, target)
    # A target without regression inputs would replay nothing, silently.
    assert os.path.isdir(inputs) and os.listdir(inputs), (
        "%s has no regression inputs in fixtures/fuzz/%s/" % (target, target))
    res = subprocess.run([runner, "-v", inputs], env=tool_env(),
                         capture_output=True, text=True, timeout=300)
    assert res.returncode == 0, res.stderr[-4000:]
    assert "ERROR:" not in res.stderr, res.stderr[-4000:]
    assert "replayed %d inputs" % len(os.listdir(inputs)) in res.stdout
