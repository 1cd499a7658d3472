"""Zip input, end to end: the real meisa-bulk on zip archives.

Mailchimp's audience export is a zip of one CSV per status.  `stage` reads
every CSV member straight from the zip (found by magic bytes, never by the
name), each as an input of its own named ZIP:MEMBER, with its status from
the member's base name.  The committed fixtures come from
fixtures/zip/make-zip.py (README.md there); bombs and odd layouts are
written into tmp_path here.
"""
import csv
import gzip
import io
import json
import os
import shutil
import struct
import zipfile

from conftest import REPO, staging_query as query
from test_adversarial import measured, assert_sane

ZIPS = os.path.join(REPO, "fixtures", "zip")
MAILCHIMP = os.path.join(REPO, "fixtures", "mailchimp")
AUDIENCE = os.path.join(ZIPS, "mailchimp-audience.zip")
ID = "a1b2c3d4e5"
STATUSES = ("subscribed", "unsubscribed", "cleaned", "nonsubscribed")
NAMES = ["%s_members_export_%s.csv" % (s, ID) for s in STATUSES]
MIB = 1 << 20
UPSERT = "/api/v1/contacts/upsert/"


def stage(tmp_path, *files, db="staging.db", args=(), timeout=120):
    """measured `stage --json`; returns (Result, db path)."""
    db = str(tmp_path / db)
    res = measured(["stage", "--json", "--db", db, *args,
                    *[str(f) for f in files]], timeout=timeout)
    assert_sane(res)
    return res, db


def counts(db):
    """rows_read, rejected, duplicates, contacts, suppressed, unconfirmed."""
    res = measured(["status", "--json", "--db", db])
    assert res.returncode == 0, res
    st = json.loads(res.stdout)
    assert st["rows_read"] == st["rejected"] + st["duplicates"] + \
        st["contacts"]
    return (st["rows_read"], st["rejected"], st["duplicates"],
            st["contacts"], st["suppressed"], st["unconfirmed"])


def base(path):
    """The member (or file) name an input's path ends with."""
    return path.rsplit(":", 1)[-1].rsplit("/", 1)[-1]


def staged(db):
    """Contacts and rejects keyed by the base name of their input."""
    contacts = query(db, "SELECT c.email, c.body, c.source_status,"
                     " c.unconfirmed, c.state, i.path, c.line FROM"
                     " contacts c JOIN inputs i ON i.id = c.input_id"
                     " ORDER BY c.email")
    rejects = query(db, "SELECT i.path, r.line, r.email, r.reason,"
                    " r.detail FROM rejects r JOIN inputs i ON"
                    " i.id = r.input_id ORDER BY r.id")
    dups = query(db, "SELECT i.path, d.line, d.email FROM duplicates d"
                 " JOIN inputs i ON i.id = d.input_id ORDER BY d.id")
    return ([c[:5] + (base(c[5]), c[6]) for c in contacts],
            [(base(r[0]),) + r[1:] for r in rejects],
            [(base(d[0]),) + d[1:] for d in dups])


def inputs(db):
    return query(db, "SELECT path, kind, preset, rows_read, complete,"
                 " error FROM inputs ORDER BY id")


def zip_of(path, members, compress=zipfile.ZIP_DEFLATED, level=None):
    """Write a zip of (name, bytes) pairs."""
    with zipfile.ZipFile(path, "w", compress, compresslevel=level) as zf:
        for name, data in members:
            zf.writestr(name, data)
    return path


def csv_of(status):
    with open(os.path.join(MAILCHIMP, NAMES[STATUSES.index(status)]),
              "rb") as f:
        return f.read()


