"""The staging half of the store layer (issue 14 items 1 and 3).

Only the store (lib/db.c, lib/store_*.c) speaks SQL to the staging file:
stage's files call it and hold no sqlite3_* call, no db_exec, db_prepare
or db_int.  Each of stage's files stays one concept, under 1,000 lines.
Every fallible function the store declares carries MB_MUST_USE.  These
read the source tree: no binary, no sandbox.
"""
import glob
import os
import re

from conftest import REPO

SQL_CALL = re.compile(r"\b(sqlite3_\w+|db_exec|db_prepare|db_int)\s*\(")


def stage_files():
    return sorted(glob.glob(os.path.join(REPO, "lib", "stage*.c")))


def test_stage_files_hold_no_sql_calls():
    """SQL on the staging file had no owner: stage.c called SQLite."""
    found = []
    for path in stage_files():
        with open(path, encoding="utf-8") as f:
            for n, line in enumerate(f, 1):
                if SQL_CALL.search(line):
                    found.append("%s:%d: %s" % (os.path.basename(path), n,
                                                line.strip()))
    assert found == []


def test_stage_files_are_one_concept_each():
    """stage.c held five concepts in 1,900 lines."""
    paths = stage_files()
    assert len(paths) >= 4      # stage, and its queue, reader and inputs
    for path in paths:
        with open(path, encoding="utf-8") as f:
            text = f.read()
        assert text.startswith("/*\n"), path          # an opening comment
        assert text.count("\n") < 1000, path


def test_store_stage_functions_must_be_used():
    """A fallible store function's result cannot be dropped silently."""
    for name in ("store_stage.h", "store_inputs.h"):
        with open(os.path.join(REPO, "lib", name), encoding="utf-8") as f:
            text = f.read()
        decls = re.findall(r"^(.*)\benum mb_rc (store_\w+)\(", text, re.M)
        assert decls, name
        for prefix, func in decls:
            assert "MB_MUST_USE" in prefix, "%s: %s" % (name, func)
