"""Shell completion through real shells: the shipped scripts sourced in bash (and zsh
and fish when they are installed), TAB pressed on a terminal.

A formula keeps its quote open and gets no space after a function name; a name is
never glob-expanded against the working directory (a file named ``xABCsqrt(`` is
there to catch it); options that take a file complete file names; after SOURCE,
``-`` offers the program's own inputs as ``-x``.
"""

from __future__ import annotations

import os
import re
import select
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest
from conftest import REPO, gradcli_executable
from hypothesis import given
from hypothesis import strategies as st

SCRIPTS = REPO / "completions"


@pytest.fixture()
def workdir(tmp_path: Path) -> Path:
    """A working directory with files whose names a glob would match."""
    for name in ("xABCsin(", "xABCsqrt(", "data.csv"):
        (tmp_path / name).write_text("x\n1\n", encoding="utf-8")
    return tmp_path


def _env() -> dict[str, str]:
    exe_dir = str(Path(gradcli_executable()).parent)
    return {**os.environ, "PATH": exe_dir + os.pathsep + os.environ.get("PATH", ""), "TERM": "xterm"}


def _bash_reply(line: str, cwd: Path) -> list[str]:
    """COMPREPLY of the shipped bash function for ``line`` (cursor at its end)."""
    program = (
        f"source '{SCRIPTS / 'gradcli.bash'}'\n"
        'COMP_LINE=$1; COMP_POINT=${#COMP_LINE}\n'
        "_gradcli_completion gradcli 2>/dev/null\n"
        'printf "%s\\n" "${COMPREPLY[@]}"\n'
    )
    proc = subprocess.run(["bash", "-c", program, "bash", line], capture_output=True, text=True,
                          env=_env(), cwd=cwd, timeout=60)
    return [reply for reply in proc.stdout.splitlines() if reply]


# --- the pieces, without a shell ---------------------------------------------------------


def test_the_line_is_read_as_the_shell_reads_it() -> None:
    from gradcli.completion import split_line

    line = split_line('gradcli eval "x * ex', " \t\n\"'><=;|&(:")
    assert line.words == ["gradcli", "eval"] and line.incomplete == "x * ex"
    assert line.quote == '"' and line.tail == "x * ex"
    line = split_line("gradcli eval 'a b' x=2 --batch=da", " \t\n\"'><=;|&(:")
    assert line.words == ["gradcli", "eval", "a b", "x=2"]
    assert line.incomplete == "--batch=da" and line.tail == "da"
    assert split_line("gradcli eval x\\*si").incomplete == "x*si"


def test_a_candidate_is_quoted_for_the_word_it_goes_on() -> None:
    from gradcli.completion import quote_for

    assert quote_for("sin(", "") == "sin\\("
    assert quote_for('a"$b', '"') == 'a\\"\\$b'
    assert quote_for("it's", "'") == "it'\\''s"


def test_the_inputs_of_a_program_are_its_free_names_in_order() -> None:
    from gradcli.completion import program_inputs

    assert program_inputs("q = a*b; q + c*sin(a) + pi") == ["a", "b", "c"]
    assert program_inputs("p = w*x\nloss = (y - p)^2  # y is data") == ["w", "x", "y"]
    assert program_inputs('2x + (') == ["x"]


# --- bash, the function the script installs ------------------------------------------------


needs_bash = pytest.mark.skipif(shutil.which("bash") is None, reason="bash is not installed")


@needs_bash
def test_bash_never_glob_expands_a_candidate(workdir: Path) -> None:
    replies = _bash_reply("gradcli eval x*si", workdir)
    assert replies and "xABCsin(" not in replies
    assert set(replies) == {"x*sigmoid\\(", "x*sign\\(", "x*sin\\(", "x*sinh\\("}


@needs_bash
def test_bash_offers_the_programs_inputs_after_source(workdir: Path) -> None:
    replies = _bash_reply('gradcli eval "q = a*b; q + c" --json -', workdir)
    assert replies[:3] == ["-a", "-b", "-c"] and "-q" not in replies
    assert "--wrt" in replies
    replies = _bash_reply('gradcli eval "x*y" -x 2 y=3 -', workdir)
    assert "-x" not in replies and "-y" not in replies
    assert _bash_reply("gradcli eval -", workdir)[0].startswith("--")  # no SOURCE yet


@needs_bash
def test_bash_reads_the_program_of_file_for_its_inputs(workdir: Path) -> None:
    (workdir / "p.grad").write_text("f = u * v\n", encoding="utf-8")
    assert _bash_reply("gradcli eval --file p.grad -", workdir)[:2] == ["-u", "-v"]


@needs_bash
def test_a_fifo_given_to_file_is_not_opened_for_its_inputs(workdir: Path) -> None:
    """A FIFO would block TAB until something wrote to it: it is passed over like a
    directory, and the options are offered at once."""
    os.mkfifo(workdir / "p.fifo")
    assert "--json" in _bash_reply("gradcli eval --file p.fifo -", workdir)
    assert "--json" in _bash_reply("gradcli eval --file=p.fifo -", workdir)


# --- a terminal: what the line reads after TAB ----------------------------------------------


_SESSION = {
    "bash": (["bash", "--norc", "--noprofile", "-i"],
             "PS1='$ '; bind 'set bell-style none'; "
             "bind -x '\"\\C-t\": printf \"\\n<<%s>>\\n\" \"$READLINE_LINE\"'; source {script}\n"),
    "zsh": (["zsh", "-f", "-i"],
            "PS1='$ '; autoload -Uz compinit; compinit -u -D; source {script}; "
            "pb() {{ print -r -- \"<<$BUFFER>>\" }}; zle -N pb; bindkey '^T' pb\n"),
    "fish": (["fish", "--no-config", "-i"],
             "function fish_prompt; echo '$ '; end; source {script}; "
             "bind \\ct 'echo \"<<\"(commandline)\">>\"'\n"),
}


