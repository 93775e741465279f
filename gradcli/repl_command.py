"""``gradcli repl``: the command. The session is :mod:`gradcli.repl` (and, on a
terminal, :mod:`gradcli.repl_terminal`, the only module that imports prompt_toolkit)."""

from __future__ import annotations

import sys

import click

from .errors import ExitStatus, GradError

#: How to get the terminal's line editor.
INSTALL_HINT = "pip install 'gradcli[repl]'"


@click.command("repl")
def repl_command() -> None:
    """An interactive session: definitions accumulate, expressions are evaluated.

    A line is a definition (q = x + y; defining a name again replaces it), an
    expression (shown with its value and gradient once its inputs have values),
    or a command: :bind x=2 y=3, :eval, :trace, :graph, :list, :reset, :help,
    :quit. On a terminal: history, TAB completion, highlighting (needs
    prompt_toolkit: pip install 'gradcli[repl]'). From a pipe or a file the lines
    are read plainly, and the exit status is that of the first line that failed.

    \b
      gradcli repl
      printf 'x*y\\n:bind x=2 y=3\\n:eval\\n' | gradcli repl
    """
    from .repl import Repl, run_lines

    stdin, stdout = sys.stdin, sys.stdout
    on_terminal = (
        stdin is not None and stdin.isatty() and hasattr(stdout, "isatty") and stdout.isatty()
    )
    if not on_terminal:
        stream = getattr(stdin, "buffer", None) if stdin is not None else None
        code = run_lines(Repl(), stream)
        if code:
            raise click.exceptions.Exit(code)
        return
    try:
        from .repl_terminal import run_terminal
    except ImportError as exc:
        if "prompt_toolkit" not in str(exc):
            raise
        raise GradError(
            "usage",
            f"gradcli repl on a terminal needs prompt_toolkit: {INSTALL_HINT}"
            " (lines piped in are read without it)",
        ) from None
    code = run_terminal(Repl(interactive=True))
    if code != ExitStatus.OK:
        raise click.exceptions.Exit(code)
