"""Files, output and configuration safety (issue 13, items 2, 3, 11, 14).

What meisa-bulk writes, where, and what it tells: an export never lands on
a staging file; devices and FIFOs are written in place, never replaced or
chmodded; a staging file that is not a regular file is refused; a
read-only directory, a damaged staging file, a key file of the wrong shape
and a URL with a password each get a message of their own.

The tests that touch devices make their own (mknod in tmp_path, as root)
so that a regression cannot damage the machine's /dev/null; they fall back
to the real /dev/null and /dev/full only where mknod is not allowed.
"""
import json
import os
import pathlib
import pty
import select
import shutil
import sqlite3
import stat
import subprocess
import tempfile
import threading

import pytest

from conftest import MB_BUILD, run_bulk, tool_env

CONTACTS = "email,first_name\n" + "".join(
    "user%02d@example.com,User %d\n" % (i, i) for i in range(5)) + \
    "not-an-address,Bad\n"


def staged(tmp_path, text=CONTACTS, name="s.db"):
    src = tmp_path / "in.csv"
    src.write_text(text)
    db = str(tmp_path / name)
    res = run_bulk(["stage", "--db", db, "-q", str(src)])
    assert res.returncode == 0, res.stderr
    return db


def device(tmp_path, name, minor):
    """A character device like /dev/null (1,3) or /dev/full (1,7)."""
    path = str(tmp_path / name)
    try:
        os.mknod(path, stat.S_IFCHR | 0o666, os.makedev(1, minor))
        os.chmod(path, 0o666)
    except OSError:
        return "/dev/" + name
    return path


def db_intact(db):
    con = sqlite3.connect(db)
    try:
        return con.execute("SELECT count(*) FROM contacts").fetchone()[0] > 0
    finally:
        con.close()


# ------------------------------------------------ item 2: export onto db


@pytest.mark.parametrize("target", ["direct", "symlink", "hardlink", "wal",
                                    "journal", "other_db"])
def test_export_onto_a_staging_file_is_refused(tmp_path, target):
    db = staged(tmp_path)
    other = staged(tmp_path, name="other.db")
    before = open(other, "rb").read()
    holder = None
    if target == "direct":
        out = db
    elif target == "symlink":
        out = str(tmp_path / "link.csv")
        os.symlink(db, out)
    elif target == "hardlink":
        out = str(tmp_path / "hard.csv")
        os.link(db, out)
    elif target == "wal":
        # A reader keeps the -wal in place, as a running push would.
        holder = sqlite3.connect(db)
        holder.execute("SELECT count(*) FROM contacts").fetchone()
        assert os.path.exists(db + "-wal")
        out = db + "-wal"
    elif target == "journal":
        out = db + "-journal"     # does not exist: refused by name
    else:
        out = other
    try:
        res = run_bulk(["export", "results", "--db", db, "-o", out])
    finally:
        if holder:
            holder.close()
    assert res.returncode == 64, res.stderr
    assert "refusing to write '%s'" % out in res.stderr
    assert db_intact(db)
    assert open(other, "rb").read() == before
    if target == "journal":
        assert not os.path.exists(out)
    assert not [n for n in os.listdir(tmp_path) if "meisa-bulk-" in n]


def test_export_unsubscribed_onto_the_staging_file_is_refused(tmp_path,
                                                              sandbox):
    db = staged(tmp_path)
    res = run_bulk(["export", "unsubscribed", "--db", db, "-o", db],
                   base_url=sandbox.url)
    assert res.returncode == 64, res.stderr
    assert "refusing to write '%s': it is the staging file" % db \
        in res.stderr
    assert db_intact(db)


# --------------------------------------------- item 3: devices and FIFOs


