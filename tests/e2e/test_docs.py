"""The documentation users get: man pages, bash completion, make install.

The man pages must render without a warning and cover every command,
option, environment variable and exit status the programs really have (read
from their --help texts, their sources and SPEC.md, so that a new option
without its documentation fails here).  The completion is exercised by
sourcing it in bash and calling its function with COMP_WORDS/COMP_CWORD
set, as readline would.  make install/uninstall run for real into a
DESTDIR.
"""
import os
import re
import shutil
import stat
import subprocess

import pytest

from conftest import MB_BUILD, REPO, tool_env

BULK = os.path.join(MB_BUILD, "meisa-bulk")
SANDBOX = os.path.join(MB_BUILD, "meisa-sandbox")
BULK_MAN = os.path.join(REPO, "man", "meisa-bulk.1")
SANDBOX_MAN = os.path.join(REPO, "man", "meisa-sandbox.1")
COMPLETION = os.path.join(REPO, "completions", "meisa-bulk.bash")
PAGES = [BULK_MAN, SANDBOX_MAN]

LONG_OPT = re.compile(r"(?<![\w-])--[a-z][a-z0-9-]*[a-z0-9]")


def run(cmd, **kw):
    kw.setdefault("env", tool_env())
    return subprocess.run(cmd, capture_output=True, text=True, timeout=60,
                          **kw)


def read(path):
    with open(path, encoding="utf-8") as f:
        return f.read()


def render(page):
    """The page as plain text (no overstrike, no hyphenation)."""
    if shutil.which("mandoc"):
        r = run(["mandoc", "-T", "ascii", "-O", "width=200", page])
    else:
        r = run(["groff", "-mandoc", "-Tascii", "-P-cbou", "-rLL=200n",
                 "-rHY=0", page])
    assert r.returncode == 0, r.stderr
    text = re.sub(r".\x08", "", r.stdout)
    return re.sub(r"-\n\s+", "-", text)


def section(text, name):
    """The body of the top-level section called name."""
    m = re.search(r"^%s\n(.*?)(?=^[A-Z][A-Z ]+\n|\Z)" % re.escape(name),
                  text, re.M | re.S)
    assert m, "no section %s" % name
    return m.group(1)


def mentions(text, word):
    return re.search(r"(?<![\w-])%s(?![\w-])" % re.escape(word), text)


def help_text(*args):
    r = run([BULK, *args])
    assert r.returncode == 0, r.stderr
    return r.stdout


def commands():
    """The commands of meisa-bulk, from its table in cmd/meisa-bulk.c
    (read at collection time: no binary needed to parametrize)."""
    src = read(os.path.join(REPO, "cmd", "meisa-bulk.c"))
    names = re.findall(r'^\t\{ "([a-z]+)", cmd_', src, re.M)
    assert "import" in names and "help" in names
    return names


def help_options(command):
    """The options `meisa-bulk help COMMAND` shows: on its usage line and
    in its option list (not those its description merely mentions)."""
    lines = [l for l in help_text("help", command).split("\n")
             if l.startswith("usage:") or re.match(r"\s+-", l)]
    text = "\n".join(lines)
    return set(LONG_OPT.findall(text)) | set(
        re.findall(r"(?<![\w-])-[a-z]\b", text))


def source_long_options(path):
    """{name: takes a value} from the long_options[] table of a program."""
    table = re.search(r"long_options\[\] = \{(.*?)\n\};", read(path), re.S)
    assert table, path
    return {m.group(1): m.group(2) == "required"
            for m in re.finditer(r'\{ "([a-z-]+)", (no|required)_argument',
                                 table.group(1))}


# ---- man pages: lint -----------------------------------------------------

@pytest.mark.parametrize("page", PAGES, ids=os.path.basename)
def test_man_page_lints_clean(page):
    if shutil.which("mandoc"):
        r = run(["mandoc", "-T", "lint", "-W", "warning", page])
        assert r.returncode == 0 and not r.stdout + r.stderr, \
            r.stdout + r.stderr
    r = run(["groff", "-mandoc", "-ww", "-z", page])
    assert r.returncode == 0 and not r.stderr, r.stderr
    if shutil.which("man"):
        env = tool_env({"MANWIDTH": "80", "MANPAGER": "cat", "PAGER": "cat"})
        r = run(["man", "--warnings", "-E", "UTF-8", "-l", page], env=env)
        assert r.returncode == 0 and not r.stderr, r.stderr
        assert "NAME" in r.stdout


