"""Input guards and the shrink guard (issue 16, item 1): the real meisa-bulk
against the real sandbox.

Night 1 imports 2,000 users (once per module; each test starts from copies
of its staging file and sandbox db).  Night 2 is damaged (a gzip cut in
half, a CSV ending inside a quote, a damaged zip member) or well formed but
shrunken (60% of its rows lost): import must stop before anything is sent,
exit 65 and say why even with -q, unless --allow-partial or a larger
--max-missing lets it go on.
"""
import csv
import gzip
import io
import json
import shutil
import zipfile

import pytest

from conftest import run_bulk, start_sandbox, staging_rows as rows

UPSERT = "/api/v1/contacts/upsert/"
ENROLL = "/api/v1/sequences/api/bulk-enroll/"
KEY = "meisa_test_guards"
SANDBOX_ARGS = ("--rate", "none", "--key", KEY, "--sequence",
                "onboarding=active")
N = 2000


def csv_text(ids, night):
    out = io.StringIO()
    w = csv.writer(out, lineterminator="\n")
    w.writerow(["email", "first_name", "note"])
    for i in ids:
        w.writerow(["user%d@example.com" % i, "Night%d-%d" % (night, i),
                    "a note, quoted"])
    return out.getvalue()


def write_gz(path, ids, night):
    path.write_bytes(gzip.compress(csv_text(ids, night).encode()))
    return str(path)


def bulk(args, sb, **kw):
    return run_bulk(args, key=KEY, base_url=sb.url, **kw)


def import_args(path, db, *extra):
    return ["import", str(path), "--db", db, "--sequence", "onboarding",
            "--rate", "none", "--concurrency", "8", "--yes", *extra]


def status(sb, db):
    r = bulk(["status", "--json", "--db", db], sb)
    assert r.returncode == 0, r.stderr
    return json.loads(r.stdout)


def writes_after(sb, first_id):
    return sb.requests("id > ? AND path IN (?, ?)", (first_id, UPSERT, ENROLL))


def last_id(sb):
    r = sb.requests()
    return r[-1]["id"] if r else 0


def incomplete_inputs(db):
    return [(r["path"], r["error"]) for r in rows(
        db, "SELECT path, error FROM inputs WHERE complete = 0")]


@pytest.fixture(scope="module")
def night1(tmp_path_factory):
    """Night 1 imported with the default guard: a first night is never
    stopped (there is no previous generation to shrink from)."""
    d = tmp_path_factory.mktemp("guards1")
    dump = write_gz(d / "users-1.csv.gz", range(N), 1)
    sb = start_sandbox(d, [], SANDBOX_ARGS)
    db = str(d / "sync.db")
    try:
        r = bulk(import_args(dump, db, "--json", "--max-missing", "0"), sb)
        assert r.returncode == 0, r.stderr
        st = json.loads(r.stdout)
        assert (st["contacts"], st["upserted"], st["missing"]) == (N, N, 0)
    finally:
        sb.stop()
    return db, sb.db_path


@pytest.fixture
def synced(night1, tmp_path):
    db, sb_db = night1
    shutil.copy(db, tmp_path / "sync.db")
    shutil.copy(sb_db, tmp_path / "sandbox.db")
    sb = start_sandbox(tmp_path, [], SANDBOX_ARGS, db=tmp_path / "sandbox.db")
    yield sb, str(tmp_path / "sync.db")
    sb.stop()