def _after_tab(shell: str, typed: list[str], cwd: Path) -> list[str]:
    """Type each line in an interactive ``shell`` that sourced the shipped script, press
    TAB, and read the line back (Ctrl-T prints it), then clear it."""
    import pty

    argv, setup = _SESSION[shell]
    pid, fd = pty.fork()
    if pid == 0:  # pragma: no cover - the child
        os.chdir(cwd)
        os.execvpe(argv[0], argv, _env())
    seen = b""

    def read_until(pattern: bytes, count: int, limit: float) -> None:
        nonlocal seen
        end = time.monotonic() + limit
        while time.monotonic() < end and len(re.findall(pattern, seen)) < count:
            ready, _, _ = select.select([fd], [], [], 0.05)
            if ready:
                try:
                    seen += os.read(fd, 65536)
                except OSError:
                    return

    try:
        read_until(rb".", 1, 10)  # the shell's first prompt
        os.write(fd, setup.format(script=SCRIPTS / f"gradcli.{shell}").encode() + b"\x14")
        read_until(rb"<<>>", 1, 20)  # Ctrl-T on the empty line: the setup is done
        for k, line in enumerate(typed, start=1):
            # The shell reads the keys in order: Ctrl-T runs once TAB's completion is done.
            os.write(fd, line.encode() + b"\t\x14")
            read_until(rb"<<gradcli", k, 20)
            os.write(fd, b"\x15")
    finally:
        os.close(fd)
        os.kill(pid, 9)
        os.waitpid(pid, 0)
    lines = re.findall(rb"<<([^>].*?)>>", seen)
    return [got.decode("utf-8", "replace") for got in lines if got.startswith(b"gradcli")]


@pytest.mark.parametrize("shell", ["bash", "zsh", "fish"])
def test_tab_on_a_terminal(shell: str, workdir: Path) -> None:
    if shutil.which(shell) is None:
        pytest.skip(f"{shell} is not installed")
    typed = [
        'gradcli eval "x * ex',  # inside a quoted formula: the quote stays open
        "gradcli eval 'x*sqr",
        "gradcli eval x --batch da",  # a file where a file is expected
        "gradcli eval --file da",
        "gradcli graph x --out da",
        'gradcli eval "x*yy" -x 2 -y',  # the program's own input
        "gradcli eval x*sqr",  # unquoted: escaped by the shell's rules, never globbed
    ]
    got = _after_tab(shell, typed, workdir)
    assert got == [
        'gradcli eval "x * exp(',
        "gradcli eval 'x*sqrt(",
        "gradcli eval x --batch data.csv ",
        "gradcli eval --file data.csv ",
        "gradcli graph x --out data.csv ",
        'gradcli eval "x*yy" -x 2 -yy ',
        "gradcli eval x\\*sqrt\\(" if shell == "zsh" else "gradcli eval x*sqrt\\(",
    ], f"{shell}: {got}"


if sys.platform == "win32":  # pragma: no cover
    pytestmark = pytest.mark.skip("no pty")


# --- whatever the line, a completion request answers -------------------------------------

_PIECES = ["gradcli", " ", "eval", "trace", "graph", "check", "descend", "functions", "completion", '"', "'",
           "\\", "-", "--", "--file", "--batch", "--out", "--grid", "--wrt", "x", "=", "x*y", "sin(", "si",
           "-x", "2", "\n", "\t", ";", "|", "$", "`", "--format", "svg", "é", "(", ")", "#", "--json", ":"]


@given(st.lists(st.sampled_from(_PIECES), max_size=14).map("".join), st.sampled_from(["bash", "zsh", "fish"]),
       st.integers(-3, 200))
def test_a_completion_request_never_fails(tail: str, shell: str, point: int) -> None:
    import contextlib
    import io

    from gradcli.cli import main

    line = "gradcli " + tail
    env = {"_GRADCLI_COMPLETE": f"{shell}_complete", "COMP_LINE": line}
    if shell == "bash":
        env |= {"COMP_POINT": str(point), "COMP_WORDBREAKS": " \t\n\"'><=;|&(:"}
    saved = dict(os.environ)
    os.environ.update(env)
    out = io.TextIOWrapper(io.BytesIO(), encoding="utf-8")  # click writes the answer as bytes
    err = io.StringIO()
    try:
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            code = main([])
    except SystemExit as done:  # click ends a completion request with sys.exit
        code = done.code
    finally:
        os.environ.clear()
        os.environ.update(saved)
    assert code == 0 and err.getvalue() == "", err.getvalue()


def test_every_option_that_takes_a_file_completes_file_names() -> None:
    import click

    from gradcli.cli import cli

    takes_file = []
    for name, command in cli.commands.items():
        ctx = click.Context(command, info_name=name)
        for param in command.params:
            if isinstance(param, click.Option) and any(w in (param.metavar or "") for w in ("FILE", "PATH")):
                takes_file.append(f"{name} {param.opts[0]}")
                kinds = {item.type for item in param.shell_complete(ctx, "da")}
                assert kinds == {"file"}, f"{name} {param.opts[0]} completes {kinds}"
    assert {"eval --file", "eval --batch", "graph --out"} <= set(takes_file)
