"""The command line's shared pieces: the options several commands take, how a
command's words become a program and bindings, and the one writer of standard
error's lines. The commands themselves are in :mod:`gradcli.commands`;
:mod:`gradcli.cli` runs them.

Numeric options are read as strictly as bindings are. ``--steps 1_000``,
``--precision １０`` and ``--lr 1_0`` were read by Python's ``int`` and ``float``,
which take underscores and digits of every script; a binding takes neither. These
types read an option's value the way a binding's value is read (a real number may
be a constant expression, ``--lr 1/64``), so a mistake is an ``error:`` line naming
the option, exit 2, and an absurd count is refused before anything runs.
"""

from __future__ import annotations

import itertools
import re
import sys
from typing import Any

import click

from .errors import ExitStatus, GradError, printable, shorten

_WHOLE = re.compile(r"[+-]?[0-9]+")
#: Digits past which a count is not even converted (Python refuses past 4,300).
_MAX_DIGITS = 100


class Count(click.ParamType):
    """A whole number ≥ ``minimum`` (and ≤ ``maximum``, the limit), written with the digits 0-9."""

    name = "integer"

    def __init__(self, minimum: int, maximum: int | None = None, unit: str = "") -> None:
        self.minimum = minimum
        self.maximum = maximum
        self.unit = f" {unit}" if unit else ""

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> int:
        if isinstance(value, int) and not isinstance(value, bool):
            return value
        flag = _flag(param)
        text = str(value).strip()
        shown = shorten(text)
        if not _WHOLE.fullmatch(text):
            plain = text.replace("_", "")
            hint = f" (write {shorten(plain)})" if "_" in text and _WHOLE.fullmatch(plain) else ""
            if text.lstrip("+-").isdecimal() and len(text) <= _MAX_DIGITS:
                hint = f" (write {int(text)})"  # digits of another script: ١٢, full-width １２
            raise GradError("usage", f"{flag} {shown}: not a whole number written with the digits 0-9{hint}")
        if text.startswith("-") and text.strip("-0"):
            raise GradError("usage", f"{flag} {shown}: at least {self.minimum}")
        digits = text.lstrip("+-").lstrip("0") or "0"
        if self.maximum is not None and (len(digits) > _MAX_DIGITS or int(digits) > self.maximum):
            raise GradError("usage", f"{flag} {shown}: at most {self.maximum:,}{self.unit} (the limit)")
        if len(digits) > _MAX_DIGITS:
            raise GradError("usage", f"{flag} {shown}: too large a number")
        number = int(digits)
        if number < self.minimum:
            raise GradError("usage", f"{flag} {shown}: at least {self.minimum}")
        return number


class Real(click.ParamType):
    """A finite real number, read as a binding's value is (``1e-3``, ``1/64``); the
    command checks its range."""

    name = "number"

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> float:
        if isinstance(value, float):
            return value
        from .bindings import constant_value

        flag = _flag(param)
        try:
            return constant_value(str(value), flag)
        except GradError as err:
            raise GradError("usage", err.message, err.span, err.source) from None


def _flag(param: click.Parameter | None) -> str:
    if param is None or not param.opts:
        return "the option"
    return max(param.opts, key=len)


#: Unknown options and extra words reach the command untouched: `-x 2`, `x=2`.
PASS_BINDINGS: dict[str, Any] = {
    "ignore_unknown_options": True,
    "allow_extra_args": True,
    "help_option_names": ["--help"],  # -h stays free for a variable h
}

#: The variable through which the shell scripts ask for completions.
COMPLETE_VAR = "_GRADCLI_COMPLETE"


def source_completion(ctx: click.Context, param: click.Parameter, incomplete: str) -> list[Any]:
    """Complete function and constant names at the end of the word being typed."""
    from .completion import complete_source

    return complete_source(incomplete)


def file_completion(ctx: click.Context, param: click.Parameter, incomplete: str) -> list[Any]:
    """Let the shell complete a file name."""
    from .completion import complete_file

    return complete_file(incomplete)


def words_argument() -> Any:
    return click.argument(
        "words", nargs=-1, type=click.UNPROCESSED, shell_complete=source_completion,
        metavar="SOURCE [BINDINGS]",
    )