def test_export_to_a_null_device_keeps_the_device(tmp_path):
    db = staged(tmp_path)
    null = device(tmp_path, "null", 3)
    before = os.stat(null)
    res = run_bulk(["export", "results", "--db", db, "-o", null])
    assert res.returncode == 0, res.stderr
    after = os.stat(null)
    assert stat.S_ISCHR(after.st_mode)
    assert after.st_mode == before.st_mode
    assert after.st_rdev == before.st_rdev
    assert not [n for n in os.listdir(tmp_path) if "meisa-bulk-" in n]


def test_export_to_a_full_device_fails(tmp_path):
    db = staged(tmp_path)
    full = device(tmp_path, "full", 7)
    res = run_bulk(["export", "results", "--db", db, "-o", full])
    assert res.returncode == 74, res.stderr
    assert "No space left on device" in res.stderr
    assert stat.S_ISCHR(os.stat(full).st_mode)


def test_export_to_a_fifo_writes_the_csv_into_it(tmp_path):
    db = staged(tmp_path)
    fifo = str(tmp_path / "pipe")
    os.mkfifo(fifo, 0o644)
    got = []
    reader = threading.Thread(
        target=lambda: got.append(open(fifo, "rb").read()), daemon=True)
    reader.start()
    res = run_bulk(["export", "rejects", "--db", db, "-o", fifo], timeout=20)
    reader.join(10)
    assert res.returncode == 0, res.stderr
    assert got and got[0].startswith(b"source,line,email,reason,detail\r\n")
    assert b"not-an-address" in got[0]
    st = os.stat(fifo)
    assert stat.S_ISFIFO(st.st_mode) and stat.S_IMODE(st.st_mode) == 0o644


def test_dev_stdout_onto_a_file_writes_the_file_and_keeps_the_link(
        tmp_path):
    db = staged(tmp_path)
    before = os.readlink("/dev/stdout")
    out = tmp_path / "out.csv"
    with open(out, "wb") as f:
        res = subprocess.run([os.path.join(MB_BUILD, "meisa-bulk"),
                              "export", "rejects", "--db", db, "-o",
                              "/dev/stdout"], stdout=f,
                             stderr=subprocess.PIPE, env=tool_env(),
                             timeout=60)
    assert res.returncode == 0, res.stderr
    assert os.readlink("/dev/stdout") == before
    assert out.read_bytes().startswith(b"source,line,email,reason,detail")
    assert not [n for n in os.listdir("/dev") if "meisa-bulk-" in n]


@pytest.mark.parametrize("command", ["status", "push", "stage", "export"])
def test_a_fifo_as_staging_file_is_refused_at_once(tmp_path, command):
    fifo = str(tmp_path / "fifo.db")
    os.mkfifo(fifo, 0o644)
    src = tmp_path / "in.csv"
    src.write_text(CONTACTS)
    args = {"status": [], "push": ["--yes"], "stage": [str(src)],
            "export": ["results", "-o", str(tmp_path / "r.csv")]}[command]
    res = run_bulk([command, "--db", fifo] + args, timeout=15)
    assert res.returncode == 73, res.stderr
    assert "staging file '%s' is a FIFO" % fifo in res.stderr
    assert stat.S_IMODE(os.stat(fifo).st_mode) == 0o644


@pytest.mark.parametrize("command", ["status", "stage"])
def test_a_device_or_directory_as_staging_file_is_refused(tmp_path,
                                                          command):
    null = device(tmp_path, "null", 3)
    before = os.stat(null).st_mode
    src = tmp_path / "in.csv"
    src.write_text(CONTACTS)
    extra = [str(src)] if command == "stage" else []
    res = run_bulk([command, "--db", null] + extra, timeout=15)
    assert res.returncode == 73, res.stderr
    assert "is a character device" in res.stderr
    assert os.stat(null).st_mode == before
    res = run_bulk([command, "--db", str(tmp_path)] + extra, timeout=15)
    assert res.returncode == 73, res.stderr
    assert "is a directory" in res.stderr