@pytest.mark.parametrize("page", PAGES, ids=os.path.basename)
def test_man_page_has_the_usual_sections(page):
    text = render(page)
    for name in ("NAME", "SYNOPSIS", "DESCRIPTION", "OPTIONS", "FILES",
                 "EXIT STATUS", "EXAMPLES", "SEE ALSO"):
        assert re.search(r"^%s$" % name, text, re.M), name


# ---- man pages: coverage -------------------------------------------------

def test_bulk_man_page_documents_every_command():
    text = render(BULK_MAN)
    synopsis = section(text, "SYNOPSIS")
    listed = re.findall(r"^  ([a-z]+)\b", help_text("help"), re.M)
    assert sorted(listed) == sorted(commands())
    for name in commands():
        assert re.search(r"meisa-bulk %s\b" % name, synopsis), name
        assert re.search(r"^ {5}%s\b" % name, section(text, "DESCRIPTION"),
                         re.M), "no entry for the command %s" % name


@pytest.mark.parametrize("command", commands())
def test_bulk_man_page_documents_every_option_of(command):
    text = section(render(BULK_MAN), "OPTIONS")
    opts = help_options(command)
    assert command == "help" or "-h" in opts or "--json" in opts
    for opt in opts:
        assert mentions(text, opt), "%s (of %s) is not in OPTIONS" % (
            opt, command)


def test_bulk_man_page_documents_every_option_in_the_source():
    text = section(render(BULK_MAN), "OPTIONS")
    for name in source_long_options(os.path.join(REPO, "cmd",
                                                 "meisa-bulk.c")):
        assert mentions(text, "--" + name), "--%s" % name


def test_bulk_man_page_documents_every_environment_variable():
    src = read(os.path.join(REPO, "cmd", "meisa-bulk.c"))
    names = set(re.findall(r'(?:getenv|env_ms)\("([A-Z_]+)"', src))
    assert {"MEISA_API_KEY", "MEISA_BASE_URL", "NO_COLOR"} <= names
    env = section(render(BULK_MAN), "ENVIRONMENT")
    for name in names:
        assert re.search(r"^ {5}%s$" % name, env, re.M), name


def test_bulk_man_page_documents_every_exit_status():
    codes = set()
    # SPEC.md lives next to the repository, where there is one.
    spec = os.path.join(os.path.dirname(REPO), "shared", "SPEC.md")
    if os.path.exists(spec):
        table = read(spec).split("## Exit status", 1)[1].split("\n## ")[0]
        codes |= set(re.findall(r"^\| (\d+) \|", table, re.M))
        assert {"0", "1", "64", "69", "75", "77"} <= codes
    # Every status the program can map a result to.
    err = read(os.path.join(REPO, "lib", "err.c"))
    body = err.split("int mb_exit_code", 1)[1]
    codes |= set(re.findall(r"return (\d+);", body))
    documented = set(re.findall(r"^ {5}(\d+) ",
                                section(render(BULK_MAN), "EXIT STATUS"),
                                re.M))
    assert codes <= documented, sorted(codes - documented, key=int)


def test_bulk_man_page_documents_the_files_and_examples():
    text = render(BULK_MAN)
    files = section(text, "FILES")
    for word in ("meisa-bulk.db", "meisa-bulk.db-wal", "0600", ".gz"):
        assert word in files, word
    examples = section(text, "EXAMPLES")
    for title in ("Migrate from Mailchimp", "Nightly sync",
                  "Resume after an interruption",
                  "Rehearse against the sandbox"):
        assert re.search(r"^ {3}%s" % title, examples, re.M), title
    # The cron example: a crontab line, the staging file, --yes.
    assert re.search(r"^\s+30 2 \* \* \* ", examples, re.M)
    assert "--db /var/lib/meisa/sync.db --yes" in examples
    assert "MEISA_BASE_URL" in examples and "--port-file" in examples


def test_sandbox_man_page_documents_every_option():
    text = section(render(SANDBOX_MAN), "OPTIONS")
    r = run([SANDBOX, "--help"])
    assert r.returncode == 0
    opts = set(LONG_OPT.findall(r.stdout)) | {"-h", "-v"}
    opts |= {"--" + n for n in source_long_options(
        os.path.join(REPO, "cmd", "meisa-sandbox.c"))}
    assert "--port-file" in opts and "--lost-ack-rate" in opts
    for opt in opts:
        assert mentions(text, opt), opt


# ---- bash completion -----------------------------------------------------

def complete(*words, cwd=None, func="_meisa_bulk"):
    """What the completion offers for words (the last one is being typed)."""
    script = ('source "$1"; shift; COMP_WORDS=("$@"); '
              'COMP_CWORD=$(($# - 1)); %s; '
              'printf "%%s\\n" "${COMPREPLY[@]}"' % func)
    r = subprocess.run(["bash", "--norc", "--noprofile", "-c", script,
                        "bash", COMPLETION, *words], capture_output=True,
                       text=True, timeout=30, cwd=cwd)
    assert r.returncode == 0 and not r.stderr, r.stderr
    return sorted(w for w in r.stdout.split("\n") if w)


