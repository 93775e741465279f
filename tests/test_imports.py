"""Start-up: each command imports only what it needs (NumPy only for batch;
rich only for tables; lark only for parsing)."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

HEAVY = ("rich", "numpy", "lark")


def _run_probe(code: str, env: dict[str, str] | None = None) -> tuple[set[str], str]:
    """Run ``code`` in a fresh interpreter: which of HEAVY it imported, and its stdout."""
    probe = (
        "import atexit, sys, json\n"
        "atexit.register(lambda: sys.stderr.write("
        f"'\\n' + json.dumps([m for m in {HEAVY!r} if m in sys.modules]) + '\\n'))\n"
        f"{code}\n"
    )
    proc = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True,
        env={**os.environ, **(env or {})}, timeout=60,
    )
    assert proc.returncode == 0, proc.stderr
    return set(json.loads(proc.stderr.strip().splitlines()[-1])), proc.stdout


def _modules_after(code: str) -> set[str]:
    return _run_probe(code)[0]


def _cli(*args: str) -> str:
    return (
        "from gradcli.cli import main\n"
        "import io, contextlib\n"
        "buf = io.StringIO()\n"
        f"with contextlib.redirect_stdout(buf): code = main({list(args)!r})\n"
        "assert code == 0, code\n"
    )


def test_importing_gradcli_imports_nothing_heavy() -> None:
    assert _modules_after("import gradcli") == set()


@pytest.mark.parametrize(
    "args",
    [
        ("eval", "(x+y)*z", "-x", "2", "-y", "3", "-z", "-4", "--json"),
        ("eval", "x*y", "-x", "2", "-y", "3", "--json", "--explain"),
        ("trace", "x*x", "-x", "2", "--json"),
        ("check", "x^2", "-x", "3", "--json"),
        ("descend", "x^2", "-x", "3", "--json"),
    ],
    ids=["eval", "eval-explain", "trace", "check", "descend"],
)
def test_json_output_imports_neither_rich_nor_numpy(args: tuple[str, ...]) -> None:
    assert _modules_after(_cli(*args)) == {"lark"}


def test_a_piped_table_imports_neither_rich_nor_numpy() -> None:
    # eval and trace draw a piped table in rich's layout themselves (tests/test_render.py)
    assert _modules_after(_cli("eval", "x*x", "-x", "2")) == {"lark"}
    assert _modules_after(_cli("trace", "x*x", "-x", "2")) == {"lark"}


@pytest.mark.parametrize("args", [("--help",), ("eval", "--help"), ("--version",)])
def test_help_and_version_import_nothing_heavy(args: tuple[str, ...]) -> None:
    code = (
        "from gradcli.cli import main\n"
        "import io, contextlib\n"
        f"with contextlib.redirect_stdout(io.StringIO()): main({list(args)!r})\n"
    )
    assert _modules_after(code) == set()


def test_a_completion_request_imports_nothing_heavy() -> None:
    env = {"_GRADCLI_COMPLETE": "bash_complete", "COMP_WORDS": "gradcli eval si", "COMP_CWORD": "2"}
    code = "from gradcli.cli import main\nmain([])\n"
    modules, out = _run_probe(code, env)
    assert "plain,sin(" in out.splitlines()
    assert modules == set()


def test_check_and_descend_load_on_first_use_and_stay_functions() -> None:
    code = (
        "import sys, gradcli\n"
        "assert 'gradcli.gradcheck' not in sys.modules and 'gradcli.descent' not in sys.modules\n"
        "import gradcli.gradcheck, gradcli.descent\n"  # as the CLI does
        "assert callable(gradcli.check) and callable(gradcli.descend)\n"
        "assert gradcli.check('x*x', {'x': 3}).ok\n"
    )
    assert _modules_after(code) == {"lark"}


@pytest.mark.parametrize(
    "args",
    [("eval", "x*y", "-x", "2", "-y", "3", "--json"), ("--help",), ("repl", "--help")],
    ids=["eval", "help", "repl-help"],
)
def test_no_command_but_repl_loads_the_session_or_prompt_toolkit(args: tuple[str, ...]) -> None:
    code = _cli(*args) + (
        "import sys\n"
        "print(sorted(m for m in ('prompt_toolkit', 'gradcli.session', 'gradcli.repl',"
        " 'gradcli.repl_terminal') if m in sys.modules))\n"
    )
    _, out = _run_probe(code)
    assert out.strip() == "[]"


def test_eval_json_loads_no_module_for_error_messages_only() -> None:
    """difflib ("did you mean") is for a word that may be a mistyped option or name:
    it cost every eval --json about 1.5 ms of start-up when options imported it. (With
    `-x 2` bindings click itself loads it, to word an unknown option it then ignores.)"""
    code = _cli("eval", "(x+y)*z", "x=2", "y=3", "z=-4", "--json") + (
        "assert 'difflib' not in sys.modules, 'difflib'\n"
    )
    _run_probe("import sys\n" + code)