def test_audience_zip_stages_exactly_as_its_four_csvs(tmp_path):
    res, db = stage(tmp_path, AUDIENCE)
    assert res.returncode == 0, res
    assert res.stderr == "", res
    out = json.loads(res.stdout)
    assert (out["files_staged"], out["files_failed"]) == (4, 0)
    assert counts(db) == (27, 4, 3, 20, 9, 5)
    assert inputs(db) == [
        ("%s:%s" % (AUDIENCE, n), "zip", "mailchimp", rows, 1, None)
        for n, rows in zip(NAMES, (9, 6, 6, 6))]
    # The member names decided the statuses.
    assert query(db, "SELECT i.path, c.source_status, c.unconfirmed,"
                 " count(*) FROM contacts c JOIN inputs i ON"
                 " i.id = c.input_id GROUP BY 1, 2, 3 ORDER BY i.id") == [
        ("%s:%s" % (AUDIENCE, NAMES[0]), None, 0, 6),
        ("%s:%s" % (AUDIENCE, NAMES[1]), "unsubscribed", 0, 4),
        ("%s:%s" % (AUDIENCE, NAMES[2]), "cleaned", 0, 5),
        ("%s:%s" % (AUDIENCE, NAMES[3]), None, 1, 5)]
    # Contact for contact, reject for reject (same lines, reasons,
    # bodies) as the four files staged one by one.
    plain, plain_db = stage(tmp_path, *[os.path.join(MAILCHIMP, n)
                                        for n in NAMES], db="plain.db")
    assert plain.returncode == 0, plain
    assert staged(db) == staged(plain_db)


def test_restaging_the_same_zip_changes_nothing(tmp_path):
    res, db = stage(tmp_path, AUDIENCE)
    assert res.returncode == 0, res
    before = staged(db), counts(db)
    again, _ = stage(tmp_path, AUDIENCE)
    assert again.returncode == 0, again
    out = json.loads(again.stdout)
    assert (out["files_staged"], out["files_skipped"]) == (0, 4)
    for name in NAMES:
        assert "warning: '%s:%s' was staged before (same content);" \
            " skipping it" % (AUDIENCE, name) in again.stderr, again
    assert (staged(db), counts(db)) == before
    assert len(inputs(db)) == 4
    # The same bytes under another name are the same export.
    copy = tmp_path / "audience-copy.zip"
    shutil.copy(AUDIENCE, copy)
    third, _ = stage(tmp_path, copy)
    assert third.returncode == 0, third
    assert json.loads(third.stdout)["files_skipped"] == 4
    assert (staged(db), counts(db)) == before


def test_detected_by_magic_bytes_not_by_name(tmp_path):
    renamed = tmp_path / "export.csv"
    shutil.copy(AUDIENCE, renamed)
    res, db = stage(tmp_path, renamed)
    assert res.returncode == 0, res
    assert counts(db) == (27, 4, 3, 20, 9, 5)
    assert [p for p, *_ in inputs(db)] == [
        "%s:%s" % (renamed, n) for n in NAMES]


def test_macos_zip_folder_prefix_and_junk(tmp_path):
    path = os.path.join(ZIPS, "mailchimp-macos.zip")
    res, db = stage(tmp_path, path)
    assert res.returncode == 0, res
    folder = "members_export_%s/" % ID
    ignored = [folder, folder + ".DS_Store", "__MACOSX/",
               "__MACOSX/" + folder] + [
        "__MACOSX/%s._%s" % (folder, n) for n in NAMES]
    assert res.stderr == (
        "meisa-bulk: warning: '%s': ignored 8 members that are not CSV:"
        " %s\n" % (path, ", ".join(ignored)))
    assert [p for p, *_ in inputs(db)] == [
        "%s:%s%s" % (path, folder, n) for n in NAMES]
    _, plain_db = stage(tmp_path, AUDIENCE, db="audience.db")
    assert staged(db) == staged(plain_db)


def test_members_that_are_not_csv_are_listed_once_and_ignored(tmp_path):
    path = os.path.join(ZIPS, "with-readme.zip")
    res, db = stage(tmp_path, path)
    assert res.returncode == 0, res
    assert res.stderr == (
        "meisa-bulk: warning: '%s': ignored 3 members that are not CSV:"
        " README.pdf, logo.png, notes/\n" % path)
    assert counts(db) == (9, 2, 1, 6, 0, 0)