def test_an_existing_staging_file_keeps_its_mode_with_one_warning(tmp_path):
    db = staged(tmp_path)
    assert stat.S_IMODE(os.stat(db).st_mode) == 0o600
    os.chmod(db, 0o644)
    res = run_bulk(["status", "--db", db])
    assert res.returncode == 0, res.stderr
    assert res.stderr.count("is readable by others (mode 0644)") == 1
    empty = str(tmp_path / "empty.db")
    open(empty, "w").close()
    os.chmod(empty, 0o640)
    res = run_bulk(["stage", "--db", empty, str(tmp_path / "in.csv")])
    assert res.returncode == 0, res.stderr
    assert res.stderr.count("readable by its group (mode 0640)") == 1
    assert stat.S_IMODE(os.stat(empty).st_mode) == 0o640


# ------------------------------------------------- item 11: URL userinfo


def test_ping_never_shows_the_password_in_the_base_url(sandbox):
    url = sandbox.url.replace("http://", "http://admin:s3cr3tpw@")
    for extra in ([], ["--json"]):
        res = run_bulk(["ping"] + extra, base_url=url)
        assert res.returncode == 0, res.stderr
        assert "s3cr3tpw" not in res.stdout + res.stderr
        assert sandbox.url in res.stdout
    res = json.loads(run_bulk(["ping", "--json"], base_url=url).stdout)
    assert res["base_url"] == sandbox.url
    res = run_bulk(["ping"], base_url="http://admin:s3cr3tpw@127.0.0.1:9/x",
                   env={"MEISA_BULK_GIVE_UP_SECONDS": "1",
                        "MEISA_BULK_BACKOFF_MS": "10"})
    assert res.returncode == 69
    assert "s3cr3tpw" not in res.stdout + res.stderr
    for bad in ("ftp://admin:s3cr3tpw@example.com/api",
                "http://admin:s3cr3tpw@127.0.0.1:9/a b"):
        res = run_bulk(["ping"], base_url=bad)
        assert res.returncode == 64, res.stderr
        assert "invalid API base URL" in res.stderr
        assert "s3cr3tpw" not in res.stdout + res.stderr


@pytest.mark.parametrize("url,warned", [
    ("http://0.0.0.0:9/api/v1", True),
    ("HTTP://user:pw@0.0.0.0:9/api/v1", True),
    ("http://127.0.0.2:9/api/v1", False),
    ("http://localhost:9/api/v1", False),
    ("http://[::1]:9/api/v1", False),
])
def test_plain_http_to_another_host_warns(url, warned):
    res = run_bulk(["ping", "-q"], base_url=url,
                   env={"MEISA_BULK_GIVE_UP_SECONDS": "1",
                        "MEISA_BULK_BACKOFF_MS": "10"})
    assert ("plain http:// to '0.0.0.0:9'" in res.stderr) == warned, \
        res.stderr
    assert "pw@" not in res.stderr


# --------------------------------------------- item 14: read-only directory


def as_other_user():
    """preexec_fn that drops root, so that directory modes count."""
    if os.geteuid() != 0:
        return None
    return lambda: (os.setgid(65534), os.setuid(65534))


