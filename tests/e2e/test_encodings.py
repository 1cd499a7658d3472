"""Encodings, binary by content and standard input, end to end (issue 15,
items 1, 2, 3): Excel's "Unicode Text" and Windows-1252 exports, a NUL byte
near the top, `-` as an input (plain, gzip, piped twice, a zip refused) and
`import -` without a terminal.
"""
import gzip
import hashlib
import io
import json
import os
import subprocess
import zipfile

from conftest import (DEFAULT_KEY, MB_BUILD, REPO, staging_rows as query,
                      tool_env)

UPSERT = "/api/v1/contacts/upsert/"
FIX = os.path.join(REPO, "fixtures", "encodings")
BULK = os.path.join(MB_BUILD, "meisa-bulk")


def run(args, stdin=b"", env=None):
    """meisa-bulk with stdin bytes (a pipe, never a terminal)."""
    return subprocess.run([BULK] + [str(a) for a in args], input=stdin,
                          env=tool_env(env), capture_output=True, timeout=60)


def stage(db, *args, stdin=b""):
    return run(["stage", "--db", db, "-q"] + list(args), stdin=stdin)


def bodies(db):
    return {r["email"]: json.loads(r["body"])
            for r in query(db, "SELECT email, body FROM contacts")}


def rejects(db):
    return [(r["line"], r["email"], r["reason"]) for r in
            query(db, "SELECT line, email, reason FROM rejects ORDER BY"
                  " line")]


def inputs(db):
    return [tuple(r.values()) for r in query(
        db, "SELECT path, kind, delimiter, rows_read, size, sha256 FROM"
        " inputs ORDER BY id")]


def sha256(data):
    return hashlib.sha256(data).hexdigest()


def users(n):
    return ("email,name\n" + "".join("u%d@example.com,User %d\n" % (i, i)
                                     for i in range(n))).encode()


def test_excel_unicode_text_utf16le_tab_separated_is_transcoded(tmp_path):
    """Refused before: "is UTF-16: convert it first with iconv"."""
    db = tmp_path / "s.db"
    path = os.path.join(FIX, "excel-unicode-text.txt")
    r = stage(db, path)
    assert r.returncode == 0, r.stderr
    b = bodies(db)
    assert b["jose@example.com"]["last_name"] == "Núñez"
    assert b["hiro@example.com"]["first_name"] == "博"
    assert b["hiro@example.com"]["custom_fields"] == {"city": "東京"}
    assert b["emoji@example.com"]["first_name"] == "Ana 😀"
    # Line numbers are the original file's.
    assert rejects(db) == [(4, "not-an-address", "invalid_email")]
    with open(path, "rb") as f:
        raw = f.read()
    # The fingerprint is of the original (UTF-16) bytes.
    assert inputs(db) == [(path, "plain+utf-16le", "\t", 5, len(raw),
                           sha256(raw))]


def test_windows_1252_refused_with_the_hint_then_staged_with_it(tmp_path):
    db = tmp_path / "s.db"
    path = os.path.join(FIX, "windows-1252.csv")
    r = stage(db, path)
    assert r.returncode == 65
    assert ("'%s' is not UTF-8: line 2 has byte 0xFC at offset 54, where"
            " UTF-8 cannot have it; its bytes read as Windows-1252 (0xFC is"
            " 'ü'): stage it with --encoding windows-1252" % path
            ) in r.stderr.decode()
    assert query(db, "SELECT count(*) AS n FROM contacts")[0]["n"] == 0
    r = stage(db, path, "--encoding", "windows-1252")
    assert r.returncode == 0, r.stderr
    b = bodies(db)
    assert b["ana@example.com"]["last_name"] == "Müller"
    assert b["jose@example.com"]["custom_fields"] == {"note": "“VIP” €5"}
    assert b["bjorn@example.com"]["last_name"] == "Ødegård"
    assert b["zoe@example.com"]["custom_fields"] == {"note": "œuvre"}
    assert rejects(db) == [(5, "broken.example.com", "invalid_email")]
    assert inputs(db)[0][1] == "plain+windows-1252"


def test_unknown_encoding_is_a_usage_error(tmp_path):
    r = stage(tmp_path / "s.db", os.path.join(FIX, "windows-1252.csv"),
              "--encoding", "klingon")
    assert r.returncode == 64
    assert "unknown encoding 'klingon'" in r.stderr.decode()


def test_one_nul_row_near_the_top_rejects_only_that_row(tmp_path):
    """A NUL in the first 8 KiB refused the whole file as binary."""
    db = tmp_path / "s.db"
    r = stage(db, os.path.join(FIX, "nul-near-top.csv"))
    assert r.returncode == 0, r.stderr
    assert rejects(db) == [(3, "nul@example.com", "invalid_utf8")]
    assert len(bodies(db)) == 201