def cut_gzip(tmp_path):
    full = gzip.compress(csv_text(range(N), 2).encode())
    path = tmp_path / "users-2.csv.gz"
    path.write_bytes(full[: len(full) // 2])
    return path


def test_truncated_gzip_stops_import_before_anything_is_sent(synced,
                                                             tmp_path):
    sb, db = synced
    path = cut_gzip(tmp_path)
    before = last_id(sb)
    r = bulk(import_args(path, db, "-q", "--json"), sb)
    assert r.returncode == 65, r.stderr
    # An error even with -q, naming the file, what was kept and the flag.
    assert "error: '%s' is a truncated or corrupt gzip" % path in r.stderr
    assert "the input is marked incomplete" in r.stderr
    assert "nothing was sent (--allow-partial" in r.stderr
    assert writes_after(sb, before) == []
    [(p, err)] = incomplete_inputs(db)
    assert p == str(path) and "truncated" in err
    # The rows before the damage are staged; missing is not guessed.
    st = status(sb, db)
    assert 0 < st["contacts"] < N and st["generation"] == 2
    assert st["missing"] == 0
    assert str(path) in st["missing_unknown_reason"]
    text = bulk(["status", "--db", db], sb)
    assert "missing unknown: '%s' was not read to its end" % path \
        in text.stdout
    # A plain push (or the same import again: the file is staged) stops
    # too, at push's pre-flight.
    for args in (["push", "--db", db, "--rate", "none", "--yes", "-q"],
                 import_args(path, db, "-q")):
        again = bulk(args, sb)
        assert again.returncode == 65, again.stderr
        assert "generation 2 is incomplete" in again.stderr
    assert writes_after(sb, before) == []


def test_allow_partial_pushes_the_rows_read(synced, tmp_path):
    sb, db = synced
    path = cut_gzip(tmp_path)
    before = last_id(sb)
    r = bulk(import_args(path, db, "--json", "--allow-partial"), sb)
    assert r.returncode == 0, r.stderr
    assert "pushing the rows read (--allow-partial)" in r.stderr
    st = json.loads(r.stdout)
    assert 0 < st["contacts"] < N and st["missing"] == 0, st
    assert "missing_unknown_reason" in st
    sent = {json.loads(x["body"])["email"] for x in writes_after(sb, before)
            if x["path"] == UPSERT}
    staged = {x["email"] for x in rows(
        db, "SELECT email FROM contacts WHERE gen = 2")}
    assert sent == staged and len(sent) == st["contacts"]


def test_shrunken_dump_stops_until_max_missing_allows_it(synced, tmp_path):
    sb, db = synced
    path = write_gz(tmp_path / "users-2.csv.gz", range(800), 2)
    before = last_id(sb)
    r = bulk(import_args(path, db, "-q"), sb)
    assert r.returncode == 65, r.stderr
    assert "1200 of the 2000 contacts of the previous generation are" \
        " missing from generation 2 (60.0%), more than --max-missing 10%" \
        in r.stderr, r.stderr
    assert writes_after(sb, before) == []
    # A count is a limit too; the staged generation stays as it is.
    r = bulk(import_args(path, db, "-q", "--max-missing", "1000"), sb)
    assert r.returncode == 65 and "--max-missing 1000 allows" in r.stderr
    assert writes_after(sb, before) == []
    # The operator looked: the same command with a larger limit goes on.
    r = bulk(import_args(path, db, "--json", "--max-missing", "70%"), sb)
    assert r.returncode == 0, r.stderr
    st = json.loads(r.stdout)
    assert (st["contacts"], st["missing"], st["upserted"]) == (800, 1200, 800)
    assert "missing_unknown_reason" not in st
    assert len(writes_after(sb, before)) > 0


def test_max_missing_none_disables_the_shrink_guard(synced, tmp_path):
    sb, db = synced
    path = write_gz(tmp_path / "users-2.csv.gz", range(800), 2)
    r = bulk(import_args(path, db, "--json", "--max-missing", "none"), sb)
    assert r.returncode == 0, r.stderr
    assert json.loads(r.stdout)["missing"] == 1200


def test_a_small_shrink_passes_the_default(synced, tmp_path):
    sb, db = synced
    path = write_gz(tmp_path / "users-2.csv.gz", range(1900), 2)
    r = bulk(import_args(path, db, "--json"), sb)
    assert r.returncode == 0, r.stderr
    assert json.loads(r.stdout)["missing"] == 100


def test_csv_ending_inside_a_quote_stops_import(synced, tmp_path):
    sb, db = synced
    text = csv_text(range(N), 2)
    cut = text[: text.index("a note", len(text) // 2) + 3]  # inside quotes
    path = tmp_path / "users-2.csv"
    path.write_text(cut)
    before = last_id(sb)
    r = bulk(import_args(path, db, "-q"), sb)
    assert r.returncode == 65, r.stderr
    assert "error: '%s' ends inside a quoted field that begins on line" \
        % path in r.stderr
    assert writes_after(sb, before) == []
    [(p, err)] = incomplete_inputs(db)
    assert p == str(path) and "ends inside a quoted field" in err
    st = status(sb, db)
    assert 0 < st["contacts"] < N and st["missing"] == 0


def test_damaged_zip_member_stops_stage_with_65(tmp_path):
    # A stored member with one byte changed near its end: its CRC fails
    # after every row was read.
    good = csv_text(range(50), 1).encode()
    path = tmp_path / "export.zip"
    with zipfile.ZipFile(path, "w", zipfile.ZIP_STORED) as z:
        z.writestr("ok.csv", csv_text(range(100, 110), 1))
        z.writestr("users.csv", good)
    data = bytearray(path.read_bytes())
    at = data.index(good) + len(good) - 10
    data[at] = ord("X") if data[at] != ord("X") else ord("Y")
    path.write_bytes(bytes(data))
    db = str(tmp_path / "zip.db")
    r = run_bulk(["stage", str(path), "--db", db, "-q"])
    assert r.returncode == 65, r.stderr
    assert "error: '%s:users.csv' is a corrupt zip member: CRC error" \
        % path in r.stderr
    assert [p for p, _ in incomplete_inputs(db)] == ["%s:users.csv" % path]
    assert rows(db, "SELECT count(*) AS n FROM contacts")[0]["n"] > 10


def test_max_missing_value_is_checked(tmp_path):
    r = run_bulk(["push", "--db", str(tmp_path / "x.db"), "--max-missing",
                  "110%"])
    assert r.returncode == 64
    assert "--max-missing is N, N% (0 to 100) or none, not '110%'" \
        in r.stderr