def test_a_read_only_directory_reads_and_refuses_writes_clearly():
    # Under /tmp itself: the other user must reach it (pytest's tmp_path
    # sits in a directory only root may enter).
    top = tempfile.mkdtemp(prefix="meisa-ro.")
    d = os.path.join(top, "ro")
    os.mkdir(d)
    try:
        db = staged(pathlib.Path(d))
        if os.geteuid() == 0:
            for p in [top, d, db, os.path.join(d, "in.csv")]:
                os.chown(p, 65534, 65534)
        os.chmod(d, 0o555)

        def run(args):
            return subprocess.run(
                [os.path.join(MB_BUILD, "meisa-bulk")] + args,
                env=tool_env({"MEISA_API_KEY": "meisa_test_x",
                              "MEISA_BASE_URL": "http://127.0.0.1:9/x"}),
                capture_output=True, text=True, timeout=60,
                preexec_fn=as_other_user(), cwd=top)
        res = run(["status", "--db", db])
        assert res.returncode == 0, res.stderr
        out = os.path.join(top, "r.csv")
        res = run(["export", "rejects", "--db", db, "-o", out])
        assert res.returncode == 0, res.stderr
        assert "not-an-address" in open(out).read()
        for args in (["push", "--yes"], ["stage", os.path.join(d, "in.csv")]):
            res = run([args[0], "--db", db] + args[1:])
            assert res.returncode == 73, res.stderr
            assert "cannot write the staging file '%s': its directory is" \
                " not writable" % db in res.stderr
            assert "readonly database" not in res.stderr
        assert sorted(os.listdir(d)) == ["in.csv", "s.db"]
    finally:
        os.chmod(d, 0o755)
        shutil.rmtree(top)


# ------------------------------------------------------ item 14: key file


@pytest.fixture
def keyed(sandbox_factory):
    return sandbox_factory("--rate", "none", "--key", "meisa_test_KEYFILE")


def test_a_key_file_that_is_a_directory_says_so(tmp_path):
    res = run_bulk(["ping", "--api-key-file", str(tmp_path)], key=None)
    assert res.returncode == 77
    assert "key file '%s' is a directory" % tmp_path in res.stderr
    assert "readable by others" not in res.stderr


@pytest.mark.parametrize("text", [
    b"\xef\xbb\xbfmeisa_test_KEYFILE\n",
    b"\nmeisa_test_KEYFILE\n",
    b"  \r\n\tmeisa_test_KEYFILE \r\n\r\n",
])
def test_key_file_bom_and_blank_lines_are_not_part_of_the_key(
        tmp_path, keyed, text):
    keyfile = tmp_path / "key"
    keyfile.write_bytes(text)
    keyfile.chmod(0o600)
    res = run_bulk(["ping", "--api-key-file", str(keyfile)], key=None,
                   base_url=keyed.url)
    assert res.returncode == 0, res.stderr


@pytest.mark.parametrize("value", ["meisa_test_KEYFILE\n",
                                   " meisa_test_KEYFILE\r\n",
                                   "\ufeffmeisa_test_KEYFILE"])
def test_the_environment_is_trimmed_like_the_file(keyed, value):
    res = run_bulk(["ping"], key=value, base_url=keyed.url)
    assert res.returncode == 0, res.stderr


@pytest.mark.parametrize("value", ["meisa_test_KEY FILE",
                                   "meisa_test_KEY\nFILE",
                                   "meisa_test_KEY\x1bFILE"])
def test_a_key_with_inner_space_or_controls_is_refused_unshown(
        tmp_path, value):
    res = run_bulk(["ping"], key=value)
    assert res.returncode == 77, res.stderr
    assert "the API key contains a space or a control character" \
        " (MEISA_API_KEY)" in res.stderr
    assert "FILE" not in res.stderr + res.stdout
    keyfile = tmp_path / "key"
    keyfile.write_text(value + "\n")
    keyfile.chmod(0o600)
    res = run_bulk(["ping", "--api-key-file", str(keyfile)], key=None)
    assert res.returncode == 77, res.stderr
    assert "control character (key file '%s')" % keyfile in res.stderr
    assert "FILE" not in res.stderr.replace(str(keyfile), "")


# ------------------------------------------- item 14: names and options


def test_a_254_byte_output_name_is_written(tmp_path):
    db = staged(tmp_path)
    out = str(tmp_path / ("r" * 250 + ".csv"))
    res = run_bulk(["export", "results", "--db", db, "-o", out])
    assert res.returncode == 0, res.stderr
    assert open(out, "rb").read().startswith(b"email,")


def test_an_empty_output_name_is_a_usage_error(tmp_path):
    db = staged(tmp_path)
    res = run_bulk(["export", "results", "--db", db, "-o", ""])
    assert res.returncode == 64, res.stderr
    assert "-o wants a file name" in res.stderr


