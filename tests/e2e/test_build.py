"""The build: what each program links, and what make rebuilds.

Each program links only the libraries it uses (issue 14): meisa-bulk never
carries libmicrohttpd (the sandbox's HTTP server), meisa-sandbox carries no
libcurl, libcsv, libzip or zlib.  Checked with readelf -d on the binaries in
MB_BUILD (build/asan under make check, where gcc does not pass --as-needed,
so the link lines themselves must be right).

Objects depend on the headers they include (gcc -MMD -MP), not on every
header, and building an object does not run the package check (deps-ok),
which belongs to the top-level targets only.  Both are asked of make
itself with -n (print, do not run) in a scratch output tree.
"""
import os
import re
import shutil
import subprocess

import pytest

from conftest import MB_BUILD, REPO, tool_env

BULK = os.path.join(MB_BUILD, "meisa-bulk")
SANDBOX = os.path.join(MB_BUILD, "meisa-sandbox")


def needed(binary):
    """The shared libraries binary names (DT_NEEDED), e.g. libcurl.so.4."""
    if not shutil.which("readelf"):
        pytest.skip("readelf (binutils) is not installed")
    with open(binary, "rb") as f:
        if f.read(4) != b"\x7fELF":
            pytest.skip("%s is not an ELF file (a wrapper?)" % binary)
    r = subprocess.run(["readelf", "-d", binary], capture_output=True,
                       text=True, timeout=60)
    assert r.returncode == 0, r.stderr
    return re.findall(r"\(NEEDED\)\s+Shared library: \[([^\]]+)\]",
                      r.stdout)


def named(libs, name):
    return [lib for lib in libs if lib.startswith(name + ".so")]


def test_meisa_bulk_does_not_link_libmicrohttpd():
    libs = needed(BULK)
    assert named(libs, "libcurl"), libs   # the check reads the right list
    assert not named(libs, "libmicrohttpd"), libs


def test_meisa_sandbox_links_only_what_it_uses():
    libs = needed(SANDBOX)
    assert named(libs, "libmicrohttpd"), libs
    assert named(libs, "libsqlite3"), libs
    for lib in ("libcurl", "libcsv", "libzip", "libz"):
        assert not named(libs, lib), libs


def make_env():
    env = tool_env()
    # Run by `make check`: do not join its jobserver or take its variables.
    for name in ("MAKEFLAGS", "MAKELEVEL", "MFLAGS", "MAKEOVERRIDES"):
        env.pop(name, None)
    return env


def make(out, *args):
    r = subprocess.run(["make", "-C", REPO, "--no-print-directory",
                        "O=%s" % out, *args], capture_output=True,
                       text=True, timeout=300, env=make_env())
    assert r.returncode == 0, r.stdout + r.stderr
    return r.stdout


def test_an_object_depends_on_the_headers_it_includes(tmp_path):
    obj = str(tmp_path / "lib" / "json.o")
    make(tmp_path, obj)
    assert "json.c" not in make(tmp_path, "-n", obj)
    # json.c includes json.h, not sha256.h: only the first rebuilds it.
    assert "json.c" in make(tmp_path, "-n", "-W", "lib/json.h", obj)
    assert "json.c" not in make(tmp_path, "-n", "-W", "lib/sha256.h", obj)


def test_building_an_object_does_not_check_packages(tmp_path):
    out = make(tmp_path, "-n", str(tmp_path / "lib" / "json.o"))
    assert "json.c" in out
    assert "dpkg-query" not in out and "pkgs-ok" not in out, out
