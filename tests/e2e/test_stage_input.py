"""Staging input, end to end: FIFOs, signals, big zips, compressed twice,
and one mailbox under its Unicode spellings (issue 13, items 8, 9, 10, 14).
"""
import gzip
import json
import os
import signal
import subprocess
import sys
import time
import unicodedata
import zipfile

from conftest import MB_BUILD, REPO, staging_query as query, tool_env


def stage(bulk, db, *files, timeout=60):
    return bulk(["stage", "--json", "--db", str(db), *map(str, files)],
                timeout=timeout)


def status(bulk, db):
    r = bulk(["status", "--json", "--db", str(db)])
    assert r.returncode == 0, r.stderr
    return json.loads(r.stdout)


def users(n, first=0):
    return "email,first_name\n" + "".join(
        "u%d@example.com,N%d\n" % (i, i) for i in range(first, first + n))


def test_fifo_input_is_opened_once_and_stages(tmp_path, bulk):
    """Opened twice, the first close SIGPIPEd the writer and the second
    open blocked forever."""
    src = tmp_path / "src.csv"
    src.write_text(users(300))
    fifo = tmp_path / "in.csv"
    os.mkfifo(fifo)
    writer = subprocess.Popen(["sh", "-c", 'cat "$1" > "$2"', "sh",
                               str(src), str(fifo)])
    try:
        r = stage(bulk, tmp_path / "s.db", fifo, timeout=20)
        assert r.returncode == 0, r.stderr
        assert writer.wait(timeout=10) == 0
    finally:
        writer.kill()
        writer.wait()
    st = status(bulk, tmp_path / "s.db")
    assert (st["rows_read"], st["contacts"]) == (300, 300)


def big_file(tmp_path, rows):
    path = tmp_path / "big.csv"
    subprocess.run([sys.executable, os.path.join(REPO, "bench",
                                                 "gen-users.py"),
                    str(rows), str(path)], check=True,
                   stdout=subprocess.DEVNULL)
    return path


