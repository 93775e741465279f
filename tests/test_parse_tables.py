"""The LALR parser tables ship inside the package (gradcli/parser_tables.py, made by
``python -m gradcli.parse``): they are what Lark makes of the grammar, the parser they
give reads every program as the one built from the grammar does, and nothing is read
from or written to the user's directories (a cache there could be planted, replaced
by a link or a FIFO, or left readable by others)."""

from __future__ import annotations

import os
import pickle
import random
import stat
import subprocess
import sys
from pathlib import Path

import lark
import pytest
from conftest import gradcli_executable
from fuzzing import SEEDS, mutate
from lark.exceptions import UnexpectedInput

from gradcli import parse as parsing
from gradcli import parser_tables
from gradcli.errors import GradError

REPO = Path(__file__).resolve().parent.parent


def test_the_shipped_tables_are_made_from_the_grammar_file() -> None:
    assert parser_tables.GRAMMAR == parsing.grammar_path().read_text(encoding="utf-8"), (
        "grammar/gradcli.lark changed: run `python -m gradcli.parse` to make the tables again"
    )


def _automaton(parser: lark.Lark) -> tuple[object, ...]:
    """A parser's LALR automaton and terminals in a canonical form: Lark numbers the
    states (and writes the tables) in an order that varies from run to run, so the
    states are renumbered in the order a walk from the start state meets them, each
    state's actions sorted by terminal."""
    from lark.parsers.lalr_analysis import Shift

    table = parser.parser.parser.parser.parse_table
    (start,) = table.start_states.values()
    ids = {start: 0}
    order = [start]
    rows = []
    for state in order:  # grows as new states are met
        row = []
        for terminal in sorted(table.states[state]):
            action, arg = table.states[state][terminal]
            if action is Shift:
                if arg not in ids:
                    ids[arg] = len(order)
                    order.append(arg)
                row.append((terminal, "shift", ids[arg]))
            else:
                rule = (str(arg.origin.name), tuple(str(s.name) for s in arg.expansion))
                row.append((terminal, "reduce", rule, arg.order, arg.alias, repr(arg.options)))
        rows.append(row)
    (end,) = table.end_states.values()
    terminals = sorted((t.name, t.pattern.to_regexp(), t.priority) for t in parser.terminals)
    return rows, ids[end], terminals, sorted(parser.lexer_conf.ignore)


def test_the_shipped_tables_are_what_lark_makes_of_the_grammar() -> None:
    if parser_tables.LARK_VERSION != lark.__version__:
        pytest.skip(f"the tables were made by Lark {parser_tables.LARK_VERSION}, not {lark.__version__}")
    shipped = parsing._shipped_parser()
    assert shipped is not None
    assert _automaton(shipped) == _automaton(parsing._lark(postlex=parsing._Implicit())), (
        "run `python -m gradcli.parse` to make the tables again"
    )


def test_a_run_uses_the_shipped_tables_and_builds_nothing() -> None:
    assert parsing._shipped_parser() is not None


def _read(parser: lark.Lark, source: str) -> object:
    """What a parser makes of ``source``: every node's type and span, or the error."""
    try:
        statements = parser.parse(source)
    except UnexpectedInput as exc:
        return ("error", type(exc).__name__, getattr(exc, "pos_in_stream", None))
    except GradError as err:
        return ("error", err.kind, err.message, err.span)
    out = []
    stack = list(statements)
    while stack:
        node = stack.pop()
        out.append((type(node).__name__, node.span, getattr(node, "op", None)))
        stack.extend([node.expr] if hasattr(node, "expr") else node.children())
    return out


def test_the_shipped_parser_reads_programs_as_the_grammar_built_one() -> None:
    shipped = parsing._shipped_parser()
    built = parsing._lark(postlex=parsing._Implicit())
    assert shipped is not None
    sources = [*SEEDS, "a = 2\r\nb = a < 3\rb", "x\u2028", "max(x, y, 1) >= 2x"]
    rng = random.Random(7)
    sources += [mutate(rng.choice(SEEDS), rng, rng.randrange(1, 5)) for _ in range(300)]
    for source in sources:
        assert _read(shipped, source) == _read(built, source), source


# --- nothing in the user's directories -------------------------------------------------

#: Where gradcli once kept a pickled parser: a place any process of the user can write.
OLD_CACHE = Path("gradcli") / f"parser-py{sys.version_info[0]}{sys.version_info[1]}.lark"


def _run(tmp_path: Path, timeout: float = 60, **env: str) -> subprocess.CompletedProcess[str]:
    work = tmp_path / "work"
    work.mkdir(exist_ok=True)
    unset = ("HOME", "XDG_CACHE_HOME", "GRADCLI_PARSER_TABLES")
    base = {k: v for k, v in os.environ.items() if k not in unset}
    return subprocess.run(
        [gradcli_executable(), "eval", "(x+y)*z", "-x", "2", "-y", "3", "-z", "-4", "--json"],
        capture_output=True, text=True, timeout=timeout, cwd=work, env={**base, **env},
    )


def _files_under(folder: Path) -> list[str]:
    return sorted(str(p.relative_to(folder)) for p in folder.rglob("*"))