def test_rejects_name_the_member_and_its_lines(tmp_path):
    res, db = stage(tmp_path, AUDIENCE)
    assert res.returncode == 0, res
    out = tmp_path / "rejects.csv"
    exp = measured(["export", "rejects", "-o", str(out), "--db", db])
    assert exp.returncode == 0, exp
    with open(out, encoding="utf-8", newline="") as f:
        lines = list(csv.reader(f))
    assert lines[0][:4] == ["source", "line", "email", "reason"]
    assert [(r[0], int(r[1]), r[2]) for r in lines[1:]] == [
        ("%s:%s" % (AUDIENCE, NAMES[0]), 9, "jane.doe@example"),
        ("%s:%s" % (AUDIENCE, NAMES[0]), 10, "broken@example.com"),
        ("%s:%s" % (AUDIENCE, NAMES[1]), 5, "bob at example.com"),
        # A cell starting with @ is written with a leading ' (SPEC.md).
        ("%s:%s" % (AUDIENCE, NAMES[2]), 5, "'@example.com")]


def test_encrypted_zip_is_refused_saying_so(tmp_path):
    path = os.path.join(ZIPS, "encrypted.zip")
    res, db = stage(tmp_path, path)
    assert res.returncode == 65, res
    assert "error: '%s' is encrypted (member '%s' needs a password):" \
        " export it again without a password, or unzip it with the" \
        " password and stage the CSV files" % (path, NAMES[0]) \
        in res.stderr, res
    assert "error: 1 of 1 files could not be staged" in res.stderr, res
    assert counts(db) == (0, 0, 0, 0, 0, 0)


def test_truncated_zip_is_refused_before_anything_is_staged(tmp_path):
    path = os.path.join(ZIPS, "truncated.zip")
    res, db = stage(tmp_path, path, os.path.join(MAILCHIMP, NAMES[0]))
    assert res.returncode == 65, res
    assert "error: '%s' is a truncated or corrupt zip archive (Not a" \
        " zip archive): its table of contents at the end is missing or" \
        " damaged; download or export it again" % path in res.stderr, res
    assert "error: 1 of 2 files could not be staged" in res.stderr, res
    # The other file is still staged.
    assert counts(db) == (9, 2, 1, 6, 0, 0)


def test_crc_error_keeps_the_rows_and_names_member_and_line(tmp_path):
    path = os.path.join(ZIPS, "crc-error.zip")
    res, db = stage(tmp_path, path)
    # Damage is an error (issue 16): exit 65, the rows before it kept.
    assert res.returncode == 65, res
    member = "%s:%s" % (path, NAMES[1])
    assert "error: '%s' is a corrupt zip member: CRC error (after 1264" \
        " bytes of data); rows up to line 7 were read; the 6 rows before" \
        " it are staged, the input is marked incomplete" % member \
        in res.stderr, res
    assert counts(db) == (27, 4, 3, 20, 9, 5)
    row = [r for r in inputs(db) if r[0] == member][0]
    assert row[4] == 0 and "CRC error" in row[5], row
    # Re-staging the same damaged zip is idempotent too.
    again, _ = stage(tmp_path, path)
    assert again.returncode == 0, again
    assert json.loads(again.stdout)["files_skipped"] == 4
    assert counts(db) == (27, 4, 3, 20, 9, 5)


def test_damaged_deflate_keeps_the_rows_before_it(tmp_path):
    path = os.path.join(ZIPS, "damaged-deflate.zip")
    res, db = stage(tmp_path, path)
    assert res.returncode == 65, res
    assert "error: '%s:contacts.csv' is a corrupt zip member: Zlib" \
        " error: data error (after 68706 bytes of data); rows up to line" \
        " 1780 were read; the 1779 rows before it are staged, the input" \
        " is marked incomplete" % path in res.stderr, res
    assert counts(db) == (1779, 0, 0, 1779, 0, 0)
    assert query(db, "SELECT min(email), max(email) FROM contacts") == [
        ("user0001@example.com", "user1779@example.com")]


def test_zip_without_csv_lists_its_members(tmp_path):
    path = zip_of(tmp_path / "docs.zip", [("a.pdf", b"%PDF"),
                                          ("b.json", b"{}")])
    res, _ = stage(tmp_path, path)
    assert res.returncode == 65, res
    assert "error: '%s' is a zip archive with no CSV file in it (members:" \
        " a.pdf, b.json)" % path in res.stderr, res


def test_empty_zip_is_refused(tmp_path):
    path = tmp_path / "empty.zip"
    path.write_bytes(b"PK\x05\x06" + b"\0" * 18)
    res, _ = stage(tmp_path, path)
    assert res.returncode == 65, res
    assert "'%s' is an empty zip archive: no CSV file in it" % path \
        in res.stderr, res