def test_sigterm_during_stage_exits_75_and_rerun_resumes(tmp_path, bulk):
    """SIGTERM used to be ignored: the stage ran to its end and exited 0."""
    small = tmp_path / "small.csv"
    small.write_text(users(50, first=10 ** 7))
    big = big_file(tmp_path, 300000)
    db = tmp_path / "s.db"
    proc = subprocess.Popen(
        [os.path.join(MB_BUILD, "meisa-bulk"), "stage", "--db", str(db),
         str(small), str(big)], env=tool_env(),
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    # Wait until the big file is being written (its input row exists).
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        time.sleep(0.05)
        try:
            if query(str(db), "SELECT count(*) FROM inputs")[0][0] >= 1:
                break
        except Exception:
            pass
    time.sleep(0.3)
    assert proc.poll() is None, "the stage ended before the signal"
    sent = time.monotonic()
    proc.send_signal(signal.SIGTERM)
    out, err = proc.communicate(timeout=30)
    took = time.monotonic() - sent
    assert proc.returncode == 75, err
    assert took < 3, took
    assert "signal" in err and "rolled back" in err and "again" in err, err
    assert "AddressSanitizer" not in err
    # The first file is kept, nothing of the big one.
    assert query(str(db), "PRAGMA integrity_check") == [("ok",)]
    assert query(str(db), "SELECT count(*) FROM contacts")[0][0] == 50
    assert query(str(db), "SELECT count(*) FROM inputs")[0][0] == 1
    r = bulk(["stage", "--db", str(db), str(small), str(big)], timeout=300)
    assert r.returncode == 0, r.stderr
    st = status(bulk, db)
    assert st["rows_read"] == 300050
    assert st["rows_read"] == st["rejected"] + st["duplicates"] + \
        st["contacts"]


def test_sighup_during_import_staging_exits_75(tmp_path):
    """import's staging ignored signals too; SIGHUP (a closed terminal)
    stops it like SIGTERM."""
    big = big_file(tmp_path, 200000)
    db = tmp_path / "s.db"
    proc = subprocess.Popen(
        [os.path.join(MB_BUILD, "meisa-bulk"), "import", "--db", str(db),
         "--rate", "none", str(big)],
        env=tool_env({"MEISA_API_KEY": "meisa_test_k",
                      "MEISA_BASE_URL": "http://127.0.0.1:9/api/v1"}),
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    time.sleep(1.0)
    assert proc.poll() is None, proc.communicate()
    sent = time.monotonic()
    proc.send_signal(signal.SIGHUP)
    out, err = proc.communicate(timeout=30)
    assert proc.returncode == 75, err
    assert time.monotonic() - sent < 3
    assert "stopped by a signal" in err and "rolled back" in err, err
    assert query(str(db), "SELECT count(*) FROM contacts")[0][0] == 0


def test_sigterm_while_a_fifo_waits_for_its_writer(tmp_path):
    """A pipe whose writer is silent kept the reader in read(2)."""
    fifo = tmp_path / "in.csv"
    os.mkfifo(fifo)
    writer = subprocess.Popen(
        ["sh", "-c", 'printf "email\na@example.com\n" > "$1" & exec 3>"$1";'
         ' exec sleep 60', "sh", str(fifo)])
    proc = None
    try:
        proc = subprocess.Popen(
            [os.path.join(MB_BUILD, "meisa-bulk"), "stage", "--db",
             str(tmp_path / "s.db"), str(fifo)], env=tool_env(),
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        time.sleep(1.0)
        assert proc.poll() is None, proc.communicate()
        sent = time.monotonic()
        proc.send_signal(signal.SIGTERM)
        out, err = proc.communicate(timeout=10)
        assert proc.returncode == 75, err
        assert time.monotonic() - sent < 2
        assert "rolled back" in err and "again" in err, err
    finally:
        for p in (proc, writer):
            if p:
                p.kill()
                p.wait()


def member_zip(path, n):
    with zipfile.ZipFile(path, "w", zipfile.ZIP_STORED) as z:
        for i in range(n):
            z.writestr("m%05d.csv" % i, "email\nm%d@example.com\n" % i)


def test_zip_of_3000_members_stages_in_seconds(tmp_path, bulk):
    """The archive was re-opened (its central directory parsed again) for
    every member: quadratic."""
    path = tmp_path / "many.zip"
    member_zip(path, 3000)
    start = time.monotonic()
    r = stage(bulk, tmp_path / "s.db", path, timeout=120)
    took = time.monotonic() - start
    assert r.returncode == 0, r.stderr[-2000:]
    assert json.loads(r.stdout)["contacts"] == 3000
    # Release build about 2 s, ASan about 5 s; re-opened per member, the
    # release build took over 40 s.
    assert took < 15, took


def test_zip_with_too_many_members_is_refused(tmp_path, bulk):
    path = tmp_path / "huge.zip"
    member_zip(path, 10001)
    r = stage(bulk, tmp_path / "s.db", path, timeout=60)
    assert r.returncode == 65, r.stderr
    assert "huge.zip" in r.stderr and "10001 members" in r.stderr, r.stderr
    assert "10000" in r.stderr


def test_gzip_inside_gzip_says_compressed_twice(tmp_path, bulk):
    """It read "binary data (NUL bytes)", which sends the user to iconv."""
    path = tmp_path / "twice.csv.gz"
    path.write_bytes(gzip.compress(gzip.compress(users(3).encode())))
    r = stage(bulk, tmp_path / "s.db", path)
    assert r.returncode == 65, r.stderr
    assert "compressed twice" in r.stderr, r.stderr
    assert "gunzip" in r.stderr and "NUL" not in r.stderr, r.stderr


def test_unicode_spellings_of_one_mailbox_are_one_contact(tmp_path, bulk):
    """Only ASCII was lower-cased: four spellings made four contacts."""
    nfc = unicodedata.normalize("NFC", "exämple.com")
    nfd = unicodedata.normalize("NFD", "exämple.com")
    jorg = "jörg@example.org"
    lines = ["email,first_name",
             "user@%s,A" % nfc,
             "user@%s,B" % nfd,
             "user@xn--exmple-cua.com,C",
             "USER@EXÄMPLE.COM,D",
             "%s,E" % unicodedata.normalize("NFC", jorg),
             "%s,F" % unicodedata.normalize("NFD", jorg),
             "bad@xn--a-ecp.com,G"]
    path = tmp_path / "idn.csv"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    r = stage(bulk, tmp_path / "s.db", path)
    assert r.returncode == 0, r.stderr
    db = str(tmp_path / "s.db")
    emails = sorted(e for (e,) in query(db, "SELECT email FROM contacts"))
    assert emails == sorted([unicodedata.normalize("NFC", "user@exämple.com"),
                             unicodedata.normalize("NFC", jorg)])
    body = json.loads(query(db, "SELECT body FROM contacts WHERE email"
                            " LIKE 'user@%'")[0][0])
    assert body["email"] == unicodedata.normalize("NFC", "user@exämple.com")
    st = status(bulk, db)
    assert (st["contacts"], st["duplicates"], st["rejected"]) == (2, 4, 1)
    reason = query(db, "SELECT detail FROM rejects")[0][0]
    assert "domain" in reason, reason


def test_unsubscribed_list_matches_under_the_same_normalisation(
        tmp_path, sandbox_factory, bulk):
    """Meisa's list was matched after lower(trim()) only: an address it
    holds as an A-label, or upper case in NFD, was enrolled."""
    unsub = tmp_path / "unsub.txt"
    unsub.write_text("USER@XN--EXMPLE-CUA.COM\n%s\n" % unicodedata.normalize(
        "NFD", "bob@EXÄMPLE.com"), encoding="utf-8")
    sb = sandbox_factory("--rate", "none", "--key", "meisa_test_k",
                         "--sequence", "onboarding=active",
                         "--unsubscribed", str(unsub))
    path = tmp_path / "in.csv"
    path.write_text("email\nuser@exämple.com\nbob@exämple.com\n"
                    "ok@example.com\n", encoding="utf-8")
    r = bulk(["import", str(path), "--db", str(tmp_path / "s.db"),
              "--sequence", "onboarding", "--rate", "none", "--json"],
             key="meisa_test_k", base_url=sb.url)
    assert r.returncode == 0, r.stderr
    out = json.loads(r.stdout)
    assert (out["contacts"], out["suppressed"]) == (3, 2), out
    sent = [e for c in sb.requests("path = ?",
                                   ("/api/v1/sequences/api/bulk-enroll/",))
            for e in json.loads(c["body"])["emails"]]
    assert sent == ["ok@example.com"]