def completion_list(name):
    """A word list variable of the completion script."""
    m = re.search(r'^%s="(.*?)"$' % name, read(COMPLETION), re.M | re.S)
    assert m, name
    return m.group(1).replace("\\\n", " ").split()


def test_completion_script_is_valid_bash():
    r = subprocess.run(["bash", "-n", COMPLETION], capture_output=True,
                       text=True)
    assert r.returncode == 0, r.stderr
    r = subprocess.run(["bash", "--norc", "-c", 'source "$0"; complete -p',
                        COMPLETION], capture_output=True, text=True)
    assert "-F _meisa_bulk meisa-bulk" in r.stdout
    assert "-F _meisa_sandbox meisa-sandbox" in r.stdout


def test_completion_of_commands():
    assert complete("meisa-bulk", "") == sorted(commands())
    assert complete("meisa-bulk", "st") == ["stage", "status"]
    assert complete("meisa-bulk", "--v") == ["--version"]
    assert complete("meisa-bulk", "help", "") == sorted(commands())
    assert complete("meisa-bulk", "help", "ex") == ["export"]
    assert complete("meisa-bulk", "help", "push", "") == []


# A valid value for every option that takes one (to run the binary with).
VALUES = {"--db": "x.db", "--preset": "auto", "--map": "Mail=email",
          "--delimiter": ",", "--encoding": "windows-1252", "--tag": "t", "--source": "import",
          "--sequence": "s", "--rate": "none", "--concurrency": "2",
          "--max-requests": "5", "--max-missing": "10%", "--api-key-file": "k", "-o": "f",
          "--output": "f", "--search": "s", "--metrics-file": "m.prom",
          "--ping-url": "https://hc.example/p", "--trace": "t.jsonl"}


@pytest.mark.parametrize("command", commands())
def test_completion_of_options_per_command(command):
    offered = complete("meisa-bulk", command, "-")
    # Every option the command's help shows is offered ...
    missing = {o for o in help_options(command) if o.startswith("--")} - \
        set(offered)
    assert not missing, missing
    # ... and every option offered is one the command accepts.
    valued = source_long_options(os.path.join(REPO, "cmd", "meisa-bulk.c"))
    for opt in offered:
        takes_value = opt == "-o" or valued.get(opt[2:], False)
        args = [opt, VALUES[opt]] if takes_value else [opt]
        r = run([BULK, command, *args, "--help"])
        assert r.returncode == 0, "%s %s: %s" % (command, opt, r.stderr)
    assert complete("meisa-bulk", command, "--zz") == []


def test_completion_knows_which_options_take_a_value():
    valued = {"--" + n for n, v in source_long_options(
        os.path.join(REPO, "cmd", "meisa-bulk.c")).items() if v} | {"-o"}
    assert set(completion_list("_meisa_bulk_valued")) == valued
    # A value is not taken for the command, an option after it still works.
    assert complete("meisa-bulk", "stage", "--preset", "kit", "--ta") == [
        "--tag"]
    assert complete("meisa-bulk", "push", "--db", "=", "x.db", "--dry") == [
        "--dry-run"]


def test_completion_of_presets():
    src = read(os.path.join(REPO, "lib", "presets.c"))
    table = re.search(r"struct preset presets\[\] = \{(.*?)\n\};", src, re.S)
    presets = re.findall(r'\{ "([a-z]+)",', table.group(1))
    assert "mailchimp" in presets and "generic" in presets
    assert complete("meisa-bulk", "stage", "--preset", "") == sorted(
        presets + ["auto"])
    assert complete("meisa-bulk", "import", "--preset", "mail") == [
        "mailchimp", "mailerlite"]
    assert complete("meisa-bulk", "import", "--preset", "=", "hub") == [
        "hubspot"]


