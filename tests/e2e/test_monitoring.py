"""Unattended runs: --metrics-file, --ping-url, the systemd units, and a
closed standard output (issue 16, items 4, 5, 6 and 8)."""
import datetime
import json
import os
import socket
import re
import shutil
import sqlite3
import subprocess
import threading
import time

import pytest

from conftest import MB_BUILD, REPO, run_bulk, tool_env
from monitoring_ping import PingRecorder

KEY = "meisa_test_sandbox"
NAME = r"[a-zA-Z_:][a-zA-Z0-9_:]*"
SAMPLE = re.compile(r"^(%s)(?:\{(.*)\})? (\S+)$" % NAME)
LABEL = re.compile(r'(%s)="((?:[^"\\\n]|\\[\\"n])*)"(,|$)' % NAME)
REQUIRED = ["meisa_bulk_contacts", "meisa_bulk_enrolled", "meisa_bulk_missing",
            "meisa_bulk_requests_total", "meisa_bulk_retries_total",
            "meisa_bulk_throttled_total", "meisa_bulk_last_run_exit_status",
            "meisa_bulk_last_run_start_timestamp_seconds",
            "meisa_bulk_last_run_end_timestamp_seconds"]


def write_csv(path, n):
    with open(path, "w") as f:
        f.write("email,first_name\n")
        for i in range(n):
            f.write("user%d@example.com,Name%d\n" % (i, i))
    return str(path)


def unescape(v):
    return re.sub(r"\\(.)", lambda m: "\n" if m.group(1) == "n"
                  else m.group(1), v)


def parse_labels(text):
    labels, pos = {}, 0
    while pos < len(text):
        m = LABEL.match(text, pos)
        assert m, "bad labels: %r" % text
        labels[m.group(1)] = unescape(m.group(2))
        pos = m.end()
    return labels


def parse_exposition(text):
    """The text exposition format 0.0.4, strictly: {name: {"type", "help",
    "samples": [(labels, value)]}}; asserts on anything malformed."""
    assert text.endswith("\n")
    families, current = {}, None
    for line in text.splitlines():
        if line.startswith("# HELP ") or line.startswith("# TYPE "):
            kind, name, rest = line[2:6], *line[7:].split(" ", 1)
            assert re.fullmatch(NAME, name), line
            fam = families.setdefault(name, {"samples": []})
            assert kind.lower() not in fam, "two %s lines: %s" % (kind, line)
            assert not fam["samples"], "%s after samples" % kind
            fam[kind.lower()] = rest
            if kind == "TYPE":
                assert rest in ("counter", "gauge", "untyped"), line
            current = name
            continue
        assert not line.startswith("#") and line.strip(), repr(line)
        m = SAMPLE.match(line)
        assert m, "bad sample line: %r" % line
        name = m.group(1)
        assert name == current and "type" in families[name], line
        float(m.group(3))
        families[name]["samples"].append((parse_labels(m.group(2) or ""),
                                          float(m.group(3))))
    return families


def value(families, name, **labels):
    found = [v for l, v in families[name]["samples"]
             if all(l.get(k) == x for k, x in labels.items())]
    assert len(found) == 1, (name, labels, families[name])
    return found[0]


def iso_epoch(iso):
    t = datetime.datetime.strptime(iso, "%Y-%m-%dT%H:%M:%S.%fZ")
    return t.replace(tzinfo=datetime.timezone.utc).timestamp()


def status(db):
    r = run_bulk(["status", "--json", "--db", db])
    assert r.returncode == 0, r.stderr
    return json.loads(r.stdout)


def break_one(db, email="user1@example.com"):
    """A body the sandbox refuses with 400: the contact fails for good."""
    con = sqlite3.connect(db)
    con.execute("UPDATE contacts SET body = json_set(body, '$.source',"
                " 'bogus') WHERE email = ?", (email,))
    con.commit()
    con.close()


