"""End-to-end staging: the real meisa-bulk on real files, no network."""
import csv
import gzip
import io
import json
import os
import re
import zipfile

import pytest

from conftest import staging_rows as rows


def stage(bulk, tmp_path, *files, args=(), db=None):
    db = db or str(tmp_path / "stage.db")
    r = bulk(["stage", "--db", db, "--json", *args, *map(str, files)])
    return r, db


def status(bulk, db):
    r = bulk(["status", "--json", "--db", db])
    assert r.returncode == 0, r.stderr
    return json.loads(r.stdout)


def body(db, email):
    r = rows(db, "SELECT body FROM contacts WHERE email = ?", (email,))
    return json.loads(r[0]["body"]) if r else None


def export(bulk, db, what, out):
    r = bulk(["export", what, "-o", str(out), "--db", db])
    assert r.returncode == 0, r.stderr
    opener = gzip.open if str(out).endswith(".gz") else open
    with opener(out, "rt", encoding="utf-8", newline="") as f:
        return list(csv.DictReader(f))


def reconcile(st):
    assert st["rows_read"] == st["rejected"] + st["duplicates"] + st["contacts"]
    assert st["contacts"] == st["upserted"] + st["failed"] + st["pending"] + st["skipped"]


GENERIC = (
    "Email,First Name,Last Name,Company Name,Score,Zip,Notes,Tags\r\n"
    "ana@example.com,Ana,Lima,Acme,42,02134,\"line one\r\nline two\",vip;beta\r\n"
    "\r\n"
    "  BEN@Example.COM ,Ben,,Initech,3.5,,,\r\n"
    "not-an-email,Bad,Row,,,,,\r\n"
    "ben@example.com,,Okafor,,,,\"=HYPERLINK(\"\"x\"\")\",beta;gamma\r\n"
    "carl@example.com,Carl\r\n"
)


def test_generic_file_exact_contacts_and_rejects(tmp_path, bulk):
    f = tmp_path / "contacts.csv"
    f.write_bytes(GENERIC.encode())
    r, db = stage(bulk, tmp_path, f, args=["--tag", "migrated"])
    assert r.returncode == 0, r.stderr
    st = json.loads(r.stdout)
    reconcile(st)
    assert (st["rows_read"], st["rejected"], st["duplicates"], st["contacts"]) == (5, 2, 1, 2)
    assert oct(os.stat(db).st_mode & 0o777) == "0o600"
    ana = body(db, "ana@example.com")
    assert ana == {
        "email": "ana@example.com", "first_name": "Ana", "last_name": "Lima",
        "source": "import",
        "custom_fields": {"company_name": "Acme", "notes": "line one\r\nline two",
                          "score": 42, "zip": "02134"},
        "tag_names": ["vip", "beta", "migrated"]}
    # The duplicate merged: later non-empty values win, tags unioned.
    ben = body(db, "ben@example.com")
    assert ben["first_name"] == "Ben" and ben["last_name"] == "Okafor"
    assert ben["custom_fields"]["score"] == 3.5
    assert ben["tag_names"] == ["migrated", "beta", "gamma"]
    # Canonical key order, also for the merged contact.
    raw = rows(db, "SELECT body FROM contacts WHERE email='ben@example.com'")[0]["body"]
    assert list(json.loads(raw)) == ["email", "first_name", "last_name", "source",
                                     "custom_fields", "tag_names"]
    assert list(json.loads(raw)["custom_fields"]) == sorted(json.loads(raw)["custom_fields"])
    rej = export(bulk, db, "rejects", tmp_path / "rejects.csv")
    assert [(x["line"], x["reason"]) for x in rej] == [
        ("6", "invalid_email"), ("8", "too_few_fields")]
    assert all(x["source"] == str(f) for x in rej)


