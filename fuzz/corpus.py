#!/usr/bin/python3
"""Build the seed corpus of every fuzz target from fixtures/.

    fuzz/corpus.py OUTDIR

writes OUTDIR/<target>/ for each target (emptied first).  Inputs
follow each target's format (see the comment at the top of its .c file):

fuzz_stage, fuzz_parse
    two selector bytes (preset, delimiter, file name; --tag), then a file:
    every fixture (fixtures/*.csv, *.csv.gz, mailchimp/, bad/ where small),
    plain and gzipped, under each options byte worth trying.
fuzz_http
    a mode byte, then HTTP responses separated by FUZZ_SEP: Meisa's answers
    as meisa-sandbox gives them, and the faults the client must survive
    (401, 422, 429 with Retry-After, 5xx, bodies cut short, chunked, junk).
fuzz_rate
    --rate specs, good and bad, each followed by a run of operations.
"""
import gzip
import hashlib
import os
import shutil
import sys

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
FIX = os.path.join(REPO, "fixtures")
MAX_LEN = 65536 - 2
SEP = b"\n~~~~\n"

MAILCHIMP_NAMES = {"subscribed_": 1, "unsubscribed_": 2, "nonsubscribed_": 3}


def write(outdir, data):
    name = hashlib.sha1(data).hexdigest()
    with open(os.path.join(outdir, name), "wb") as f:
        f.write(data)


def fixture_files():
    for root, _dirs, files in os.walk(FIX):
        if os.path.join(FIX, "fuzz") in root:
            continue
        for name in sorted(files):
            if name.endswith((".md", ".py", ".sh")):
                continue
            path = os.path.join(root, name)
            if os.path.getsize(path) <= 4 * MAX_LEN:
                yield path


def name_bits(path):
    base = os.path.basename(path)
    for prefix, index in MAILCHIMP_NAMES.items():
        if base.startswith(prefix):
            return index << 6
    return 0


def stage_seeds(outdir):
    n = 0
    for path in fixture_files():
        with open(path, "rb") as f:
            data = f.read()
        plain = data[:MAX_LEN]
        sel = name_bits(path)
        variants = [bytes([sel, 0]) + plain,           # auto, detect
                    bytes([sel, 1]) + plain,           # --tag extras
                    bytes([sel | 1 << 4, 0]) + plain]  # delimiter ','
        if not data.startswith(b"\x1f\x8b"):
            variants.append(bytes([sel, 0]) + gzip.compress(plain, 6))
        for v in variants:
            write(outdir, v)
            n += 1
    # Every preset forced on a generic file.
    with open(os.path.join(FIX, "generic.csv"), "rb") as f:
        generic = f.read()[:MAX_LEN]
    for preset in range(16):
        write(outdir, bytes([preset, 0]) + generic)
        n += 1
    return n


def http(status, body, headers=(), reason=None):
    reason = reason or {200: "OK", 201: "Created", 400: "Bad Request",
                        401: "Unauthorized", 403: "Forbidden",
                        404: "Not Found", 422: "Unprocessable Entity",
                        429: "Too Many Requests", 500: "Internal Server Error",
                        503: "Service Unavailable"}.get(status, "X")
    if isinstance(body, str):
        body = body.encode()
    lines = ["HTTP/1.1 %d %s" % (status, reason),
             "Content-Type: application/json",
             "Content-Length: %d" % len(body)] + list(headers)
    return ("\r\n".join(lines) + "\r\n\r\n").encode() + body


PING = ('{"status":"ok","environment":"test","scopes":["contacts:read",'
        '"contacts:write","events:track","sequences:read",'
        '"sequences:enroll","emails:trigger","tags:write"]}')
SEQS = ('{"count":2,"results":[{"slug":"onboarding","name":"Onboarding",'
        '"status":"active"},{"slug":"old","name":"Old","status":"paused"}]}')
UNSUB = ('{"as_of":"2026-11-26T14:00:50.749Z","count":2,'
         '"emails":["bob@example.com","Zed@Example.com"]}')
UPSERT = ('{"id":"01a21828-b546-716b-8f1c-d5c42c06f5ad","email":'
          '"ann@example.com","external_id":null,"first_name":"Ann",'
          '"custom_fields":{},"tags":["a"],"source":"import","status":'
          '"active"}')
ENROLL = ('{"sequence_slug":"onboarding","enrolled":2,"skipped":1,'
          '"results":[{"email":"ann@example.com","status":"enrolled"},'
          '{"email":"DEE@example.com","status":"already_enrolled"},'
          '{"email":"bob@example.com","status":"enrolled"}]}')