def assert_equals_status(fams, st, db):
    for state in ("pending", "upserted", "failed", "skipped"):
        assert value(fams, "meisa_bulk_contacts", state=state, db=db) \
            == st[state], state
    assert value(fams, "meisa_bulk_enrolled", db=db) == st["enrolled"]
    assert value(fams, "meisa_bulk_missing", db=db) == st["missing"]
    assert value(fams, "meisa_bulk_requests_total", db=db) == st["requests"]
    run = st["last_run"]
    push = (run["summary"] or {}).get("push") or {}
    assert value(fams, "meisa_bulk_retries_total", db=db) == \
        push.get("retries", 0)
    assert value(fams, "meisa_bulk_throttled_total", db=db) == \
        push.get("throttled", 0)
    assert value(fams, "meisa_bulk_last_run_exit_status", db=db) == \
        run["exit_status"]
    assert abs(value(fams, "meisa_bulk_last_run_start_timestamp_seconds",
                     db=db) - iso_epoch(run["started_at"])) < 0.0015
    assert abs(value(fams, "meisa_bulk_last_run_end_timestamp_seconds",
                     db=db) - iso_epoch(run["ended_at"])) < 0.0015


# ------------------------------------------------ item 4: --metrics-file


def test_metrics_file_equals_status_after_a_run_with_failures(tmp_path,
                                                               sandbox):
    db = str(tmp_path / "s.db")
    prom = str(tmp_path / "meisa.prom")
    assert run_bulk(["stage", "--db", db, "-q",
                     write_csv(tmp_path / "in.csv", 6)]).returncode == 0
    break_one(db)
    r = run_bulk(["push", "--db", db, "--rate", "none", "--sequence",
                  "onboarding", "--metrics-file", prom], base_url=sandbox.url)
    assert r.returncode == 1, r.stderr
    fams = parse_exposition(open(prom).read())
    for name in REQUIRED:
        assert fams[name]["help"] and fams[name]["type"], name
    assert fams["meisa_bulk_requests_total"]["type"] == "counter"
    st = status(db)
    assert st["failed"] == 1 and st["upserted"] == 5
    assert_equals_status(fams, st, st["staging_file"])
    assert value(fams, "meisa_bulk_last_run_exit_status", db=db) == 1
    assert value(fams, "meisa_bulk_running", db=db) == 0
    # Atomic: nothing but the file itself is left beside it.
    assert sorted(os.listdir(tmp_path)) == sorted(
        n for n in os.listdir(tmp_path) if not n.startswith(".meisa.prom"))
    assert oct(os.stat(prom).st_mode & 0o777) == "0o644"


def test_metrics_of_stage_and_status_and_an_escaped_db_label(tmp_path):
    d = tmp_path / 'we"ird\\dir'
    d.mkdir()
    db = str(d / "s.db")
    prom = str(tmp_path / "m.prom")
    r = run_bulk(["stage", "--db", db, "-q", "--metrics-file", prom,
                  write_csv(tmp_path / "in.csv", 3)])
    assert r.returncode == 0, r.stderr
    text = open(prom).read()
    assert 'db="%s"' % db.replace("\\", "\\\\").replace('"', '\\"') in text
    fams = parse_exposition(text)
    st = status(db)
    assert_equals_status(fams, st, db)
    assert value(fams, "meisa_bulk_contacts", state="pending", db=db) == 3
    os.unlink(prom)
    r = run_bulk(["status", "--db", db, "--metrics-file", prom])
    assert r.returncode == 0, r.stderr
    assert_equals_status(parse_exposition(open(prom).read()), st, db)


def test_metrics_are_written_during_a_push(tmp_path, sandbox):
    db = str(tmp_path / "s.db")
    prom = str(tmp_path / "m.prom")
    assert run_bulk(["stage", "--db", db, "-q",
                     write_csv(tmp_path / "in.csv", 8)]).returncode == 0
    env = tool_env({"MEISA_API_KEY": KEY, "MEISA_BASE_URL": sandbox.url})
    p = subprocess.Popen([os.path.join(MB_BUILD, "meisa-bulk"), "push",
                          "--db", db, "--rate", "3/s", "-q",
                          "--metrics-file", prom], env=env,
                         stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                         text=True)
    seen = None
    deadline = time.monotonic() + 20
    while p.poll() is None and time.monotonic() < deadline:
        if os.path.exists(prom):
            fams = parse_exposition(open(prom).read())
            if value(fams, "meisa_bulk_running", db=db) == 1:
                seen = fams
                break
        time.sleep(0.05)
    _, err = p.communicate(timeout=60)
    assert p.returncode == 0, err
    assert seen, "no metrics file while the push ran"
    assert not seen["meisa_bulk_last_run_exit_status"]["samples"]
    assert value(seen, "meisa_bulk_contacts", state="pending", db=db) > 0
    fams = parse_exposition(open(prom).read())
    assert_equals_status(fams, status(db), db)