def test_export_neutralises_formulas(tmp_path, bulk):
    f = tmp_path / "evil.csv"
    f.write_text("email,name\n=cmd@example.com,x\n+1@example.com,y\n"
                 "-a@example.com,z\n@b@example.com,w\n")
    r, db = stage(bulk, tmp_path, f)
    assert r.returncode == 0, r.stderr
    out = tmp_path / "rejects.csv"
    export(bulk, db, "rejects", out)
    text = out.read_text()
    for bad in ("=cmd", "@b@"):
        assert "\n" + bad not in text and "," + bad not in text
    results = tmp_path / "results.csv.gz"
    export(bulk, db, "results", results)
    assert oct(os.stat(results).st_mode & 0o777) == "0o600"


def test_gzip_and_idempotent_restage(tmp_path, bulk):
    plain = tmp_path / "a.csv"
    plain.write_text("email,first_name\n" + "".join(
        "u%d@example.com,N%d\n" % (i, i) for i in range(500)))
    gz = tmp_path / "a.data"  # the name says nothing: magic bytes decide
    with gzip.open(gz, "wb") as g:
        g.write(plain.read_bytes())
    r, db = stage(bulk, tmp_path, gz)
    assert r.returncode == 0, r.stderr
    assert json.loads(r.stdout)["contacts"] == 500
    r, _ = stage(bulk, tmp_path, gz, db=db)
    assert r.returncode == 0
    assert "staged before" in r.stderr
    st = status(bulk, db)
    assert st["rows_read"] == 500 and st["contacts"] == 500 and st["duplicates"] == 0
    # Another file adds to it.
    other = tmp_path / "b.csv"
    other.write_text("email\nnew@example.com\nu1@example.com\n")
    r, _ = stage(bulk, tmp_path, other, db=db)
    st = status(bulk, db)
    assert (st["rows_read"], st["contacts"], st["duplicates"]) == (502, 501, 1)
    reconcile(st)