def script(*responses):
    return SEP.join(responses)


def http_seeds(outdir):
    ok_ping = http(200, PING)
    seeds = [
        # 0: ping
        (0, [ok_ping]),
        (0, [http(401, '{"detail":"Invalid API key."}')]),
        (0, [http(429, '{"detail":"slow down"}', ["Retry-After: 0"]),
             ok_ping]),
        (0, [http(503, "", ["Retry-After: 1"]), ok_ping]),
        (0, [http(200, '{"environment":"live","scopes":"contacts:read"}')]),
        (0, [http(200, "not json")]),
        (0, [b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
             b"5\r\n{\"env\r\n3\r\nir\"\r\n0\r\n\r\n"]),
        (0, [b"HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\n{\"scopes\":["]),
        (0, [b"HTTP/1.0 200\r\n\r\n" + PING.encode()]),
        (0, [b"garbage\r\n\r\n"]),
        # 1: sequences
        (1, [http(200, SEQS)]),
        (1, [http(200, '[{"slug":"a","name":"A","status":"active"},1,null]')]),
        (1, [http(200, '{"count":1,"results":{"slug":"x"}}')]),
        (1, [http(500, "<html>oops</html>"), http(200, SEQS)]),
        (1, [http(429, "", ["Retry-After: Wed, 21 Oct 2015 07:28:00 GMT"]),
             http(200, SEQS)]),
        # 2: unsubscribed
        (2, [http(200, UNSUB)]),
        (2, [http(200, "")]),
        (2, [http(200, '{"emails":[1,{"a":2},"X@Y.Z",null,"  a@b.c "]}')]),
        (2, [http(403, '{"detail":"missing scope contacts:read"}')]),
        # 3: a whole push
        (3, [ok_ping, http(200, SEQS), http(200, UNSUB)] +
            [http(201, UPSERT)] * 4 + [http(200, ENROLL)]),
        (3, [ok_ping, http(200, SEQS), http(200, UNSUB),
             http(201, UPSERT), http(422, '{"email":["Enter a valid email '
                                           'address."]}'),
             http(500, ""), http(201, UPSERT),
             http(429, "", ["Retry-After: 0"]), http(201, "{}"),
             http(201, "[]"), http(200, ENROLL)]),
        (3, [ok_ping, http(200, SEQS), http(200, UNSUB)] +
            [http(201, UPSERT)] * 4 +
            [http(400, '{"detail":"unknown sequence"}')]),
        (3, [ok_ping, http(200, SEQS), http(200, '{"emails":[]}')] +
            [http(201, UPSERT)] * 4 +
            [http(200, '{"results":[{"email":"ann@example.com",'
                       '"status":{"x":1}}]}')]),
        (3, [ok_ping, http(200, SEQS), http(200, UNSUB),
             http(401, '{"detail":"key revoked"}')]),
    ]
    n = 0
    for mode, responses in seeds:
        write(outdir, bytes([mode]) + script(*responses))
        n += 1
    for value in [b"120", b"0", b" 7 ", b"Wed, 21 Oct 2015 07:28:00 GMT",
                  b"Sunday, 06-Nov-94 08:49:37 GMT",
                  b"Sun Nov  6 08:49:37 1994", b"-1", b"1.5",
                  b"99999999999999999999999", b"Fri, 31 Dec 2099 23:59:59 GMT"]:
        write(outdir, bytes([4]) + value)
        n += 1
    return n


def rate_seeds(outdir):
    specs = [b"60/m,1000/h", b"10/s", b"none", b"2/s,5/m", b" 1000000/h ",
             b"1/s,1/m,1/h,1/d", b"60/m,", b"x/m", b"0/s", b"5/y"]
    ops = (b"\x01" * 12 + b"\x02\xff\xff" + b"\x01" * 3 +
           b"\x00\x03\xe8\x01\x03\x01\x04\x00\x40\x05\x00\x07"
           b"\x02\x00\x05\x01\x01")
    for spec in specs:
        write(outdir, spec + b"\n" + ops)
    return len(specs)


def main():
    if len(sys.argv) != 2:
        sys.exit("usage: corpus.py OUTDIR")
    out = sys.argv[1]
    for target, build in (("fuzz_stage", stage_seeds),
                          ("fuzz_parse", stage_seeds),
                          ("fuzz_http", http_seeds),
                          ("fuzz_rate", rate_seeds)):
        d = os.path.join(out, target)
        shutil.rmtree(d, ignore_errors=True)
        os.makedirs(d)
        print("%s: %d seeds in %s" % (target, build(d), d))


if __name__ == "__main__":
    main()
