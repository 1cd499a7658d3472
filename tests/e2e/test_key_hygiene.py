"""The API key stays secret, TLS stays verified, personal data stays 0600.

SPEC.md: the key is never a command-line argument and never appears in any
output, log or staging file; TLS verification is always on, the only way
off is --insecure, which warns on every run; the staging file is created
0600.  These tests run the real meisa-bulk against meisa-sandbox (or a raw
socket server for answers a real server would not send) with one
distinctive key, KEY, and look for it everywhere a user or another local
user could see it: every process's argv while a push runs, stdout and
stderr of every command (successes, 401, 403, the API down, --insecure,
-v), the staging file's bytes with its -wal/-shm/-journal, and every
export.  A server that echoes the request headers back in an error body
must not make us print the key either.

The sandbox itself is started with --key KEY on its command line: it is
the fake Meisa, not the client, so its own process is left out of the argv
scan (meisa-sandbox --help: "Sandbox keys are not secrets").
"""
import os
import shutil
import socket
import ssl
import stat
import subprocess
import threading
import time

import pytest

from conftest import CLOSED_URL, MB_BUILD, run_bulk, tool_env
from test_adversarial import RawServer, http

KEY = "meisa_test_HYGIENE_5f3c9a1e7d_secret"
LIMITED = "meisa_test_HYGIENE_limited_c0ffee"   # contacts:read only
WRONG = "meisa_test_HYGIENE_wrong_deadbeef"
KEYS = (KEY, LIMITED, WRONG)
# Give up after 1 s of failures, retrying every few ms (README's knobs).
FAST_GIVE_UP = {"MEISA_BULK_GIVE_UP_SECONDS": "1",
                "MEISA_BULK_BACKOFF_MS": "10"}

CONTACTS = "email,first_name,tags\n" + "".join(
    "user%02d@example.com,User %d,a\n" % (i, i) for i in range(30)) + \
    "not-an-address,Bad,\n"


@pytest.fixture
def sb(sandbox_factory):
    return sandbox_factory("--rate", "none", "--key", KEY,
                           "--key", LIMITED + "=contacts:read",
                           "--sequence", "onboarding=active")


def assert_no_key(text, where):
    if isinstance(text, bytes):
        for k in KEYS:
            assert k.encode() not in text, "key %s in %s" % (k, where)
    else:
        for k in KEYS:
            assert k not in text, "key %s in %s:\n%s" % (k, where, text)


def assert_files_clean(*paths):
    for p in paths:
        if os.path.exists(p):
            with open(p, "rb") as f:
                assert_no_key(f.read(), p)


def staging_files(db):
    return [db] + [db + s for s in ("-wal", "-shm", "-journal")]


def bulk(args, key=KEY, **kw):
    """run_bulk, and no key in what it printed, whatever happened."""
    res = run_bulk(args, key=key, **kw)
    assert_no_key(res.stdout, "stdout of %s" % args)
    assert_no_key(res.stderr, "stderr of %s" % args)
    return res


def test_no_key_in_any_output_file_or_staging_file(tmp_path, sb):
    db = str(tmp_path / "s.db")
    src = tmp_path / "in.csv"
    src.write_text(CONTACTS)
    for v in ([], ["-v"], ["--json"]):
        assert bulk(["stage", "--db", db, str(src)] + v).returncode == 0
        assert bulk(["ping"] + v, base_url=sb.url).returncode == 0
        assert bulk(["sequences"] + v, base_url=sb.url).returncode == 0
        res = bulk(["import", "--db", db, "--yes", "--rate", "none",
                    "--sequence", "onboarding", str(src)] + v,
                   base_url=sb.url)
        assert res.returncode == 0, res.stderr
        assert bulk(["push", "--db", db, "--yes", "--dry-run"] + v,
                    base_url=sb.url).returncode == 0
        assert bulk(["status", "--db", db] + v).returncode == 0
    exports = []
    for what in ("rejects", "results", "suppressed", "unsubscribed"):
        for ext in (".csv", ".csv.gz"):
            out = str(tmp_path / (what + ext))
            res = bulk(["export", what, "--db", db, "-o", out],
                       base_url=sb.url)
            assert res.returncode == 0, res.stderr
            exports.append(out)
        assert bulk(["export", what, "--db", db, "-o", "-"],
                    base_url=sb.url).returncode == 0
    assert bulk(["help"]).returncode == 0
    assert bulk(["--version"]).returncode == 0
    assert_files_clean(*staging_files(db), *exports)
    # The key file path may be recorded; the key may not.
    keyfile = tmp_path / "key"
    keyfile.write_text(KEY + "\n")
    keyfile.chmod(0o600)
    assert bulk(["push", "--db", db, "--yes", "--api-key-file",
                 str(keyfile)], key=None, base_url=sb.url).returncode == 0
    assert_files_clean(*staging_files(db))