def test_a_metrics_file_that_cannot_be_written_only_warns(tmp_path):
    db = str(tmp_path / "s.db")
    prom = str(tmp_path / "no-such-dir" / "m.prom")
    r = run_bulk(["stage", "--db", db, "--metrics-file", prom,
                  write_csv(tmp_path / "in.csv", 2)])
    assert r.returncode == 0, r.stderr
    assert "warning: cannot write metrics file '%s'" % prom in r.stderr


# ---------------------------------------------------- item 5: --ping-url


def test_pings_start_and_success(tmp_path, sandbox):
    with PingRecorder() as rec:
        r = run_bulk(["import", "--db", str(tmp_path / "s.db"), "--rate",
                      "none", "--ping-url", rec.url(),
                      write_csv(tmp_path / "in.csv", 3)],
                     base_url=sandbox.url)
        assert r.returncode == 0, r.stderr
        assert rec.paths == ["/ping/0d6f1a2b-secret-uuid/start",
                             "/ping/0d6f1a2b-secret-uuid"]


def test_a_run_that_exits_69_pings_its_status(tmp_path):
    db = str(tmp_path / "s.db")
    assert run_bulk(["stage", "--db", db, "-q",
                     write_csv(tmp_path / "in.csv", 3)]).returncode == 0
    # The API is down: a port bound but never listened on refuses every
    # connection, and no other server (the recorder) can take it over, as
    # one could the port of a sandbox just stopped.
    with socket.socket() as dead, PingRecorder() as rec:
        dead.bind(("127.0.0.1", 0))
        down = "http://127.0.0.1:%d/api/v1" % dead.getsockname()[1]
        url = rec.url("/ping/k3y/?rid=1")
        r = run_bulk(["push", "--db", db, "--ping-url=" + url],
                     base_url=down,
                     env={"MEISA_BULK_GIVE_UP_SECONDS": "1",
                          "MEISA_BULK_BACKOFF_MS": "50"})
        assert r.returncode == 69, r.stderr
        assert rec.paths == ["/ping/k3y/start?rid=1", "/ping/k3y/69?rid=1"]
    # The resume hint and the run history never show the URL.
    assert "to resume, run" in r.stderr
    assert "k3y" not in r.stderr and "--ping-url=<redacted>" in r.stderr
    for args in (["status", "--runs"], ["status", "--runs", "--json"]):
        r = run_bulk(args + ["--db", db])
        assert r.returncode == 0, r.stderr
        assert "k3y" not in r.stdout and "<redacted>" in r.stdout


def test_an_unreachable_ping_url_is_a_warning(tmp_path):
    db = str(tmp_path / "s.db")
    csv = write_csv(tmp_path / "in.csv", 2)
    url = "http://127.0.0.1:9/ping/s3cret"
    r = run_bulk(["stage", "--db", db, "--ping-url", url, csv])
    assert r.returncode == 0, r.stderr
    assert r.stderr.count("warning: cannot reach the ping URL") == 2
    assert "s3cret" not in r.stderr
    r = run_bulk(["stage", "--db", db, "-q", "--ping-url", url, csv])
    assert r.returncode == 0 and r.stderr == ""
    r = run_bulk(["status", "--runs", "--db", db])
    assert "s3cret" not in r.stdout and "--ping-url <redacted>" in r.stdout


def test_a_ping_answered_with_an_error_is_a_warning(tmp_path):
    with PingRecorder(status=404) as rec:
        r = run_bulk(["stage", "--db", str(tmp_path / "s.db"), "--ping-url",
                      rec.url(), write_csv(tmp_path / "in.csv", 2)])
    assert r.returncode == 0, r.stderr
    assert "warning: the ping URL answered HTTP 404" in r.stderr
    assert "secret-uuid" not in r.stderr


def test_ping_url_is_checked_and_never_echoed(tmp_path):
    r = run_bulk(["stage", "--db", str(tmp_path / "s.db"), "--ping-url",
                  "ftp://h/s3cret", "x.csv"])
    assert r.returncode == 64 and "s3cret" not in r.stderr
    r = run_bulk(["status", "--db", str(tmp_path / "s.db"),
                  "--ping-url=https://h/s3cret"])
    assert r.returncode == 64 and "does not apply" in r.stderr
    assert "s3cret" not in r.stderr