def test_concurrency_0_is_one_clear_error(tmp_path):
    res = run_bulk(["push", "--concurrency", "0", "--db",
                    str(tmp_path / "x.db")])
    assert res.returncode == 64
    errors = [l for l in res.stderr.splitlines() if "error:" in l]
    assert len(errors) == 1, res.stderr
    assert "--concurrency wants a number >= 1, not '0'" in errors[0]


# ------------------------------------------ item 14: damaged staging files


def test_a_file_that_is_not_sqlite_is_not_a_staging_file(tmp_path):
    bad = tmp_path / "notes.db"
    bad.write_bytes(b"these are my notes, not a database\n" * 200)
    for args in (["status"], ["push", "--yes"],
                 ["export", "results", "-o", str(tmp_path / "r.csv")]):
        res = run_bulk([args[0], "--db", str(bad)] + args[1:])
        assert res.returncode == 65, res.stderr
        assert "'%s' is not a meisa-bulk staging file" % bad in res.stderr
        assert "locked" not in res.stderr


def test_a_damaged_staging_file_says_so(tmp_path):
    db = staged(tmp_path)
    data = bytearray(open(db, "rb").read())
    # Page 1 holds the schema after the 100-byte header: break it.
    data[100:400] = b"\xff" * 300
    open(db, "wb").write(bytes(data))
    res = run_bulk(["status", "--db", db])
    assert res.returncode == 65, res.stderr
    assert "staging file '%s' is damaged" % db in res.stderr


# ------------------------------------------------ item 14: lost stdout


def closed_stdout_run(args, **kw):
    """Run with stdout a pipe whose reader is already gone."""
    r, w = os.pipe()
    os.close(r)
    try:
        return subprocess.run([os.path.join(MB_BUILD, "meisa-bulk")] + args,
                              stdout=w, stderr=subprocess.PIPE, text=True,
                              timeout=60, **kw)
    finally:
        os.close(w)


def test_a_json_result_that_cannot_be_written_is_an_error(tmp_path,
                                                          sandbox):
    db = staged(tmp_path)
    env = tool_env({"MEISA_API_KEY": "meisa_test_sandbox",
                    "MEISA_BASE_URL": sandbox.url})
    res = closed_stdout_run(["push", "--db", db, "--yes", "--json", "-q",
                             "--rate", "none"], env=env)
    assert res.returncode == 74, res.stderr
    assert "cannot write to standard output" in res.stderr
    res = closed_stdout_run(["status", "--db", db, "--json"], env=env)
    assert res.returncode == 74, res.stderr


# ------------------------------------------------ item 14: a terminal


def test_export_to_a_terminal_escapes_control_characters(tmp_path):
    db = staged(tmp_path, "email,first_name\n"
                "\x1b]0;owned\x07\x1b[31mevil@x,Bad\x1b[2J\n")
    master, slave = pty.openpty()
    try:
        proc = subprocess.Popen(
            [os.path.join(MB_BUILD, "meisa-bulk"), "export", "rejects",
             "--db", db, "-o", "-"], stdout=slave, stderr=subprocess.PIPE,
            env=tool_env())
        os.close(slave)
        out = b""
        while True:
            ready, _, _ = select.select([master], [], [], 30)
            if not ready:
                break
            try:
                chunk = os.read(master, 65536)
            except OSError:
                break
            if not chunk:
                break
            out += chunk
        assert proc.wait(30) == 0, proc.stderr.read()
        proc.stderr.close()
    finally:
        os.close(master)
    assert b"\x1b" not in out and b"\x07" not in out
    assert b"\\x1b]0;owned\\x07\\x1b[31mevil@x" in out
    # A pipe gets the data as it is.
    res = run_bulk(["export", "rejects", "--db", db, "-o", "-"])
    assert "\x1b[31mevil@x" in res.stdout