def test_nested_zip_is_refused_and_the_rest_staged(tmp_path):
    inner = io.BytesIO()
    with zipfile.ZipFile(inner, "w") as zf:
        zf.writestr("x.csv", "email\nx@example.com\n")
    path = zip_of(tmp_path / "outer.zip", [
        (NAMES[0], csv_of("subscribed")), ("more/inner.zip", inner.getvalue()),
        ("disguised.csv", inner.getvalue())])
    res, db = stage(tmp_path, path)
    assert res.returncode == 65, res
    assert "error: '%s:more/inner.zip' is a zip archive inside a zip" \
        " archive: unzip the outer one and stage the files inside" % path \
        in res.stderr, res
    assert "error: '%s:disguised.csv' is a zip archive inside a zip" \
        " archive" % path in res.stderr, res
    assert "error: 2 of 3 files could not be staged" in res.stderr, res
    assert counts(db) == (9, 2, 1, 6, 0, 0)


def test_gzip_member_is_inflated(tmp_path):
    path = zip_of(tmp_path / "gz.zip", [
        (NAMES[0] + ".gz", gzip.compress(csv_of("subscribed"), mtime=0))])
    res, db = stage(tmp_path, path)
    assert res.returncode == 0, res
    assert counts(db) == (9, 2, 1, 6, 0, 0)
    assert inputs(db)[0][:3] == ("%s:%s.gz" % (path, NAMES[0]), "zip+gzip",
                                 "mailchimp")


def test_member_names_with_control_characters_are_shown_safely(tmp_path):
    path = tmp_path / "ctl.zip"
    with zipfile.ZipFile(path, "w") as zf:
        # Not ASCII, so zipfile sets the UTF-8 flag: libzip keeps the name
        # as it is (it refuses an ESC in such a name, not these).
        zf.writestr("\u00e9vil\n\x7f.csv", "email\nx@example.com\n")
        zf.writestr("note\x1b[2J\x07.pdf", "x")
    res, db = stage(tmp_path, path)
    assert res.returncode == 0, res
    for ctl in "\x1b\x07\x7f":
        assert ctl not in res.stderr, res
    # Without the UTF-8 flag libzip reads names as CP437, where ESC is an
    # arrow and BEL a bullet; with it, a control character is shown as '?'.
    assert "note\u2190[2J\u2022.pdf" in res.stderr, res
    assert inputs(db)[0][0] == "%s:\u00e9vil??.csv" % path


def blank_lines_zip(path, members, blank_mib, level=9):
    """Each member: a header and one row, then blank_mib MiB of blank
    lines (1023 spaces and a newline: deflate makes that 1000:1)."""
    chunk = (b" " * 1023 + b"\n") * 1024
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED,
                         compresslevel=level) as zf:
        for name, row in members:
            with zf.open(name, "w", force_zip64=True) as f:
                f.write(b"email\n" + row + b"\n")
                for _ in range(blank_mib):
                    f.write(chunk)
    return path


def test_zip_bomb_is_refused_quickly_keeping_the_rows_before(tmp_path):
    path = blank_lines_zip(tmp_path / "bomb.zip",
                           [("bomb.csv", b"first@example.com")], 256)
    assert os.path.getsize(path) < MIB
    res, db = stage(tmp_path, path, timeout=60)
    # A member stopped as a bomb was not read to its end: an incomplete
    # input (issue 16's guard), so stage exits 65, its rows before kept.
    assert res.returncode == 65, res
    assert "error: '%s:bomb.csv' inflates" % path in res.stderr, res
    assert "more than a CSV export can: refusing it as a likely zip bomb" \
        " (if it really is an export, unzip it and stage the CSV files)" \
        in res.stderr, res
    assert res.seconds < 20, res
    assert query(db, "SELECT email FROM contacts") == [
        ("first@example.com",)]


