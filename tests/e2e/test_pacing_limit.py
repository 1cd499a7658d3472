"""Pacing at the limit (issue 16 item 7): a --rate equal to Meisa's own
limit uses the window fully and never gets a 429.

The unit tests (test_ratelimit.c) hold the limiter to >= 99% of every
window on an injected clock; this real run, on a loaded 2-core machine
under ASan, asserts >= 98.5% (it measured 99.0-99.5% at a load of 8;
the former fixed 20 ms margin could not pass 98.0%).
"""
import json

KEY = "meisa_test_pace"


def write_export(path, n):
    with open(path, "w", encoding="utf-8") as f:
        f.write("email\n")
        for i in range(n):
            f.write("pace%d@example.com\n" % i)
    return str(path)


def window_use(times, limit, span):
    """The share of the window used: span over the mean time the limit-th
    next request took to follow each one (1.0: exactly limit per span)."""
    gaps = [times[i] - times[i - limit] for i in range(limit, len(times))]
    return span / (sum(gaps) / len(gaps))


def test_twenty_per_second_uses_the_window(tmp_path, sandbox_factory, bulk):
    sb = sandbox_factory("--rate", "20/s", "--key", KEY)
    db = str(tmp_path / "stage.db")
    r = bulk(["stage", write_export(tmp_path / "in.csv", 110), "--db", db])
    assert r.returncode == 0, r.stderr
    r = bulk(["push", "--db", db, "--rate", "20/s", "--json"], key=KEY,
             base_url=sb.url)
    assert r.returncode == 0, r.stderr
    assert json.loads(r.stdout)["upserted"] == 110
    seen = sb.requests()
    assert [q for q in seen if q["status"] == 429] == []
    use = window_use(sorted(q["ts"] for q in seen), 20, 1.0)
    print("window use: %.4f" % use)
    assert use >= 0.985, use
