"""The command line: options in, one library call, rendering out, an exit code.

Only :func:`main` turns a :class:`GradError` into an ``error:`` line and its exit
code; no Python traceback reaches a user. rich and lark are imported only by the
commands that need them, so ``--json``, ``--help`` and TAB completion start fast.
"""

from __future__ import annotations

import sys
from typing import Any

import click

from . import __version__
from .errors import GradError, format_error

#: Unknown options and extra words reach the command untouched: `-x 2`, `x=2`.
PASS_BINDINGS: dict[str, Any] = {
    "ignore_unknown_options": True,
    "allow_extra_args": True,
    "help_option_names": ["--help"],  # -h stays free for a variable h
}

#: Exit code for a bug in gradcli itself (EX_SOFTWARE); never a user's mistake.
INTERNAL_ERROR = 70


def _complete_source(ctx: click.Context, param: click.Parameter, incomplete: str) -> list[Any]:
    """Complete function and constant names at the end of the word being typed."""
    from .completion import complete_source

    return complete_source(incomplete)


def _words_argument() -> Any:
    return click.argument(
        "words", nargs=-1, type=click.UNPROCESSED, shell_complete=_complete_source,
        metavar="SOURCE [BINDINGS]",
    )


def _file_option() -> Any:
    return click.option(
        "--file", "file", type=str, default=None, metavar="PATH",
        help="Read the program from PATH (then SOURCE is left out).",
    )


def _output_option() -> Any:
    return click.option(
        "--output", "output", default=None, metavar="NAME",
        help="Use the statement NAME as the output (default: the last statement).",
    )


def _precision_option() -> Any:
    return click.option(
        "--precision", type=click.IntRange(1, 17), default=None, metavar="N",
        help="Significant digits in human output (default 6). JSON is always exact.",
    )


def _wrt_names(wrt: str | None) -> list[str] | None:
    if wrt is None:
        return None
    names = [name.strip() for name in wrt.split(",")]
    if not all(names):
        raise GradError("usage", f"--wrt {wrt!r}: give names separated by commas, as in --wrt x,y")
    return names


def _program(words: tuple[str, ...], file: str | None) -> tuple[str, dict[str, str]]:
    from .arguments import read_source, split_words

    source, bindings = split_words(words, has_file=file is not None)
    return read_source(source, file), bindings


@click.group(context_settings={"help_option_names": ["--help"]})
@click.version_option(__version__, "--version", prog_name="gradcli", message="%(prog)s %(version)s")
def cli() -> None:
    """The value and gradient of a formula, node by node (reverse mode).

    \b
      gradcli eval "(x+y)*z" -x 2 -y 3 -z -4
      gradcli trace "q = x + y; f = q * z" -x 2 -y 3 -z -4
      gradcli eval "(x+y)*z" x=2 y=3 z=-4 --json | jq .gradient

    Bindings: -x 2, --x 2, --x=2 or x=2; a value may be a constant
    expression (-x pi/4). Exit codes: 0 ok, 1 math error, 2 usage error,
    3 a failed check.
    """


@cli.command("eval", context_settings=PASS_BINDINGS)
@_words_argument()
@_file_option()
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object.")
@click.option("--wrt", default=None, metavar="x,y",
              help="Report the gradient toward these names, in this order (inputs or named values).")
@_output_option()
@_precision_option()
def eval_command(
    words: tuple[str, ...],
    file: str | None,
    as_json: bool,
    wrt: str | None,
    output: str | None,
    precision: int | None,
) -> None:
    """Print the value of SOURCE and its gradient toward every input.

    \b
      gradcli eval "(x+y)*z" -x 2 -y 3 -z -4
      gradcli eval "1/(1+exp(-(w0*x0+w1*x1+w2)))" --w0 2 --x0 -1 --w1 -3 --x1 -2 --w2 -3
    """
    from .evaluate import evaluate

    source, bindings = _program(words, file)
    result = evaluate(source, bindings, output=output, wrt=_wrt_names(wrt))
    if as_json:
        from .render import dumps

        click.echo(dumps(result.to_json()))
        return
    from .render import DEFAULT_PRECISION, eval_table, make_console

    console = make_console()
    console.print(eval_table(result, console, DEFAULT_PRECISION if precision is None else precision))