def test_zip_bomb_of_many_small_members_is_bounded_too(tmp_path):
    """Each member stays under the 64 MiB threshold; together they do not."""
    members = [("m%d.csv" % i, b"m%d@example.com" % i) for i in range(1, 9)]
    path = blank_lines_zip(tmp_path / "many.zip", members, 15)
    res, db = stage(tmp_path, path, timeout=60)
    assert res.returncode == 65, res
    # m5 crosses 64 MiB after its row; m6..m8 are refused at once.
    assert "error: '%s:m5.csv' inflates" % path in res.stderr, res
    assert "error: '%s:m8.csv' inflates" % path in res.stderr, res
    assert "with the members before it" in res.stderr, res
    assert "error: 3 of 8 files could not be staged" in res.stderr, res
    assert sorted(e for e, in query(db, "SELECT email FROM contacts")) == [
        "m%d@example.com" % i for i in range(1, 6)]


def overlapping_zip(path, copies):
    """One real member, then copies more central directory entries that
    point at its bytes (how a non-recursive zip bomb claims terabytes)."""
    rows = b"".join(b"u%05d@example.com,%d\n" % (i, i * 7919 % 10007)
                    for i in range(4000))
    zip_of(path, [("a.csv", b"email,n\n" + rows)])
    data = open(path, "rb").read()
    eocd = data.rindex(b"PK\x05\x06")
    count, cd_size, cd_off = struct.unpack("<HII", data[eocd + 10:eocd + 20])
    cd = data[cd_off:cd_off + cd_size]
    name_len = struct.unpack("<H", cd[28:30])[0]
    entries = [cd]
    for i in range(copies):
        name = b"copy%d.csv" % i
        entries.append(cd[:28] + struct.pack("<H", len(name)) + cd[30:46] +
                       name + cd[46 + name_len:])
    new_cd = b"".join(entries)
    end = data[eocd:eocd + 8] + struct.pack(
        "<HHII", count + copies, count + copies, len(new_cd), cd_off) + \
        data[eocd + 20:]
    with open(path, "wb") as f:
        f.write(data[:cd_off] + new_cd + end)
    return path


def test_overlapping_members_are_refused_as_a_bomb(tmp_path):
    path = overlapping_zip(tmp_path / "overlap.zip", 3)
    with zipfile.ZipFile(path) as zf:
        assert len(zf.infolist()) == 4
    res, db = stage(tmp_path, path)
    assert res.returncode == 65, res
    assert "error: '%s' is a malformed zip archive: its members claim" \
        % path in res.stderr, res
    assert "(they overlap); refusing it as a likely zip bomb" \
        in res.stderr, res
    assert counts(db) == (0, 0, 0, 0, 0, 0)


def test_import_pushes_the_zip_and_shows_its_members(tmp_path,
                                                      sandbox_factory):
    sb = sandbox_factory("--rate", "none", "--key", "meisa_test_k",
                         "--sequence", "onboarding=active")
    db = str(tmp_path / "import.db")
    args = ["import", AUDIENCE, "--db", db, "--sequence", "onboarding",
            "--rate", "none", "--json", "--yes"]
    res = measured(args, key="meisa_test_k", base_url=sb.url)
    assert_sane(res)
    assert res.returncode == 0, res
    out = json.loads(res.stdout)
    # The 5 nonsubscribed people are skipped as unconfirmed (issue 15).
    assert (out["contacts"], out["skipped"], out["upserted"]) == (20, 14, 6)
    sent = {json.loads(r["body"])["email"]
            for r in sb.requests("path = ?", (UPSERT,))}
    assert len(sent) == 6
    assert "tom.baker@example.com" not in sent      # unsubscribed member
    assert "buyer1@example.com" not in sent         # nonsubscribed member
    st = measured(["status", "--json", "--db", db])
    assert st.returncode == 0, st
    last = json.loads(st.stdout)["last_run"]
    assert [i["path"] for i in last["inputs"]] == [
        "%s:%s" % (AUDIENCE, n) for n in NAMES]
    assert all(i["complete"] == 1 and len(i["sha256"]) == 64
               for i in last["inputs"])
    # The same zip again: a re-run, nothing new is staged or sent.
    again = measured(args, key="meisa_test_k", base_url=sb.url)
    assert_sane(again)
    assert again.returncode == 0, again
    assert len(sb.requests("path = ?", (UPSERT,))) == 6
    assert len(inputs(db)) == 4