def test_binary_by_content_is_still_refused(tmp_path):
    db = tmp_path / "s.db"
    pdf = tmp_path / "report.csv"
    pdf.write_bytes(b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n1 0 obj\n")
    noise = tmp_path / "noise.csv"
    noise.write_bytes(bytes(range(256)) * 64)
    r = stage(db, pdf, noise)
    err = r.stderr.decode()
    assert r.returncode == 65
    assert "'%s' is binary data, not CSV (a PDF document)" % pdf in err
    assert "'%s' is binary data, not CSV (" % noise in err
    assert "NUL or control bytes)" in err


def test_stdin_plain_and_gzip_named_stdin(tmp_path):
    """`stage -` said "cannot open '-'"."""
    data = users(300) + b"bad-address,Bad\n"
    for name, piped in (("plain", data), ("gzip", gzip.compress(data))):
        db = tmp_path / ("%s.db" % name)
        r = stage(db, "-", stdin=piped)
        assert r.returncode == 0, r.stderr
        assert len(bodies(db)) == 300
        assert rejects(db) == [(302, "bad-address", "invalid_email")]
        assert inputs(db) == [("stdin", name, ",", 301, len(piped),
                               sha256(piped))]
        r = run(["export", "rejects", "--db", db, "-o", "-"])
        assert r.stdout.decode().splitlines()[1].startswith("stdin,302,")
        r = run(["status", "--runs", "--db", db])
        assert "input: stdin " in r.stdout.decode()


def test_same_dump_piped_twice_is_skipped(tmp_path):
    db = tmp_path / "s.db"
    data = gzip.compress(users(50))
    assert stage(db, "-", stdin=data).returncode == 0
    r = run(["stage", "--db", db, "-"], stdin=data)
    assert r.returncode == 0, r.stderr
    assert "'stdin' was staged before (same content)" in r.stderr.decode()
    assert len(inputs(db)) == 1
    # The same bytes as a file are the same input too.
    f = tmp_path / "users.csv.gz"
    f.write_bytes(data)
    r = run(["stage", "--db", db, f])
    assert "was staged before" in r.stderr.decode()


def test_zip_on_stdin_is_refused_it_needs_seeking(tmp_path):
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        zf.writestr("users.csv", users(3))
    z = tmp_path / "users.zip"
    z.write_bytes(buf.getvalue())
    db = tmp_path / "s.db"
    r = stage(db, "-", stdin=buf.getvalue())
    assert r.returncode == 65
    assert "'stdin' is a zip archive, which cannot be read from standard" \
        " input or a pipe" in r.stderr.decode()
    # Redirected from a file, stdin could seek: refused all the same.
    with open(z, "rb") as f:
        r = subprocess.run([BULK, "stage", "--db", str(db), "-q", "-"],
                           stdin=f, env=tool_env(), capture_output=True,
                           timeout=60)
    assert r.returncode == 65
    assert "'stdin' is a zip archive, which cannot be read from standard" \
        " input: give its path instead of '-'" in r.stderr.decode()


def test_stdin_given_twice_is_a_usage_error(tmp_path):
    r = stage(tmp_path / "s.db", "-", "-")
    assert r.returncode == 64
    assert "'-' (standard input) can be given once" in r.stderr.decode()


def test_import_from_stdin_without_a_terminal(tmp_path, sandbox):
    """The nightly `dump | meisa-bulk import - --yes` under cron."""
    db = tmp_path / "sync.db"
    env = {"MEISA_API_KEY": DEFAULT_KEY, "MEISA_BASE_URL": sandbox.url}
    data = users(20)
    args = ["import", "-", "--db", db, "--yes", "--rate", "none",
            "--sequence", "onboarding"]
    r = run(args, stdin=data, env=env)
    assert r.returncode == 0, r.stderr
    assert len(sandbox.requests("path = ?", (UPSERT,))) == 20
    st = json.loads(run(["status", "--json", "--db", db]).stdout)
    assert (st["contacts"], st["upserted"]) == (20, 20)
    # The same dump the next night: recognised, nothing sent again.
    r = run(args, stdin=data, env=env)
    assert r.returncode == 0, r.stderr
    assert "'stdin' was staged before" in r.stderr.decode(), r.stderr
    st = json.loads(run(["status", "--json", "--db", db]).stdout)
    assert (st["contacts"], st["upserted"], st["pending"]) == (20, 20, 0)
    assert st["generation"] == 1, st
    assert len(sandbox.requests("path = ?", (UPSERT,))) == 20