# --------------------------------------------------- item 6: systemd units


UNITS = os.path.join(REPO, "contrib", "systemd")


def test_systemd_units_verify(tmp_path):
    if not shutil.which("systemd-analyze"):
        pytest.skip("systemd-analyze is not installed")
    # verify wants ExecStart's binary to exist: point it at the build.
    for name in ("meisa-bulk-sync.service", "meisa-bulk-sync.timer"):
        text = open(os.path.join(UNITS, name)).read()
        text = text.replace("/usr/local/bin/meisa-bulk",
                            os.path.join(MB_BUILD, "meisa-bulk"))
        (tmp_path / name).write_text(text)
    r = subprocess.run(["systemd-analyze", "verify", "--man=no",
                        str(tmp_path / "meisa-bulk-sync.service"),
                        str(tmp_path / "meisa-bulk-sync.timer")],
                       capture_output=True, text=True, timeout=60)
    problems = [l for l in (r.stdout + r.stderr).splitlines()
                if "meisa-bulk-sync" in l]
    assert r.returncode == 0 and not problems, r.stdout + r.stderr


def test_systemd_service_is_hardened_and_keeps_the_key_out():
    text = open(os.path.join(UNITS, "meisa-bulk-sync.service")).read()
    for line in ("ProtectSystem=strict", "PrivateTmp=yes",
                 "NoNewPrivileges=yes", "ProtectHome=yes",
                 "RestrictAddressFamilies=AF_INET AF_INET6 AF_UNIX",
                 "LoadCredential=api-key:", "--api-key-file %d/api-key"):
        assert line in text, line
    assert "MEISA_API_KEY=" not in text


# ----------------------------------------------- item 8: a closed stdout


def closed_stdout(args, **kw):
    """Run with stdout a pipe whose reader is already gone."""
    r, w = os.pipe()
    os.close(r)
    try:
        return subprocess.run([os.path.join(MB_BUILD, "meisa-bulk")] + args,
                              stdout=w, stderr=subprocess.PIPE, text=True,
                              timeout=60, env=tool_env(), **kw)
    finally:
        os.close(w)


@pytest.fixture
def big_db(tmp_path):
    db = str(tmp_path / "s.db")
    r = run_bulk(["stage", "--db", db, "-q",
                  write_csv(tmp_path / "in.csv", 3000)])
    assert r.returncode == 0, r.stderr
    return db


def test_export_to_head_ends_quietly(big_db):
    exe = os.path.join(MB_BUILD, "meisa-bulk")
    r = subprocess.run(["bash", "-c", '"$0" export results -o - --db "$1"'
                        ' | head -1; exit "${PIPESTATUS[0]}"', exe, big_db],
                       capture_output=True, text=True, timeout=60,
                       env=tool_env())
    assert r.returncode == 0, r.stderr
    assert r.stderr == ""
    assert r.stdout.count("\n") == 1
    r = closed_stdout(["export", "results", "-o", "-", "--db", big_db])
    assert (r.returncode, r.stderr) == (0, "")


def test_text_status_to_a_closed_pipe_is_quiet(big_db):
    for args in (["status"], ["status", "--runs"]):
        r = closed_stdout(args + ["--db", big_db])
        assert (r.returncode, r.stderr) == (0, ""), args


def test_a_lost_json_result_is_74_said_only_on_an_open_stderr(big_db):
    r = closed_stdout(["status", "--json", "--db", big_db])
    assert r.returncode == 74
    assert r.stderr.count("\n") == 1
    assert "cannot write to standard output: Broken pipe" in r.stderr
    # With stderr closed too, the status alone says it.
    r = closed_stdout(["status", "--json", "--db", big_db],
                      preexec_fn=lambda: os.close(2))
    assert r.returncode == 74


def test_a_full_disk_on_stdout_stays_an_error(big_db):
    with open("/dev/full", "w") as full:
        r = subprocess.run([os.path.join(MB_BUILD, "meisa-bulk"), "export",
                            "results", "-o", "-", "--db", big_db],
                           stdout=full, stderr=subprocess.PIPE, text=True,
                           timeout=60, env=tool_env())
    assert r.returncode == 74
    assert "No space left on device" in r.stderr