def file_option() -> Any:
    return click.option(
        "--file", "file", type=str, default=None, metavar="PATH", shell_complete=file_completion,
        help="Read the program from PATH (then SOURCE is left out).",
    )


#: Where --bindings FILE is kept for program_and_bindings (the option is not a parameter
#: of the command functions: every command that takes bindings gets it by one decorator).
_BINDINGS_FILE = "gradcli.bindings_file"


def _remember_bindings_file(ctx: click.Context, param: click.Parameter, value: str | None) -> None:
    ctx.meta[_BINDINGS_FILE] = value


def bindings_option() -> Any:
    return click.option(
        "--bindings", "bindings_file", default=None, metavar="FILE", expose_value=False,
        callback=_remember_bindings_file, shell_complete=file_completion,
        help='Read bindings from FILE, a JSON object such as {"w": 0.5, "b": -1};'
        " bindings on the command line override it.",
    )


def program_options() -> Any:
    """SOURCE [BINDINGS], --file PATH and --bindings FILE: how every command that
    evaluates a program is given the program and its bindings."""

    def decorate(command: Any) -> Any:
        return words_argument()(file_option()(bindings_option()(command)))

    return decorate


def output_option(several: bool = False) -> Any:
    if several:
        return click.option(
            "--output", "output", default=None, metavar="NAME[,NAME...]",
            help="Use the statement NAME as the output (default: the last statement); several"
            " names (a,b): each output's gradient, the rows of the Jacobian.",
        )
    return click.option(
        "--output", "output", default=None, metavar="NAME",
        help="Use the statement NAME as the output (default: the last statement).",
    )


def precision_option() -> Any:
    return click.option(
        "--precision", type=Count(1, 17), default=None, metavar="N",
        help="Significant digits in human output (default 6). JSON is always exact.",
    )


def explain_option() -> Any:
    return click.option(
        "--explain", is_flag=True,
        help="Also write out the chain rule, node by node, with the numbers"
        " (after the table; with --json, as the \"explain\" key).",
    )


def exact_option() -> Any:
    return click.option(
        "--exact", is_flag=True,
        help="Also compute exact fractions where the program is rational (+ - * /, whole powers,"
        " decimals): 0.1 + 0.2 is 3/10; other nodes stay floats, marked ≈.",
    )


def optimiser_options() -> Any:
    """The update rules' own settings, shared by descend and fit: --momentum, --beta1,
    --beta2 and --adam-eps (each None unless given: the rule's default then)."""

    def decorate(command: Any) -> Any:
        for option in reversed((
            click.option("--momentum", type=Real(), default=None, metavar="MU",
                         help="momentum: the velocity decay (default 0.9)."),
            click.option("--beta1", type=Real(), default=None, metavar="B1",
                         help="adam: first-moment decay (default 0.9)."),
            click.option("--beta2", type=Real(), default=None, metavar="B2",
                         help="adam: second-moment decay (default 0.999)."),
            click.option("--adam-eps", type=Real(), default=None, metavar="E",
                         help="adam: the ε that guards the denominator (default 1e-8)."),
        )):
            command = option(command)
        return command

    return decorate


def data_options() -> Any:
    """eval --batch's output file and where it runs: --out, --engine, --scheduler."""

    def decorate(command: Any) -> Any:
        command = click.option(
            "--scheduler", default=None, metavar="ADDRESS",
            help="With --engine dask: the Dask scheduler to run on (tcp://host:8786); default: a"
            " local cluster of worker processes.",
        )(command)
        command = click.option(
            "--engine", type=click.Choice(["local", "dask"]), default="local", show_default=True,
            help="Where a --batch of Parquet files runs: this process, or a Dask cluster (with --out"
            " DIR, a Parquet dataset; pip install 'gradcli[dask]').",
        )(command)
        return click.option(
            "--out", default=None, metavar="FILE|DIR", shell_complete=file_completion,
            help="Write the records of --batch/--grid to FILE (whole or not at all) instead of"
            " standard output; a folder with --engine dask.",
        )(command)

    return decorate


def exact_of(result: Any, bindings: dict[str, str], wanted: bool) -> Any:
    """--exact: the exact side of ``result`` (None when not asked for)."""
    if not wanted:
        return None
    from .exact import exact

    return exact(result, bindings)


