"""The README is the manual: its set-up commands are what CI runs, it documents every
command and function, and its examples are real output (re-run here)."""

from __future__ import annotations

import re
import shlex

import pytest
from conftest import REPO

from gradcli.cli import cli
from gradcli.ops import FUNCTIONS

README = (REPO / "README.md").read_text(encoding="utf-8")
CI = (REPO / ".ci" / "run").read_text(encoding="utf-8")
BLOCKS = re.findall(r"```[a-z]*\n(.*?)```", README, flags=re.S)


def test_the_readme_opens_with_the_two_set_up_commands() -> None:
    install_and_run, install_and_test = BLOCKS[0].strip(), BLOCKS[1].strip()
    assert "pip install" in install_and_run
    assert install_and_run.endswith('gradcli eval "(x+y)*z" -x 2 -y 3 -z -4')
    assert "pip install" in install_and_test and "'.[test]'" in install_and_test
    assert "pytest" in install_and_test


def test_ci_runs_the_readme_test_command_verbatim() -> None:
    assert BLOCKS[1].strip() in CI.splitlines()


@pytest.mark.parametrize("command", sorted(cli.commands))
def test_every_command_is_documented(command: str) -> None:
    assert f"gradcli {command}" in README


@pytest.mark.parametrize("name", sorted(FUNCTIONS))
def test_every_function_is_documented(name: str) -> None:
    assert re.search(rf"\b{name}\b", README), name


def _examples() -> list[tuple[str, str]]:
    """Every `$ gradcli ...` line in a README block with the output shown under it,
    except pipelines, redirections and multi-command lines."""
    found = []
    for block in BLOCKS:
        lines = block.splitlines()
        for i, line in enumerate(lines):
            if not line.startswith("$ gradcli "):
                continue
            if _is_pipeline(line[2:]):
                continue
            out = []
            for follow in lines[i + 1 :]:
                if follow.startswith("$ "):
                    break
                out.append(follow)
            found.append((line[2:], "\n".join(out).rstrip()))
    return found


def _is_pipeline(command: str) -> bool:
    """True when the shell would see a pipe, a redirection or a second command."""
    lexer = shlex.shlex(command, posix=True, punctuation_chars=True)
    lexer.whitespace_split = True
    return any(set(token) <= set("|&;<>()") for token in lexer) or "$(" in command


EXAMPLES = _examples()


def test_the_readme_has_examples() -> None:
    assert len(EXAMPLES) >= 4


@pytest.mark.parametrize(("command", "expected"), EXAMPLES, ids=[c[:60] for c, _ in EXAMPLES])
def test_readme_examples_print_what_the_readme_shows(run_cli, command: str, expected: str) -> None:
    args = shlex.split(command)[1:]
    _, out, err = run_cli(*args)
    shown = "\n".join(line.rstrip() for line in (out + err).rstrip().splitlines())
    assert shown == expected