@cli.command("trace", context_settings=PASS_BINDINGS)
@_words_argument()
@_file_option()
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object with every node.")
@_output_option()
@_precision_option()
def trace_command(
    words: tuple[str, ...],
    file: str | None,
    as_json: bool,
    output: str | None,
    precision: int | None,
) -> None:
    """Show every node of the graph: forward value, local gradients, accumulated gradient.

    \b
      gradcli trace "q = x + y; f = q * z" -x 2 -y 3 -z -4
    """
    from .evaluate import evaluate

    source, bindings = _program(words, file)
    result = evaluate(source, bindings, output=output)
    if as_json:
        from .render import dumps

        click.echo(dumps(result.to_json(nodes=True)))
        return
    from .render import DEFAULT_PRECISION, make_console, trace_table

    console = make_console()
    console.print(trace_table(result, console, DEFAULT_PRECISION if precision is None else precision))


@cli.command("completion")
@click.argument("shell", type=click.Choice(["bash", "zsh", "fish"]))
def completion_command(shell: str) -> None:
    """Print the completion script for SHELL (bash, zsh or fish).

    \b
      gradcli completion bash > ~/.local/share/bash-completion/completions/gradcli
      gradcli completion zsh  > "${fpath[1]}/_gradcli"
      gradcli completion fish > ~/.config/fish/completions/gradcli.fish
    """
    from .completion import completion_script

    click.echo(completion_script(shell), nl=False)


def main(argv: list[str] | None = None) -> int:
    """Entry point: run the CLI and turn every failure into an ``error:`` line."""
    try:
        cli.main(args=argv, prog_name="gradcli", standalone_mode=False)
    except GradError as err:
        _stderr(format_error(err))
        return _exit(err.exit_code)
    except click.UsageError as exc:
        if type(exc).__name__ == "NoArgsIsHelpError" and exc.ctx is not None:
            click.echo(exc.ctx.get_help())  # `gradcli` alone: the help, as a new user hopes
            return _exit(0)
        hint = ""
        if exc.ctx is not None:
            hint = f"\n  (see: {exc.ctx.command_path} --help)"
        _stderr(f"error: {exc.format_message()}{hint}")
        return _exit(2)
    except click.ClickException as exc:
        _stderr(f"error: {exc.format_message()}")
        return _exit(exc.exit_code)
    except click.exceptions.Exit as exc:
        return _exit(exc.exit_code)
    except click.Abort:
        _stderr("error: aborted")
        return _exit(130)
    except KeyboardInterrupt:
        _stderr("error: interrupted")
        return _exit(130)
    except BrokenPipeError:
        # The reader went away (`gradcli ... | head`): not an error worth a message.
        _silence_stdout()
        return _exit(0)
    except MemoryError:
        _stderr("error: out of memory: the program or the batch is too large for this machine")
        return _exit(1)
    except RecursionError:  # pragma: no cover - nothing recurses on depth
        _stderr("error: internal error: recursion limit reached (please report this)")
        return _exit(INTERNAL_ERROR)
    except Exception as exc:  # pragma: no cover - a bug; still no traceback for the user
        _stderr(f"error: internal error: {type(exc).__name__}: {exc} (please report this)")
        return _exit(INTERNAL_ERROR)
    return _exit(0)


def _stderr(text: str) -> None:
    try:
        sys.stderr.write(text + "\n")
        sys.stderr.flush()
    except (OSError, ValueError):  # pragma: no cover - stderr closed
        pass


def _silence_stdout() -> None:
    import os

    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
    except (OSError, ValueError):  # pragma: no cover
        pass


def _exit(code: int) -> int:
    try:
        sys.stdout.flush()
    except BrokenPipeError:
        _silence_stdout()
    except (OSError, ValueError):  # pragma: no cover
        pass
    return code