def test_truncated_gzip_keeps_rows_before_damage(tmp_path, bulk):
    data = "email\n" + "".join("u%d@example.com\n" % i for i in range(20000))
    full = gzip.compress(data.encode())
    bad = tmp_path / "cut.csv.gz"
    bad.write_bytes(full[: len(full) // 2])
    r, db = stage(bulk, tmp_path, bad)
    assert r.returncode == 65, r.stderr       # an error since issue 16
    assert "cut.csv.gz" in r.stderr and "line" in r.stderr
    st = status(bulk, db)
    assert 0 < st["contacts"] < 20000
    reconcile(st)


def test_corrupt_gzip_before_any_row_exits_65(tmp_path, bulk):
    bad = tmp_path / "bad.csv.gz"
    bad.write_bytes(b"\x1f\x8b\x08\x00garbage-garbage-garbage")
    r, _ = stage(bulk, tmp_path, bad)
    assert r.returncode == 65
    assert "bad.csv.gz" in r.stderr


def test_zip_without_csv_and_utf16_refused_with_advice(tmp_path, bulk):
    z = tmp_path / "export.zip"
    with zipfile.ZipFile(z, "w") as zf:
        zf.writestr("subscribed_members_export_1.pdf", "%PDF-1.4\n")
    r, _ = stage(bulk, tmp_path, z)
    assert r.returncode == 65
    assert "'%s' is a zip archive with no CSV file in it (members:" \
        " subscribed_members_export_1.pdf)" % z in r.stderr
    # UTF-16 with a byte order mark is transcoded now (issue 15).
    u = tmp_path / "u16.csv"
    u.write_bytes("email\na@example.com\n".encode("utf-16"))
    r, _ = stage(bulk, tmp_path, u)
    assert r.returncode == 0, r.stderr


def test_missing_file_exits_66_before_staging_anything(tmp_path, bulk):
    ok = tmp_path / "ok.csv"
    ok.write_text("email\na@example.com\n")
    r, db = stage(bulk, tmp_path, ok, tmp_path / "nope.csv")
    assert r.returncode == 66
    assert "nope.csv" in r.stderr
    assert rows(db, "SELECT count(*) AS n FROM contacts")[0]["n"] == 0


def test_no_email_column_lists_headers_and_map(tmp_path, bulk):
    f = tmp_path / "people.csv"
    f.write_text("Name,Mail Address,Phone\nAna,ana@example.com,1\n")
    r, db = stage(bulk, tmp_path, f)
    assert r.returncode == 65
    assert "'Mail Address'" in r.stderr and "--map" in r.stderr
    r, db = stage(bulk, tmp_path, f, args=["--map", "Mail Address=email"], db=db)
    assert r.returncode == 0, r.stderr
    assert body(db, "ana@example.com") is not None


def test_external_id_conflicts_reject_every_row(tmp_path, bulk):
    f = tmp_path / "users.csv"
    f.write_text("email,external_id,first_name\n"
                 "a@example.com,u1,A\n"
                 "b@example.com,u1,B\n"      # same id, other address
                 "c@example.com,u3,C\n"
                 "c@example.com,u4,C2\n"     # same address, other id
                 "d@example.com,u5,D\n"
                 "D@example.com,,D2\n")      # plain duplicate
    r, db = stage(bulk, tmp_path, f)
    assert r.returncode == 0, r.stderr
    st = json.loads(r.stdout)
    reconcile(st)
    assert st["contacts"] == 1 and st["duplicates"] == 1 and st["rejected"] == 4
    rej = rows(db, "SELECT line, email, reason, detail FROM rejects"
               " ORDER BY line")
    assert [(x["line"], x["reason"]) for x in rej] == [
        (2, "external_id_conflict"), (3, "external_id_conflict"),
        (4, "external_id_conflict"), (5, "external_id_conflict")]
    # Each reject names the row it conflicts with.
    assert [x["detail"] for x in rej] == [
        "line 3 gives external_id 'u1' to b@example.com",
        "external_id 'u1' already staged for a@example.com (line 2)",
        "line 5 gives this address external_id 'u4'",
        "address already staged with external_id 'u3' (line 4)"]


def test_conflict_across_files_names_the_other_file(tmp_path, bulk):
    a = tmp_path / "a.csv"
    a.write_text("email,external_id\nx@example.com,u1\n")
    b = tmp_path / "b.csv"
    b.write_text("email,external_id\nkeep@example.com,u9\n"
                 "y@example.com,u1\n")
    r, db = stage(bulk, tmp_path, a)
    assert r.returncode == 0, r.stderr
    r, db = stage(bulk, tmp_path, b, db=db)
    assert r.returncode == 0, r.stderr
    rej = rows(db, "SELECT i.path, r.line, r.email, r.detail FROM rejects r"
               " JOIN inputs i ON i.id = r.input_id ORDER BY r.email")
    assert [tuple(x.values()) for x in rej] == [
        (str(a), 2, "x@example.com",
         "line 3 of %s gives external_id 'u1' to y@example.com" % b),
        (str(b), 3, "y@example.com",
         "external_id 'u1' already staged for x@example.com"
         " (line 2 of %s)" % a)]
    assert [x["email"] for x in rows(db, "SELECT email FROM contacts")] == [
        "keep@example.com"]


def test_semicolon_bom_and_cr_only(tmp_path, bulk):
    f = tmp_path / "brevo.csv"
    f.write_bytes(b"\xef\xbb\xbfEMAIL;FIRSTNAME\rx@example.com;X\r\"y@example.com\";\"Y;Z\"\r")
    r, db = stage(bulk, tmp_path, f)
    assert r.returncode == 0, r.stderr
    assert body(db, "y@example.com")["first_name"] == "Y;Z"
    assert st_lines(db) == [2, 3]


def st_lines(db):
    return [r["line"] for r in rows(db, "SELECT line FROM contacts ORDER BY id")]


def test_invalid_utf8_rejects_row_naming_column(tmp_path, bulk):
    f = tmp_path / "bad.csv"
    # UTF-8 elsewhere (Montr\xc3\xa9al): a damaged cell, not Latin-1.
    f.write_bytes(b"email,City\nok@example.com,Montr\xc3\xa9al\n"
                  b"bad@example.com,Z\xfcrich\n")
    r, db = stage(bulk, tmp_path, f)
    assert r.returncode == 0, r.stderr
    rej = rows(db, "SELECT line, reason, detail FROM rejects")
    assert rej[0]["line"] == 3 and rej[0]["reason"] == "invalid_utf8"
    assert "City" in rej[0]["detail"]


def test_status_on_missing_db(tmp_path, bulk):
    r = bulk(["status", "--db", str(tmp_path / "none.db")])
    assert r.returncode == 73
    assert "does not exist" in r.stderr


@pytest.mark.parametrize("argv,code", [
    (["stage"], 64),
    (["stage", "--presett", "x", "f.csv"], 64),
    (["frobnicate"], 64),
    (["push", "extra"], 64),
    (["stage", "--sequence", "x", "f.csv"], 64),
    (["push", "--rate", "ten/s"], 64),
])
def test_usage_errors(bulk, argv, code):
    r = bulk(argv)
    assert r.returncode == code, r.stderr
    assert r.stderr.startswith("meisa-bulk: error:") or "usage" in r.stderr


def test_unknown_option_suggests(bulk):
    r = bulk(["stage", "--presett", "x", "f.csv"])
    assert "did you mean '--preset'" in r.stderr


def test_help_and_version(bulk):
    r = bulk(["help", "import"])
    assert r.returncode == 0 and "example" in r.stdout
    r = bulk(["push", "--help"])
    assert r.returncode == 0 and "--sequence" in r.stdout
    r = bulk(["--version"])
    assert r.returncode == 0
    for lib in ("libcurl", "SQLite", "zlib", "libcsv", "libzip"):
        assert re.search(r"\b%s [0-9]" % lib, r.stdout), (lib, r.stdout)


def _staged_outcome(db):
    contacts = sorted((r["email"], r["body"], r["source_status"], r["state"],
                       r["external_id"])
                      for r in rows(db, "SELECT * FROM contacts"))
    dups = sorted(r["email"] for r in rows(db, "SELECT email FROM duplicates"))
    rejects = sorted((r["email"], r["reason"]) for r in rows(
        db, "SELECT email, reason FROM rejects WHERE email NOT LIKE 'filler%'"))
    return contacts, dups, rejects


def test_multi_row_inserts_match_row_by_row(tmp_path, bulk):
    """Regression guard for the writer's 32-row INSERTs: duplicates and
    external_id conflicts inside one window give exactly what the
    row-by-row path gives."""
    body = []
    for i in range(400):
        if i % 7 == 3:       # a mixed-case duplicate of an earlier row
            j = i - 3
            body.append("User%d@Example.com,,L%d,t%d,active" % (j, i, i))
        elif i == 102:       # same external_id as row 100, other address
            body.append("other%d@example.com,ext100,X,,active" % i)
        elif i == 205:       # same address as row 204, other external_id
            body.append("user204@example.com,ext9999,Y,,active")
        elif i % 50 == 10:
            body.append("user%d@example.com,ext%d,F%d,a;b,unsubscribed" % (i, i, i))
        else:
            body.append("user%d@example.com,ext%d,F%d,a,active" % (i, i, i))
    header = "email,external_id,first_name,tags,status"
    a = tmp_path / "a.csv"
    a.write_text("\n".join([header] + body) + "\n")
    b = tmp_path / "b.csv"
    spaced = []
    for n, line in enumerate(body):
        if n % 20 == 0:
            spaced.append("filler%d-not-an-email,,,," % n)
        spaced.append(line)
    b.write_text("\n".join([header] + spaced) + "\n")
    ra, dba = stage(bulk, tmp_path, a, db=str(tmp_path / "a.db"))
    rb, dbb = stage(bulk, tmp_path, b, db=str(tmp_path / "b.db"))
    assert ra.returncode == 0 and rb.returncode == 0, ra.stderr + rb.stderr
    got_a, got_b = _staged_outcome(dba), _staged_outcome(dbb)
    assert got_a == got_b
    contacts, dups, rejects = got_a
    assert ("user100@example.com", "external_id_conflict") in rejects
    assert ("other102@example.com", "external_id_conflict") in rejects
    assert ("user204@example.com", "external_id_conflict") in rejects
    assert len(dups) > 40
    reconcile(json.loads(ra.stdout))
