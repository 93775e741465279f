"""Shell completion: the scripts for bash, zsh and fish, and what TAB offers.

The scripts are click's own (they call ``gradcli`` back with ``_GRADCLI_COMPLETE``
set); ``completions/`` in the repository holds them as generated, and a test fails
when they drift. Inside SOURCE, TAB completes function and constant names.
"""

from __future__ import annotations

import re

from .ops import CONSTANTS, FUNCTIONS

PROG = "gradcli"
COMPLETE_VAR = "_GRADCLI_COMPLETE"
_TRAILING_NAME = re.compile(r"[^\W\d]\w*$")


def completion_script(shell: str) -> str:
    """The completion script for ``shell`` (bash, zsh or fish), ending in a newline."""
    from click.shell_completion import get_completion_class

    from .cli import cli

    cls = get_completion_class(shell)
    if cls is None:  # pragma: no cover - the CLI restricts the choice
        raise ValueError(f"no completion for {shell}")
    script = cls(cli, {}, PROG, COMPLETE_VAR).source()
    return script if script.endswith("\n") else script + "\n"


def complete_source(incomplete: str) -> list[str]:
    """Candidates for the word being typed: a trailing name prefix completed to a
    function (``si`` -> ``sin(``) or a constant (``p`` -> ``pi``)."""
    match = _TRAILING_NAME.search(incomplete)
    if match is None:
        return []
    prefix = match.group()
    head = incomplete[: match.start()]
    out = [head + name + "(" for name in sorted(FUNCTIONS) if name.startswith(prefix)]
    out += [head + name for name in CONSTANTS if name.startswith(prefix)]
    return out