def digits(precision: int | None) -> int:
    """--precision, or the human output's default when it is not given (None stays
    distinguishable for the options that refuse it, such as --batch)."""
    from .render import DEFAULT_PRECISION

    return DEFAULT_PRECISION if precision is None else precision


def wrt_names(wrt: str | None) -> list[str] | None:
    if wrt is None:
        return None
    names = [name.strip() for name in wrt.split(",")]
    if not all(names):
        raise GradError("usage", f"--wrt {wrt!r}: give names separated by commas, as in --wrt x,y")
    return names


def program_and_bindings(words: tuple[str, ...], file: str | None) -> tuple[str, dict[str, str]]:
    """SOURCE and the bindings, after the words that are not bindings: ``-h`` (help,
    unless the program uses ``h``) and a mistyped long option (``--jsn``). The bindings
    of ``--bindings FILE`` come first; the command line's override them."""
    from .arguments import read_bindings_file, read_source, split_words

    ctx = click.get_current_context()
    try:
        source, bindings = split_words(words, has_file=file is not None)
    except GradError:
        guess = next((w for w in words if not w.startswith("-") and "=" not in w), "") if file is None else ""
        not_bindings(ctx, words, guess)
        raise
    text = read_source(source, file)
    not_bindings(ctx, words, text)
    path = ctx.meta.get(_BINDINGS_FILE)
    if path is not None:
        bindings = {**read_bindings_file(path), **bindings}
    return text, bindings


IDENTIFIER = re.compile(r"[^\W\d]\w*")


class _NamesUsed:
    """The names a program uses, found on the first question (most command lines
    ask none: bindings written ``x=2`` or ``-x 2`` raise no doubt), one at a time
    (not a list of every name of a large program at once)."""

    __slots__ = ("names", "text")

    def __init__(self, text: str) -> None:
        self.text = text
        self.names: set[str] | None = None

    def __contains__(self, name: str) -> bool:
        if self.names is None:
            self.names = {m.group() for m in IDENTIFIER.finditer(self.text)}
        return name in self.names


def not_bindings(ctx: click.Context, words: tuple[str, ...], text: str) -> None:
    """Words that look like bindings but mean something else. A name the program uses
    is always a binding. Otherwise ``-h`` is the help, and a long option ``--name``
    close to one of the command's own options (``--jsn``, ``--precison``, ``--wrtt``)
    is a typo of it: refused with "did you mean", rather than bound to a variable the
    program does not have."""
    used = _NamesUsed(text)
    if "-h" in words and "h" not in used:
        click.echo(ctx.get_help())
        ctx.exit(ExitStatus.OK)
    options = [opt[2:] for param in ctx.command.params for opt in param.opts if opt.startswith("--")]
    for word, value in itertools.pairwise(words):
        # `eval "-x" -y 3`: the shell removed the quotes, so -x took -y as its value.
        name = word.lstrip("-")
        looks_bound = word.startswith("-") and not word.startswith("---") and "=" not in word
        if (looks_bound and value.startswith("-") and IDENTIFIER.fullmatch(name)
                and name not in options and name not in used):
            w, v, n = shorten(word), shorten(value), shorten(name)
            raise GradError(
                "usage",
                f"{w} {v} was read as the binding {n} = {v}, but the program does not use {n}; a program"
                f' that starts with a minus sign must not look like an option: write it as " {w}" or "({w})"',
            )
    for word in words:
        if not word.startswith("--") or word.startswith("---"):
            continue
        name = word[2:].partition("=")[0]
        if not name or name in options or name in used:
            continue
        close = [o for o in options if len(name) >= 3 and o.startswith(name)]
        if not close:
            import difflib  # only for a word that may be a mistyped option: not at every start-up

            close = difflib.get_close_matches(name, options, n=1, cutoff=0.7)
        if close:
            raise GradError(
                "usage",
                f"no such option --{shorten(name)} (did you mean --{close[0]}?); the program has no input"
                f" named {shorten(name)} to bind",
            )


def write_stderr(text: str) -> None:
    """Write ``text`` and a line end to standard error. Every line is made printable
    first: a message may echo what the user typed (an option's value, a name), and no
    control or format character of it may reach the terminal."""
    text = "\n".join(printable(line) for line in text.split("\n"))
    try:
        sys.stderr.write(text + "\n")
        sys.stderr.flush()
    except (AttributeError, OSError, ValueError):  # stderr closed (None) or full
        pass