def test_a_run_writes_nothing_in_the_home_or_cache_directory(tmp_path: Path) -> None:
    home, cache = tmp_path / "home", tmp_path / "cache"
    home.mkdir()
    cache.mkdir()
    for env in ({"HOME": str(home)}, {"HOME": str(home), "XDG_CACHE_HOME": str(cache)}):
        proc = _run(tmp_path, **env)
        assert proc.returncode == 0, proc.stderr
    assert _files_under(home) == [] and _files_under(cache) == []


@pytest.mark.parametrize(
    "env",
    # (An empty HOME is tried in-process below: the old code then wrote to "/.cache".)
    [{"XDG_CACHE_HOME": "relative"}, {"HOME": "."}, {"HOME": "/nonexistent", "XDG_CACHE_HOME": "."}],
    ids=["relative-xdg", "home-dot", "xdg-dot"],
)
def test_a_relative_or_empty_home_creates_no_folder_where_it_runs(
    tmp_path: Path, env: dict[str, str]
) -> None:
    proc = _run(tmp_path, **env)
    assert proc.returncode == 0, proc.stderr
    assert _files_under(tmp_path / "work") == []


def test_making_the_parser_creates_no_folder_and_writes_no_file(monkeypatch: pytest.MonkeyPatch) -> None:
    # In-process, with every attempt recorded and refused rather than made, so that no
    # run ever writes where an empty HOME once led the old code ("/.cache").
    import builtins

    tried: list[str] = []
    real_open = builtins.open

    def recording_open(file, mode="r", *args, **kwargs):  # type: ignore[no-untyped-def]
        if any(c in mode for c in "wax+"):
            tried.append(f"open {file} {mode}")
            raise PermissionError(f"this test refuses to write {file}")
        return real_open(file, mode, *args, **kwargs)

    def recording_makedirs(name, *args, **kwargs):  # type: ignore[no-untyped-def]
        tried.append(f"makedirs {name}")
        raise PermissionError(f"this test refuses to create {name}")

    monkeypatch.setattr(builtins, "open", recording_open)
    monkeypatch.setattr(os, "makedirs", recording_makedirs)
    monkeypatch.setattr(os, "mkdir", recording_makedirs)
    for env in ({"HOME": "", "XDG_CACHE_HOME": ""}, {"HOME": "/nonexistent", "XDG_CACHE_HOME": "rel"}):
        for key, value in env.items():
            monkeypatch.setenv(key, value)
        monkeypatch.setattr(parsing, "_parser", None)
        assert parsing.parse("q = x + 1\nq * 2").statements
    assert tried == []


def _plant(cache: Path, payload: bytes) -> Path:
    """Put ``payload`` where the old cache was, after the hash line Lark wrote there
    (or a made-up one when nothing was written)."""
    path = cache / OLD_CACHE
    first = path.read_bytes().split(b"\n", 1)[0] if path.is_file() else b"0" * 64
    path.parent.mkdir(parents=True, exist_ok=True)
    if path.is_file() or path.is_symlink():
        path.unlink()
    path.write_bytes(first + b"\n" + payload)
    return path


class _Plant:
    def __init__(self, marker: str) -> None:
        self.marker = marker

    def __reduce__(self) -> tuple[object, tuple[str]]:
        return (os.mkdir, (self.marker,))  # runs on unpickling


def test_a_planted_parser_file_runs_no_code(tmp_path: Path) -> None:
    cache = tmp_path / "cache"
    cache.mkdir()
    assert _run(tmp_path, XDG_CACHE_HOME=str(cache)).returncode == 0  # the old code wrote its cache here
    marker = tmp_path / "planted-code-ran"
    _plant(cache, pickle.dumps(_Plant(str(marker))))
    proc = _run(tmp_path, XDG_CACHE_HOME=str(cache))
    assert proc.returncode == 0, proc.stderr
    assert not marker.exists()


def test_a_link_in_the_cache_place_is_neither_followed_nor_written(tmp_path: Path) -> None:
    cache = tmp_path / "cache"
    (cache / "gradcli").mkdir(parents=True)
    target = tmp_path / "precious.txt"
    target.write_text("keep me\n")
    (cache / OLD_CACHE).symlink_to(target)
    proc = _run(tmp_path, XDG_CACHE_HOME=str(cache))
    assert proc.returncode == 0, proc.stderr
    assert target.read_text() == "keep me\n"


def test_a_fifo_in_the_cache_place_does_not_hang_a_run(tmp_path: Path) -> None:
    cache = tmp_path / "cache"
    (cache / "gradcli").mkdir(parents=True)
    os.mkfifo(cache / OLD_CACHE)
    try:
        proc = _run(tmp_path, timeout=20, XDG_CACHE_HOME=str(cache))
    except subprocess.TimeoutExpired:  # the old code opened the FIFO and waited for a writer
        pytest.fail("gradcli hung on a FIFO where its parser cache once was")
    assert proc.returncode == 0, proc.stderr
    assert stat.S_ISFIFO((cache / OLD_CACHE).stat().st_mode)