def test_completion_of_db_files(tmp_path):
    for name in ("a.db", "b.db", "contacts.csv", "notes.md"):
        (tmp_path / name).write_text("")
    (tmp_path / "old").mkdir()
    cwd = str(tmp_path)
    assert complete("meisa-bulk", "push", "--db", "", cwd=cwd) == [
        "a.db", "b.db", "old"]
    assert complete("meisa-bulk", "status", "--db", "a", cwd=cwd) == ["a.db"]
    assert complete("meisa-bulk", "push", "--db", "=", "", cwd=cwd) == [
        "a.db", "b.db", "old"]
    assert complete("meisa-bulk", "push", "--db", "=", cwd=cwd) == [
        "a.db", "b.db", "old"]
    # Input files for stage and import: CSV, compressed files and zips.
    (tmp_path / "export.csv.gz").write_text("")
    (tmp_path / "members_export_1.zip").write_text("")
    (tmp_path / "AUDIENCE.ZIP").write_text("")
    assert complete("meisa-bulk", "stage", "", cwd=cwd) == [
        "AUDIENCE.ZIP", "contacts.csv", "export.csv.gz",
        "members_export_1.zip", "old"]
    assert complete("meisa-bulk", "export", "rejects", "-o", "n",
                    cwd=cwd) == ["notes.md"]
    assert complete("meisa-sandbox", "--db", "", cwd=cwd,
                    func="_meisa_sandbox") == ["a.db", "b.db", "old"]


def test_completion_of_values():
    exports = complete("meisa-bulk", "export", "")
    usage = help_text("help", "export").split("\n")[0]
    assert set(re.search(r"export (\S+)", usage).group(1).split("|")) == \
        set(exports)
    assert "missing" in exports
    assert complete("meisa-bulk", "export", "rejects", "") == []
    assert complete("meisa-bulk", "import", "--source", "") == [
        "import", "initial_sync"]
    fields = complete("meisa-bulk", "stage", "--map", "Email", "=", "")
    assert "email" in fields and "custom:" in fields
    assert complete("meisa-bulk", "stage", "--map", "Email", "=", "ex") == [
        "external_id"]
    assert complete("meisa-bulk", "stage", "--map", "Email=first") == [
        "Email=first_name"]
    assert complete("meisa-bulk", "push", "--sequence", "") == []
    assert "tab" in complete("meisa-bulk", "stage", "--delimiter", "")


def test_completion_of_sandbox_options():
    r = run([SANDBOX, "--help"])
    offered = complete("meisa-sandbox", "-", func="_meisa_sandbox")
    assert set(LONG_OPT.findall(r.stdout)) <= set(offered)
    for opt in offered:
        assert opt[2:] in source_long_options(
            os.path.join(REPO, "cmd", "meisa-sandbox.c")) or opt in (
                "-h", "-v"), opt


# ---- make install, make uninstall ----------------------------------------

def make_env():
    env = tool_env()
    # Run by `make check`: do not join its jobserver or take its variables.
    for name in ("MAKEFLAGS", "MAKELEVEL", "MFLAGS", "MAKEOVERRIDES"):
        env.pop(name, None)
    return env


def test_install_then_uninstall(tmp_path):
    out, dest = tmp_path / "build", tmp_path / "dest"
    common = ["O=%s" % out, "DESTDIR=%s" % dest, "PREFIX=/usr/local"]
    r = subprocess.run(["make", "-C", REPO, "--no-print-directory", "-j2",
                        "install", *common], capture_output=True, text=True,
                       timeout=600, env=make_env())
    assert r.returncode == 0, r.stdout + r.stderr
    # install built first: nothing existed in the output tree.
    assert (out / "meisa-bulk").exists()
    root = dest / "usr" / "local"
    expect = {
        "bin/meisa-bulk": 0o755, "bin/meisa-sandbox": 0o755,
        "share/man/man1/meisa-bulk.1": 0o644,
        "share/man/man1/meisa-sandbox.1": 0o644,
        "share/bash-completion/completions/meisa-bulk": 0o644,
    }
    for rel, mode in expect.items():
        st = os.stat(root / rel)
        assert stat.S_IMODE(st.st_mode) == mode, rel
    link = root / "share/bash-completion/completions/meisa-sandbox"
    assert os.readlink(link) == "meisa-bulk"
    assert read(root / "share/man/man1/meisa-bulk.1") == read(BULK_MAN)
    r = run([str(root / "bin/meisa-bulk"), "--version"])
    assert r.returncode == 0 and r.stdout.startswith("meisa-bulk ")
    r = run([str(root / "bin/meisa-sandbox"), "--version"])
    assert r.returncode == 0 and r.stdout.startswith("meisa-sandbox ")

    r = subprocess.run(["make", "-C", REPO, "--no-print-directory",
                        "uninstall", *common], capture_output=True,
                       text=True, timeout=120, env=make_env())
    assert r.returncode == 0, r.stdout + r.stderr
    left = [os.path.join(d, f) for d, _, files in os.walk(dest)
            for f in files]
    left += [os.path.join(d, s) for d, subdirs, _ in os.walk(dest)
             for s in subdirs if os.path.islink(os.path.join(d, s))]
    assert not left, left
