"""Waiting, giving up and retrying (issue 13 items 1, 4, 6, 13, 14).

The give-up rule counts only time in which sending was allowed and every
answer was an error; waiting for the client's own --rate windows, the first
429's pause or a SIGSTOP never counts.  3xx stops the run; 408/425 retry.
"""
import json
import os
import re
import signal
import subprocess
import time

from conftest import MB_BUILD, staging_query, tool_env
from hostile_http import HostileMeisa

UPSERT = "/api/v1/contacts/upsert/"
KEY = "meisa_test_k"


def write_export(path, n):
    with open(path, "w", encoding="utf-8") as f:
        f.write("email,first_name\n")
        for i in range(n):
            f.write("user%d@example.com,Name%d\n" % (i, i))
    return str(path)


def stage(bulk, tmp_path, n):
    db = str(tmp_path / "stage.db")
    r = bulk(["stage", write_export(tmp_path / "in.csv", n), "--db", db])
    assert r.returncode == 0, r.stderr
    return db


def status(bulk, db):
    r = bulk(["status", "--json", "--db", db])
    assert r.returncode == 0, r.stderr
    return json.loads(r.stdout)


def popen_push(db, url, *args, env=None):
    extra = {"MEISA_API_KEY": KEY, "MEISA_BASE_URL": url}
    extra.update(env or {})
    return subprocess.Popen([os.path.join(MB_BUILD, "meisa-bulk"), "push",
                             "--db", db] + list(args), env=tool_env(extra),
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                            text=True)


# SLOW (about 2 minutes of real time): the only long test allowed.
def test_own_window_waits_never_give_up(tmp_path, sandbox_factory, bulk):
    # Give-up counted from the last answer while the client's own 20/m
    # window held it back: exit 69 after the first 20 requests.
    sb = sandbox_factory("--key", KEY)   # Meisa's default 60/m,1000/h
    db = stage(bulk, tmp_path, 45)
    r = bulk(["push", "--db", db, "--rate", "20/m", "-v"], key=KEY,
             base_url=sb.url, timeout=300,
             env={"MEISA_BULK_GIVE_UP_SECONDS": "5"})
    assert r.returncode == 0, r.stderr
    assert status(bulk, db)["upserted"] == 45
    assert sb.requests("status = 429") == []
    assert "for the 20/m window" in r.stderr


def test_sigstop_never_counts(tmp_path, sandbox_factory, bulk):
    # Stopped for longer than the give-up time: not a failure.
    sb = sandbox_factory("--rate", "none", "--key", KEY)
    db = stage(bulk, tmp_path, 25)
    p = popen_push(db, sb.url, "--rate", "5/s",
                   env={"MEISA_BULK_GIVE_UP_SECONDS": "1"})
    time.sleep(1.5)
    p.send_signal(signal.SIGSTOP)
    time.sleep(3)
    p.send_signal(signal.SIGCONT)
    _, err = p.communicate(timeout=60)
    assert p.returncode == 0, err
    assert status(bulk, db)["upserted"] == 25


def test_ping_gives_up_under_a_429_storm(sandbox_factory, bulk):
    # meisa_call retried 429s before its give-up check: ping never ended.
    sb = sandbox_factory("--key", KEY, "--rate-storm", "0:3600")
    t0 = time.monotonic()
    r = bulk(["ping"], key=KEY, base_url=sb.url, timeout=60,
             env={"MEISA_BULK_GIVE_UP_SECONDS": "10"})
    assert time.monotonic() - t0 < 15
    assert r.returncode == 69, r.stderr
    assert "429" in r.stderr and "asked to wait" in r.stderr
    assert "progress is kept" not in r.stderr


def test_upserts_give_up_under_a_429_storm(tmp_path, sandbox_factory, bulk):
    db = stage(bulk, tmp_path, 100)
    sb = sandbox_factory("--rate", "none", "--key", KEY,
                         "--rate-storm", "2:3600")
    t0 = time.monotonic()
    r = bulk(["push", "--db", db, "--rate", "10/s"], key=KEY,
             base_url=sb.url, timeout=60,
             env={"MEISA_BULK_GIVE_UP_SECONDS": "10"})
    assert time.monotonic() - t0 < 15
    assert r.returncode == 69, r.stderr
    assert "(last: 429 Too Many Requests" in r.stderr
    assert "progress is kept" in r.stderr
    st = status(bulk, db)
    assert st["upserted"] > 0 and st["pending"] > 0 and st["failed"] == 0


def test_ping_with_the_api_down_names_the_error(bulk):
    r = bulk(["ping"], key=KEY, env={"MEISA_BULK_GIVE_UP_SECONDS": "1",
                                     "MEISA_BULK_BACKOFF_MS": "50"})
    assert r.returncode == 69, r.stderr
    assert "progress is kept" not in r.stderr
    assert "to resume" not in r.stderr
    assert "(last: " in r.stderr


def test_upsert_give_up_names_the_last_error(tmp_path, sandbox_factory, bulk):
    sb = sandbox_factory("--rate", "none", "--key", KEY, "--fail-rate", "1",
                         "--fault-paths", "/contacts/upsert/")
    db = stage(bulk, tmp_path, 5)
    r = bulk(["push", "--db", db], key=KEY, base_url=sb.url,
             env={"MEISA_BULK_GIVE_UP_SECONDS": "1.5",
                  "MEISA_BULK_BACKOFF_MS": "50"})
    assert r.returncode == 69, r.stderr
    assert "nothing but errors for 2s (last: 50" in r.stderr
    assert "progress is kept" in r.stderr