@pytest.mark.parametrize("case", ["401", "403", "down", "insecure",
                                  "control", "missing"])
def test_no_key_in_errors(tmp_path, sb, case):
    args, key, url = ["ping", "-v"], KEY, sb.url
    if case == "401":
        key = WRONG
    elif case == "403":
        args, key = ["sequences", "-v"], LIMITED
    elif case == "down":
        url = CLOSED_URL
    elif case == "insecure":
        args = ["ping", "-v", "--insecure"]
    elif case == "control":
        key = KEY + "\nX-Injected: 1"
    elif case == "missing":
        key = None
    res = bulk(args, key=key, base_url=url,
               env=FAST_GIVE_UP)
    want = {"401": (77, "the API key was refused: Meisa answered 401:"
                    ' {"detail":"Invalid API key."}'),
            "403": (77, "the API key lacks a scope: Meisa answered 403:"),
            "down": (69, "Meisa answered nothing but errors for"),
            "insecure": (0, "--insecure: TLS certificates are NOT verified"),
            "control": (77, "the API key contains a space or a control"
                        " character"),
            "missing": (77, "no API key: set MEISA_API_KEY")}[case]
    assert res.returncode == want[0], res.stderr
    assert want[1] in res.stderr, res.stderr


def test_key_in_no_process_argv_during_a_push(tmp_path, sandbox_factory):
    """Scan /proc/*/cmdline while a slow push runs (with the key from the
    environment, then from --api-key-file); the staging file's -wal and
    -shm, which exist only meanwhile, are checked too (0600, no key)."""
    sbx = sandbox_factory("--rate", "none", "--key", KEY, "--latency-ms",
                          "150")
    src = tmp_path / "in.csv"
    src.write_text("".join(CONTACTS.splitlines(True)[:13]))  # 12 contacts
    keyfile = tmp_path / "key"
    keyfile.write_text(KEY + "\n")
    keyfile.chmod(0o600)
    for n, (key, extra) in enumerate(((KEY, []),
                                      (None, ["--api-key-file",
                                              str(keyfile)]))):
        db = str(tmp_path / ("s%d.db" % n))
        assert bulk(["stage", "--db", db, str(src)]).returncode == 0
        env = tool_env({"MEISA_BASE_URL": sbx.url})
        env.pop("MEISA_API_KEY", None)
        if key:
            env["MEISA_API_KEY"] = key
        proc = subprocess.Popen(
            [os.path.join(MB_BUILD, "meisa-bulk"), "push", "--db", db,
             "--yes", "--rate", "none", "--concurrency", "1"] + extra,
            env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        scans, seen_self, sidecars = 0, False, set()
        while proc.poll() is None:
            for pid in os.listdir("/proc"):
                if not pid.isdigit() or int(pid) == sbx.proc.pid:
                    continue
                try:
                    with open("/proc/%s/cmdline" % pid, "rb") as f:
                        argv = f.read()
                except OSError:
                    continue
                # The sandbox is told the key on its command line (it
                # plays Meisa); any sandbox, also another test run's on
                # this machine, is the server side, not the tool.
                if argv.split(b"\0", 1)[0].endswith(b"meisa-sandbox"):
                    continue
                assert KEY.encode() not in argv, (pid, argv)
                seen_self |= int(pid) == proc.pid
            for suffix in ("-wal", "-shm"):
                try:
                    mode = stat.S_IMODE(os.stat(db + suffix).st_mode)
                except FileNotFoundError:
                    continue
                assert mode == 0o600, (suffix, oct(mode))
                sidecars.add(suffix)
            scans += 1
            time.sleep(0.05)
        out, err = proc.communicate()
        assert proc.returncode == 0, err
        assert_no_key(out + err, "push output")
        assert seen_self and scans >= 10, (scans, seen_self)
        assert sidecars == {"-wal", "-shm"}
        assert_files_clean(*staging_files(db))


def test_api_key_file(tmp_path, sb):
    keyfile = tmp_path / "key"
    keyfile.write_text(KEY + "\r\n")
    keyfile.chmod(0o600)
    res = bulk(["ping", "--api-key-file", str(keyfile)], key=None,
               base_url=sb.url)
    assert res.returncode == 0, res.stderr
    assert "warning" not in res.stderr
    # The file wins over the environment.
    res = bulk(["ping", "--api-key-file", str(keyfile)], key=WRONG,
               base_url=sb.url)
    assert res.returncode == 0, res.stderr
    keyfile.chmod(0o644)
    res = bulk(["ping", "--api-key-file", str(keyfile)], key=None,
               base_url=sb.url)
    assert res.returncode == 0, res.stderr
    assert "key file '%s' is readable by others; chmod 600 it" % keyfile \
        in res.stderr
    res = bulk(["ping", "--api-key-file", str(tmp_path / "nope")], key=None,
               base_url=sb.url)
    assert res.returncode == 77, res.stderr
    assert "cannot open key file '%s'" % (tmp_path / "nope") in res.stderr
    empty = tmp_path / "empty"
    empty.write_text("\n")
    res = bulk(["ping", "--api-key-file", str(empty)], key=None,
               base_url=sb.url)
    assert res.returncode == 77, res.stderr
    assert "no API key" in res.stderr


@pytest.mark.parametrize("args", [
    ["--key", KEY],
    ["--api-key", KEY],
    ["--api-key=" + KEY],
    ["--api", KEY],
])
def test_the_key_as_an_argument_is_refused_without_echoing_it(sb, args):
    res = bulk(["ping"] + args, key=None, base_url=sb.url)
    assert res.returncode == 64, res.stderr


# ------------------------------------------------------------------ echo


class EchoServer(RawServer):
    """Answers status with a body quoting the request's head verbatim,
    as a proxy's or firewall's error page may."""

    def __init__(self, status, then=()):
        self.status = status
        self.then = list(then)
        super().__init__([b""])

    def serve(self):
        while not self.done:
            try:
                conn, _ = self.sock.accept()
            except socket.timeout:
                continue
            with conn:
                conn.settimeout(5)
                head = b""
                while b"\r\n\r\n" not in head:
                    chunk = conn.recv(65536)
                    if not chunk:
                        break
                    head += chunk
                if not head:
                    continue
                n = len(self.requests)
                self.requests.append(head.split(b"\r\n", 1)[0].decode())
                if n < len(self.then):
                    conn.sendall(self.then[n])
                else:
                    body = head.replace(b"\r\n", b" | ").replace(b'"', b"'")
                    conn.sendall(http(self.status, b'{"detail":"' + body +
                                      b'"}'))
                conn.shutdown(socket.SHUT_WR)


PING = ('{"status":"ok","environment":"test","scopes":["contacts:read",'
        '"contacts:write","sequences:read","sequences:enroll"]}')


@pytest.mark.parametrize("status", [400, 401, 403, 422, 500])
def test_an_echoed_key_is_masked_in_errors(tmp_path, status):
    srv = EchoServer(status)
    try:
        res = bulk(["ping"], base_url=srv.url,
                   env=FAST_GIVE_UP)
    finally:
        srv.close()
    assert res.returncode != 0
    # Meisa's answer is quoted, with the key masked (a 5xx is retried
    # until giving up, which names it as the last error).
    assert ("Meisa answered %d" % status in res.stderr or
            "(last: %d " % status in res.stderr), res.stderr
    assert "X-API-Key: ****" in res.stderr, res.stderr
    assert "User-Agent: meisa-bulk/" in res.stderr


def test_an_echoed_key_stays_out_of_staging_file_and_exports(tmp_path):
    db = str(tmp_path / "s.db")
    src = tmp_path / "in.csv"
    src.write_text("email\nann@example.com\n")
    assert bulk(["stage", "--db", db, str(src)]).returncode == 0
    srv = EchoServer(422, then=[
        http(200, PING),
        http(200, '{"as_of":"2026-01-01T00:00:00Z","count":0,"emails":[]}')])
    try:
        res = bulk(["push", "--db", db, "--yes", "--rate", "none"],
                   base_url=srv.url)
    finally:
        srv.close()
    assert res.returncode == 1, res.stderr
    out = str(tmp_path / "results.csv")
    assert bulk(["export", "results", "--db", db, "-o", out]).returncode == 0
    with open(out) as f:
        text = f.read()
    assert "X-API-Key: ****" in text, text
    assert_files_clean(*staging_files(db), out)


# ------------------------------------------------------------------- TLS


def test_https_to_a_plain_http_port_fails(sb):
    url = sb.url.replace("http://", "https://")
    res = bulk(["ping"], base_url=url,
               env=FAST_GIVE_UP)
    assert res.returncode == 69, res.stderr
    assert "SSL" in res.stderr or "TLS" in res.stderr, res.stderr
    assert not sb.requests("status = 200")


@pytest.fixture
def tls_server(tmp_path):
    """An HTTPS server with a self-signed certificate answering ping."""
    openssl = shutil.which("openssl")
    assert openssl, "openssl(1) is needed to make a self-signed certificate"
    cert, key = str(tmp_path / "cert.pem"), str(tmp_path / "key.pem")
    subprocess.run([openssl, "req", "-x509", "-newkey", "rsa:2048",
                    "-nodes", "-keyout", key, "-out", cert, "-days", "1",
                    "-subj", "/CN=127.0.0.1",
                    "-addext", "subjectAltName=IP:127.0.0.1"],
                   check=True, capture_output=True)
    srv = RawServer([http(200, PING)])
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(cert, key)
    srv.done = True
    srv.thread.join()
    srv.sock = ctx.wrap_socket(srv.sock, server_side=True,
                               do_handshake_on_connect=True)
    srv.done = False

    def serve():
        while not srv.done:
            try:
                srv.serve()
            except (ssl.SSLError, OSError):
                continue

    srv.thread = threading.Thread(target=serve, daemon=True)
    srv.thread.start()
    srv.url = srv.url.replace("http://", "https://")
    yield srv
    srv.close()


def test_self_signed_certificate_fails(tls_server):
    res = bulk(["ping"], base_url=tls_server.url,
               env=FAST_GIVE_UP)
    assert res.returncode == 69, res.stderr
    assert "certificate" in res.stderr, res.stderr
    assert not tls_server.requests


def test_a_certificate_failure_fails_at_once(tls_server):
    try:
        res = run_bulk(["ping"], key=KEY, base_url=tls_server.url,
                       timeout=10)
    except subprocess.TimeoutExpired:
        pytest.fail("still retrying a certificate failure after 10 s")
    assert res.returncode == 69, res.stderr
    assert "certificate" in res.stderr, res.stderr


def test_insecure_is_the_only_way_and_warns_every_run(tls_server):
    for _ in range(2):
        res = bulk(["ping", "--insecure"], base_url=tls_server.url)
        assert res.returncode == 0, res.stderr
        assert "--insecure: TLS certificates are NOT verified" in res.stderr
    assert len(tls_server.requests) == 2


def test_insecure_warns_even_when_quiet(tls_server):
    res = bulk(["ping", "-q", "--insecure"], base_url=tls_server.url)
    assert res.returncode == 0, res.stderr
    assert "--insecure: TLS certificates are NOT verified" in res.stderr


# ------------------------------------------------------------------ 0600


def test_staging_file_and_exports_are_0600_under_umask_000(tmp_path, sb):
    db = str(tmp_path / "s.db")
    src = tmp_path / "in.csv"
    src.write_text(CONTACTS)
    preexisting = tmp_path / "old.csv"
    preexisting.write_text("x\n")
    preexisting.chmod(0o644)
    outs = [str(tmp_path / n) for n in ("r.csv", "r.csv.gz")] + \
        [str(preexisting)]

    def run(args):
        res = subprocess.run([os.path.join(MB_BUILD, "meisa-bulk")] + args,
                             env=tool_env({"MEISA_API_KEY": KEY,
                                           "MEISA_BASE_URL": sb.url}),
                             capture_output=True, text=True, timeout=120,
                             preexec_fn=lambda: os.umask(0))
        assert res.returncode == 0, res.stderr
        assert_no_key(res.stdout + res.stderr, args)

    run(["import", "--db", db, "--yes", "--rate", "none", str(src)])
    for out in outs:
        run(["export", "rejects", "--db", db, "-o", out])
    for path in [db] + outs:
        mode = stat.S_IMODE(os.stat(path).st_mode)
        assert mode == 0o600, (path, oct(mode))