def test_redirect_stops_the_run(tmp_path, bulk):
    db = stage(bulk, tmp_path, 3)
    evil = "http://elsewhere.example/api/v1/contacts/upsert/"
    with HostileMeisa([(302, {"Location": evil})]) as srv:
        r = bulk(["push", "--db", db], key=KEY, base_url=srv.url)
        upserts = [q for q in srv.requests if q[1].endswith("/upsert/")]
    assert r.returncode == 69, r.stderr
    assert "redirect to " + evil + "; check MEISA_BASE_URL" in r.stderr
    assert 1 <= len(upserts) <= 3
    st = status(bulk, db)
    assert st["failed"] == 0 and st["pending"] == 3


def test_408_and_425_are_retried(tmp_path, bulk):
    db = stage(bulk, tmp_path, 1)
    script = [(408, {}), (425, {}), (201, {})]
    with HostileMeisa(script) as srv:
        r = bulk(["push", "--db", db, "--json"], key=KEY, base_url=srv.url,
                 env={"MEISA_BULK_BACKOFF_MS": "20"})
        upserts = [q for q in srv.requests if q[1].endswith("/upsert/")]
    assert r.returncode == 0, r.stderr
    assert len(upserts) == 3
    st = status(bulk, db)
    assert st["upserted"] == 1 and st["failed"] == 0


def test_preflight_says_it_waits(tmp_path, sandbox_factory, bulk):
    # The persisted sends fill the 3/m window: the next run's ping waits,
    # and says so before waiting.
    sb = sandbox_factory("--rate", "none", "--key", KEY)
    db = stage(bulk, tmp_path, 10)
    r = bulk(["push", "--db", db, "--rate", "3/m", "--max-requests", "3"],
             key=KEY, base_url=sb.url)
    assert r.returncode == 75, r.stderr
    p = popen_push(db, sb.url, "--rate", "3/m")
    time.sleep(2.5)
    p.send_signal(signal.SIGTERM)
    _, err = p.communicate(timeout=60)
    assert p.returncode == 75, err
    assert "waiting " in err and "for the 3/m window" in err


def test_sighup_stops_like_sigterm(tmp_path, sandbox_factory, bulk):
    # SIGHUP killed the push (exit 129, no hint, the run left "running").
    sb = sandbox_factory("--rate", "none", "--key", KEY)
    db = stage(bulk, tmp_path, 200)
    p = popen_push(db, sb.url, "--rate", "20/s")
    time.sleep(2)
    p.send_signal(signal.SIGHUP)
    _, err = p.communicate(timeout=60)
    assert p.returncode == 75, err
    assert "to resume, run" in err
    runs = staging_query(db, "SELECT kind, exit_status, ended_at FROM runs"
                         " WHERE kind = 'push'")
    assert runs[-1][1] == 75 and runs[-1][2] is not None


def test_sigkills_never_undercount_requests(tmp_path, sandbox_factory, bulk):
    # Sends were written after they went out: each SIGKILL lost up to a
    # batch of them, and the next run underestimated the hour window.
    # Fast, but with an hour window: its send times are all kept.
    RATE = "300/s,20000/h"
    sb = sandbox_factory("--rate", "none", "--key", KEY, "--latency-ms", "5")
    db = stage(bulk, tmp_path, 1500)
    kills = 0
    for delay in (0.6, 0.9, 0.7, 1.1, 0.8):
        p = popen_push(db, sb.url, "--rate", RATE, "--concurrency", "4",
                       "-q")
        time.sleep(delay)
        if p.poll() is None:
            p.kill()
            kills += 1
        p.communicate(timeout=60)
    p = popen_push(db, sb.url, "--rate", RATE, "-q")
    _, err = p.communicate(timeout=300)
    assert p.returncode == 0, err
    assert kills >= 3
    st = status(bulk, db)
    assert st["upserted"] == 1500
    seen = len(sb.requests())
    assert st["requests"] >= seen
    # The window keeps a send time for each request counted.
    kept = staging_query(db, "SELECT count(*) FROM sends")[0][0]
    assert kept >= seen


def test_progress_eta_counts_every_window(tmp_path, sandbox_factory, bulk):
    # The ETA came from the rate measured so far: at 5/m, 17 contacts
    # left after a burst of 5 showed "ETA 17s", not about 3.5 minutes.
    sb = sandbox_factory("--rate", "none", "--key", KEY)
    db = stage(bulk, tmp_path, 20)
    p = popen_push(db, sb.url, "--rate", "5/m", "-v")
    time.sleep(6.5)
    p.send_signal(signal.SIGTERM)
    _, err = p.communicate(timeout=60)
    assert p.returncode == 75, err
    lines = [l for l in err.splitlines() if l.startswith("upsert: 3/20")]
    assert lines, err
    assert re.search(r"ETA 3m\d\ds", lines[0]), lines[0]
    assert "waiting " in lines[0] and "for the 5/m window" in lines[0]
