"""The command line: options in, one library call, rendering out, an exit code.

Only :func:`main` turns a :class:`GradError` into an ``error:`` line and its exit
code; no Python traceback reaches a user. rich and lark are imported only by the
commands that need them, so ``--json``, ``--help`` and TAB completion start fast.
"""

from __future__ import annotations

import os
import signal


def _interrupted_while_loading(signum: int, frame: object) -> None:
    """Ctrl-C while the command line is still loading: leave as after any Ctrl-C,
    without the traceback Python would print from the middle of an import."""
    try:
        os.write(2, b"error: interrupted\n")
    except OSError:  # standard error closed
        pass
    os._exit(130)  # ExitStatus.INTERRUPTED; errors.py is not loaded yet


# Installed before anything else is imported, and replaced by main() inside its
# handlers; left alone when Ctrl-C is ignored (a background job) or handled by a host.
if signal.getsignal(signal.SIGINT) is signal.default_int_handler:
    try:
        signal.signal(signal.SIGINT, _interrupted_while_loading)
    except ValueError:  # pragma: no cover - imported outside the main thread
        pass

import errno  # noqa: E402 - after the Ctrl-C guard, on purpose
import io  # noqa: E402
import itertools  # noqa: E402
import re  # noqa: E402
import sys  # noqa: E402
from typing import Any  # noqa: E402

import click  # noqa: E402

from . import __version__  # noqa: E402
from .errors import ExitStatus, GradError, format_error, printable, shorten  # noqa: E402
from .options import Count, Real  # noqa: E402

#: Unknown options and extra words reach the command untouched: `-x 2`, `x=2`.
PASS_BINDINGS: dict[str, Any] = {
    "ignore_unknown_options": True,
    "allow_extra_args": True,
    "help_option_names": ["--help"],  # -h stays free for a variable h
}

#: The variable through which the shell scripts ask for completions.
_COMPLETE_VAR = "_GRADCLI_COMPLETE"


def _complete_source(ctx: click.Context, param: click.Parameter, incomplete: str) -> list[Any]:
    """Complete function and constant names at the end of the word being typed."""
    from .completion import complete_source

    return complete_source(incomplete)


def _complete_file(ctx: click.Context, param: click.Parameter, incomplete: str) -> list[Any]:
    """Let the shell complete a file name."""
    from .completion import complete_file

    return complete_file(incomplete)


def _words_argument() -> Any:
    return click.argument(
        "words", nargs=-1, type=click.UNPROCESSED, shell_complete=_complete_source,
        metavar="SOURCE [BINDINGS]",
    )


def _file_option() -> Any:
    return click.option(
        "--file", "file", type=str, default=None, metavar="PATH", shell_complete=_complete_file,
        help="Read the program from PATH (then SOURCE is left out).",
    )


def _output_option() -> Any:
    return click.option(
        "--output", "output", default=None, metavar="NAME",
        help="Use the statement NAME as the output (default: the last statement).",
    )


def _precision_option() -> Any:
    return click.option(
        "--precision", type=Count(1, 17), default=None, metavar="N",
        help="Significant digits in human output (default 6). JSON is always exact.",
    )


def _explain_option() -> Any:
    return click.option(
        "--explain", is_flag=True,
        help="Also write out the chain rule, node by node, with the numbers"
        " (after the table; with --json, as the \"explain\" key).",
    )


def _exact_option() -> Any:
    return click.option(
        "--exact", is_flag=True,
        help="Also compute exact fractions where the program is rational (+ - * /, whole powers,"
        " decimals): 0.1 + 0.2 is 3/10; other nodes stay floats, marked ≈.",
    )


def _exact_of(result: Any, bindings: dict[str, str], wanted: bool) -> Any:
    """--exact: the exact side of ``result`` (None when not asked for)."""
    if not wanted:
        return None
    from .exact import exact

    return exact(result, bindings)


def _digits(precision: int | None) -> int:
    """--precision, or the human output's default when it is not given (None stays
    distinguishable for the options that refuse it, such as --batch)."""
    from .render import DEFAULT_PRECISION

    return DEFAULT_PRECISION if precision is None else precision


def _wrt_names(wrt: str | None) -> list[str] | None:
    if wrt is None:
        return None
    names = [name.strip() for name in wrt.split(",")]
    if not all(names):
        raise GradError("usage", f"--wrt {wrt!r}: give names separated by commas, as in --wrt x,y")
    return names


def _program(words: tuple[str, ...], file: str | None) -> tuple[str, dict[str, str]]:
    """SOURCE and the bindings, after the words that are not bindings: ``-h`` (help,
    unless the program uses ``h``) and a mistyped long option (``--jsn``)."""
    from .arguments import read_source, split_words

    ctx = click.get_current_context()
    try:
        source, bindings = split_words(words, has_file=file is not None)
    except GradError:
        guess = next((w for w in words if not w.startswith("-") and "=" not in w), "") if file is None else ""
        _not_bindings(ctx, words, guess)
        raise
    text = read_source(source, file)
    _not_bindings(ctx, words, text)
    return text, bindings


_IDENTIFIER = re.compile(r"[^\W\d]\w*")


def _not_bindings(ctx: click.Context, words: tuple[str, ...], text: str) -> None:
    """Words that look like bindings but mean something else. A name the program uses
    is always a binding. Otherwise ``-h`` is the help, and a long option ``--name``
    close to one of the command's own options (``--jsn``, ``--precison``, ``--wrtt``)
    is a typo of it: refused with "did you mean", rather than bound to a variable the
    program does not have."""
    import difflib

    used = set(_IDENTIFIER.findall(text))
    if "-h" in words and "h" not in used:
        click.echo(ctx.get_help())
        ctx.exit(ExitStatus.OK)
    options = [opt[2:] for param in ctx.command.params for opt in param.opts if opt.startswith("--")]
    for word, value in itertools.pairwise(words):
        # `eval "-x" -y 3`: the shell removed the quotes, so -x took -y as its value.
        name = word.lstrip("-")
        looks_bound = word.startswith("-") and not word.startswith("---") and "=" not in word
        if (looks_bound and value.startswith("-") and _IDENTIFIER.fullmatch(name)
                and name not in used and name not in options):
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
        if not name or name in used or name in options:
            continue
        close = [o for o in options if len(name) >= 3 and o.startswith(name)]
        close = close or difflib.get_close_matches(name, options, n=1, cutoff=0.7)
        if close:
            raise GradError(
                "usage",
                f"no such option --{shorten(name)} (did you mean --{close[0]}?); the program has no input"
                f" named {shorten(name)} to bind",
            )


@click.group(
    context_settings={"help_option_names": ["--help"]},
    invoke_without_command=True,
    subcommand_metavar="COMMAND [ARGS]...",
)
@click.version_option(__version__, "--version", prog_name="gradcli", message="%(prog)s %(version)s")
@click.pass_context
def cli(ctx: click.Context) -> None:
    """The value and gradient of a formula, node by node (reverse mode).

    \b
      gradcli eval "(x+y)*z" -x 2 -y 3 -z -4
      gradcli trace "q = x + y; f = q * z" -x 2 -y 3 -z -4
      gradcli eval "(x+y)*z" x=2 y=3 z=-4 --json | jq .gradient

    Bindings: -x 2, --x 2, --x=2 or x=2; a value may be a constant
    expression (-x pi/4). Exit codes: 0 ok, 1 math error, 2 usage error,
    3 a failed check, 4 a check that cannot judge a gradient.
    """
    if ctx.invoked_subcommand is None:  # `gradcli` alone: the help, as a new user hopes
        click.echo(ctx.get_help())


@cli.command("eval", context_settings=PASS_BINDINGS)
@_words_argument()
@_file_option()
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object.")
@click.option("--wrt", default=None, metavar="x,y",
              help="Report the gradient toward these names, in this order (inputs or named values).")
@_output_option()
@_precision_option()
@_explain_option()
@click.option("--batch", default=None, metavar="FILE|-", shell_complete=_complete_file,
              help="Evaluate at every row of FILE (JSON Lines or CSV; - reads standard input).")
@click.option("--grid", "grids", multiple=True, metavar="x=a:b:n",
              help="Sweep x over n evenly spaced values from a to b, both included (repeat: product).")
@click.option("--format", "out_format", type=click.Choice(["jsonl", "csv", "latex"]), default=None,
              help="Output of --batch/--grid: JSON Lines (default) or CSV; for one point, latex:"
              " the table as a tabular and, with --explain, the chain rule as align*.")
@click.option("--input-format", type=click.Choice(["jsonl", "csv"]), default=None,
              help="Format of the --batch file (default: told from its content).")
@_exact_option()
@click.option("--sigma", default=None, metavar="x=0.1,y=0.2",
              help="Standard deviations of inputs: add the output's σ = √Σ(∂f/∂x·σx)² (first order)"
              " and each input's share of the variance.")
def eval_command(
    words: tuple[str, ...],
    file: str | None,
    as_json: bool,
    wrt: str | None,
    output: str | None,
    precision: int | None,
    explain: bool,
    batch: str | None,
    grids: tuple[str, ...],
    out_format: str | None,
    input_format: str | None,
    exact: bool,
    sigma: str | None,
) -> None:
    """Print the value of SOURCE and its gradient toward every input.

    \b
      gradcli eval "(x+y)*z" -x 2 -y 3 -z -4
      gradcli eval "1/(1+exp(-(w0*x0+w1*x1+w2)))" --w0 2 --x0 -1 --w1 -3 --x1 -2 --w2 -3
      gradcli eval "tanh(x)" --grid x=-3:3:61 --format csv
      gradcli eval "(x+y)*z" -z -4 --batch points.jsonl
      gradcli eval "x/3" -x 1 --exact          # 1/3, gradient 1/3
      gradcli eval "q = x + y; f = q * z" -x 2 -y 3 -z -4 --explain --format latex > key.tex
      gradcli eval "T = 2*pi*sqrt(L/g)" -L 1 -g 9.81 --sigma L=0.01,g=0.05
    """
    from .api import evaluate

    if batch is not None or grids:
        if precision is not None or explain or exact or sigma is not None:
            raise GradError(
                "usage",
                "--precision, --explain, --exact and --sigma are for one point, not --batch or --grid",
            )
        if as_json and out_format == "csv":
            raise GradError("usage", "--json and --format csv disagree: give one")
        if out_format == "latex":
            raise GradError("usage", "--format latex is for one point, not --batch or --grid")
        _eval_batch(words, file, batch, grids, out_format or "jsonl", input_format, wrt, output)
        return
    if out_format not in (None, "latex") or input_format is not None:
        raise GradError("usage", "--format jsonl|csv and --input-format are for --batch and --grid")
    if out_format == "latex" and (as_json or exact or sigma is not None):
        raise GradError("usage", "--format latex is a hand-out: give it without --json, --exact and --sigma")
    source, bindings = _program(words, file)
    if sigma is not None:
        _eval_sigma(source, bindings, sigma, as_json, wrt, output, precision, explain)
        return
    result = evaluate(source, bindings, output=output, wrt=_wrt_names(wrt))
    if out_format == "latex":
        from .latex import eval_tabular, explain_align

        click.echo(eval_tabular(result, _digits(precision)), nl=False)
        if explain:
            click.echo(explain_align(result, _digits(precision)), nl=False)
        return
    exact_side = _exact_of(result, bindings, exact)
    if as_json:
        from .render import dumps

        obj = _with_explanation(result.to_json(), result, precision, explain)
        if exact_side is not None:
            obj["exact"] = exact_side.to_json()
        click.echo(dumps(obj))
        return
    if exact_side is not None:
        from .worksheet import print_exact_eval

        print_exact_eval(result, exact_side, _digits(precision))
    else:
        from .render import print_eval

        print_eval(result, _digits(precision))
    _print_explanation(result, precision, explain)


@cli.command("trace", context_settings=PASS_BINDINGS)
@_words_argument()
@_file_option()
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object with every node and edge.")
@click.option("--edges", "show_edges", is_flag=True,
              help="Show what each use of a node contributes to its gradient, and their sum"
              " (JSON always has \"edges\").")
@_output_option()
@_precision_option()
@_explain_option()
@_exact_option()
@click.option("--format", "fmt", type=click.Choice(["table", "latex"]), default="table", show_default=True,
              help="latex: the table as a tabular (with --explain, the chain rule as align*), for"
              " \\input into a document that loads amsmath.")
@click.option("--blank", is_flag=True,
              help="A worksheet: the table with the gradient columns left empty, to fill in by hand"
              " (mark it with check --answers).")
def trace_command(
    words: tuple[str, ...],
    file: str | None,
    as_json: bool,
    show_edges: bool,
    output: str | None,
    precision: int | None,
    explain: bool,
    exact: bool,
    fmt: str,
    blank: bool,
) -> None:
    """Show every node of the graph: forward value, local gradients, accumulated gradient.

    \b
      gradcli trace "q = x + y; f = q * z" -x 2 -y 3 -z -4
      gradcli trace "x*x" -x 3 --edges      # x is used twice: 3 + 3 = 6
      gradcli trace "q = x + y; f = q * z" -x 2 -y 3 -z -4 --blank   # a worksheet
      gradcli trace "x/3 + y^2" -x 1 -y 0.1 --exact
      gradcli trace "q = x + y; f = q * z" -x 2 -y 3 -z -4 --blank --format latex > sheet.tex
    """
    from .api import evaluate

    if blank and (as_json or explain or show_edges):
        raise GradError(
            "usage", "--blank is a worksheet table: it leaves out --json, --explain and --edges (the answers)"
        )
    if exact and show_edges:
        raise GradError("usage", "--edges shows floats: give it without --exact")
    if fmt == "latex" and (as_json or exact or show_edges):
        raise GradError("usage", "--format latex is a hand-out: give it without --json, --exact and --edges")
    source, bindings = _program(words, file)
    result = evaluate(source, bindings, output=output)
    if fmt == "latex":
        from .latex import explain_align, trace_tabular

        click.echo(trace_tabular(result, _digits(precision), blank=blank), nl=False)
        if explain:
            click.echo(explain_align(result, _digits(precision)), nl=False)
        return
    exact_side = _exact_of(result, bindings, exact)
    if as_json:
        from .render import dumps

        obj = _with_explanation(result.to_json(nodes=True), result, precision, explain)
        if exact_side is not None:
            obj["exact"] = exact_side.to_json(nodes=True)
        click.echo(dumps(obj))
        return
    if exact_side is not None or blank:
        from .worksheet import print_sheet

        print_sheet(result, _digits(precision), ex=exact_side, blank=blank)
    else:
        from .render import print_trace

        print_trace(result, _digits(precision), edges=show_edges)
    _print_explanation(result, precision, explain)


def _eval_sigma(
    source: str,
    bindings: dict[str, str],
    sigma: str,
    as_json: bool,
    wrt: str | None,
    output: str | None,
    precision: int | None,
    explain: bool,
) -> None:
    """eval --sigma: the point's result and the output's first-order uncertainty."""
    from .api import compile, run
    from .uncertainty import check_sigmas, parse_sigmas, print_uncertainty, propagate

    sigmas = parse_sigmas(sigma)
    graph = compile(source, output)
    check_sigmas(graph, sigmas)
    shown = _wrt_names(wrt)
    names = list(shown if shown is not None else graph.inputs)
    result = run(graph, bindings, names + [n for n in sigmas if n not in names])
    unc = propagate(result, sigmas)
    result.gradient = {name: result.gradient[name] for name in names}  # the σ's own needs stay unshown
    if as_json:
        from .render import dumps

        obj = _with_explanation(result.to_json(), result, precision, explain)
        obj["uncertainty"] = unc.to_json()
        click.echo(dumps(obj))
        return
    from .render import print_eval

    print_eval(result, _digits(precision))
    print_uncertainty(result, unc, _digits(precision))
    _print_explanation(result, precision, explain)


def _eval_batch(
    words: tuple[str, ...],
    file: str | None,
    batch: str | None,
    grids: tuple[str, ...],
    out_format: str,
    input_format: str | None,
    wrt: str | None,
    output: str | None,
) -> None:
    """eval --batch/--grid: one record per point; exit 1 if any row failed."""
    from . import batch as batching
    from .api import compile
    from .arguments import split_words

    batching.load_numpy()  # before anything is read: a clear error if NumPy is missing
    if batch == "-" and file is None and split_words(words, has_file=False)[0] == "-":
        raise GradError("usage", "standard input cannot be both SOURCE and --batch: use --file for one")
    source, bindings = _program(words, file)
    graph = compile(source, output)
    if out_format == "csv" and graph.unused():  # JSON Lines records list them as "unused"
        for name in graph.unused():
            _stderr(f"note: {name} is unused: the output does not depend on it, so its gradient is 0")
    summary = batching.run_batch(
        graph, bindings, batch=batch, grids=grids, fmt=out_format,
        input_format=input_format, wrt=_wrt_names(wrt),
    )
    if summary.failed:
        rows = ", ".join(map(str, summary.first_failed)) + (", ..." if summary.failed > 5 else "")
        # Not a GradError: the run went through, and its output is complete.
        _stderr(f"error: {summary.failed} of {summary.rows} rows failed (row {rows}); their records say why")
        raise click.exceptions.Exit(ExitStatus.MATH)


def _with_explanation(
    obj: dict[str, Any], result: Any, precision: int | None, explain: bool
) -> dict[str, Any]:
    """--json --explain: stdout stays one JSON object, with the explanation as a key."""
    if explain:
        from .explain import explanation_json

        obj["explain"] = explanation_json(result, _digits(precision))
    return obj


def _print_explanation(result: Any, precision: int | None, explain: bool) -> None:
    if explain:
        from .explain import explanation_lines

        lines = explanation_lines(result, _digits(precision))
        click.echo("\n" + "\n".join(lines))


@cli.command("check", context_settings=PASS_BINDINGS)
@_words_argument()
@_file_option()
@click.option("--eps", type=Real(), default=None, metavar="H",
              help="Finite-difference step for every input (default: ∛ε·max(1, |x|) ≈ 6e-6·max(1, |x|)).")
@click.option("--tol", type=Real(), default=None, metavar="T",
              help="Agree when |reverse − numeric| ≤ T·max(1, |reverse|, |numeric|) (default 1e-6).")
@click.option("--wrt", default=None, metavar="x,y", help="Check only these inputs (default: all).")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object, a row per input.")
@_output_option()
@_precision_option()
@click.option("--answers", default=None, metavar="FILE", shell_complete=_complete_file,
              help="Mark a student's gradients instead: a JSON object {\"x\": -4} or a CSV with label"
              " and grad columns; right to the decimals written (or within --tol).")
@click.option("--float32", "float32", is_flag=True,
              help="Also evaluate the graph in float32: each node's value and gradient beside float64,"
              " with their relative difference.")
def check_command(
    words: tuple[str, ...],
    file: str | None,
    eps: float | None,
    tol: float | None,
    wrt: str | None,
    as_json: bool,
    output: str | None,
    precision: int | None,
    answers: str | None,
    float32: bool,
) -> None:
    """Compare every reverse-mode gradient with a central finite difference.

    Each row is ok, differs (the finite difference has settled and disagrees beyond
    its own error), or cannot judge (a kink, rounding, a step too coarse: the note says
    why). Exit 0 when all agree within --tol, 3 when one differs, 4 when none differs
    but one cannot be judged (the table is still printed).

    \b
      gradcli check "x^2 * sin(y)" -x 3 -y 1
      gradcli check "relu(x)" -x 0          # a kink: cannot judge, exits 4
      gradcli check "$F" -x 1 && echo ok
      gradcli check "(x+y)*z" -x 2 -y 3 -z -4 --answers answers.json   # exit 3 if one is wrong
      gradcli check "exp(x)/(1+exp(x))" -x 100 --float32     # float32 overflows where float64 does not
    """
    source, bindings = _program(words, file)
    if answers is not None and float32:
        raise GradError(
            "usage", "--answers marks a student's answers; --float32 is for the evaluator: give one"
        )
    if answers is not None:
        _mark_answers(source, bindings, answers, tol, eps, wrt, as_json, output, precision)
        return
    from .gradcheck import DEFAULT_TOL, check

    result = check(
        source, bindings, output=output, eps=eps, tol=DEFAULT_TOL if tol is None else tol, wrt=_wrt_names(wrt)
    )
    point = None
    if float32:
        from .api import evaluate
        from .float32 import float32_rows

        point = evaluate(source, bindings, output=output)
        rows = float32_rows(point)
    if as_json:
        from .render import dumps

        obj = result.to_json()
        if point is not None:
            obj["float32"] = [row.to_json() for row in rows]
        click.echo(dumps(obj))
    else:
        from .report import print_check

        print_check(result, _digits(precision))
        if point is not None:
            from .float32 import print_float32

            click.echo()
            print_float32(point, rows, _digits(precision))
    failed = result.error()
    if failed is not None:
        raise failed


def _mark_answers(
    source: str, bindings: dict[str, str], answers: str, tol: float | None, eps: float | None,
    wrt: str | None, as_json: bool, output: str | None, precision: int | None,
) -> None:
    """check --answers: mark a student's gradients; exit 3 when one is wrong."""
    if eps is not None or wrt is not None:
        raise GradError("usage", "--eps and --wrt are for finite differences, not --answers")
    from .api import evaluate
    from .worksheet import mark

    marking = mark(evaluate(source, bindings, output=output), answers, tol)
    if as_json:
        from .render import dumps

        click.echo(dumps(marking.to_json()))
    else:
        from .worksheet import print_marking

        print_marking(marking, _digits(precision))
    failed = marking.error()
    if failed is not None:
        raise failed


@cli.command("descend", context_settings=PASS_BINDINGS)
@_words_argument()
@_file_option()
@click.option("--lr", type=Real(), default=None, metavar="R", help="Learning rate (default 0.01).")
@click.option("--steps", type=Count(0, 10_000_000, "steps"), default=None, metavar="N",  # descent.MAX_STEPS
              help="Stop after N steps (default 1000, at most 10,000,000).")
@click.option("--tol", type=Real(), default=None, metavar="T",
              help="Stop when the gradient norm is under T (default 1e-6).")
@click.option("--wrt", default=None, metavar="x,y",
              help="Descend on these inputs; the others stay fixed (default: all).")
@click.option("--method", type=click.Choice(["gd", "momentum", "adam"]), default="gd", show_default=True,
              help="Update rule.")
@click.option("--maximize", is_flag=True, help="Climb: gradient ascent.")
@click.option("--momentum", type=Real(), default=None, metavar="MU",
              help="momentum: the velocity decay (default 0.9).")
@click.option("--beta1", type=Real(), default=None, metavar="B1",
              help="adam: first-moment decay (default 0.9).")
@click.option("--beta2", type=Real(), default=None, metavar="B2",
              help="adam: second-moment decay (default 0.999).")
@click.option("--adam-eps", type=Real(), default=None, metavar="E",
              help="adam: the ε that guards the denominator (default 1e-8).")
@click.option("--history", type=Count(2), default=None, metavar="N",
              help="Rows of the path to show: first, last and evenly spaced (default 11, at most 10,000).")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object.")
@_output_option()
@_precision_option()
def descend_command(
    words: tuple[str, ...],
    file: str | None,
    lr: float | None,
    steps: int | None,
    tol: float | None,
    wrt: str | None,
    method: str,
    maximize: bool,
    momentum: float | None,
    beta1: float | None,
    beta2: float | None,
    adam_eps: float | None,
    history: int | None,
    as_json: bool,
    output: str | None,
    precision: int | None,
) -> None:
    """Gradient descent from the bound point: W = W − lr · gradient, step by step.

    \b
      gradcli descend "(x-3)^2 + (y+1)^2" -x 0 -y 0 --lr 0.1
      gradcli descend "(1-x)^2 + 100(y-x^2)^2" -x -1.2 -y 1 --method adam --steps 6000
    """
    from .descent import DEFAULT_STEPS, DescentInterrupted, descend

    source, bindings = _program(words, file)
    options: dict[str, Any] = {
        "lr": lr, "steps": steps, "tol": tol, "momentum": momentum, "beta1": beta1,
        "beta2": beta2, "adam_eps": adam_eps, "history": history,
    }
    given = {key: value for key, value in options.items() if value is not None}
    kwargs: dict[str, Any] = {
        "output": output, "wrt": _wrt_names(wrt), "method": method, "maximize": maximize, **given,
    }
    if as_json:  # no progress bar, and no rich
        try:
            result = descend(source, bindings, **kwargs)
        except DescentInterrupted as stop:  # Ctrl-C: the last good point, exit 130
            result = stop.result
        from .render import dumps

        click.echo(dumps(result.to_json()))
    else:
        from .report import print_descent, progress_bar

        try:
            with progress_bar(given.get("steps", DEFAULT_STEPS), maximize=maximize) as progress:
                result = descend(source, bindings, progress=progress, **kwargs)
        except DescentInterrupted as stop:
            result = stop.result
        print_descent(result, _digits(precision))
    if result.error is not None:
        raise result.error


@cli.command("graph", context_settings=PASS_BINDINGS)
@_words_argument()
@_file_option()
@click.option("--format", "fmt", type=click.Choice(["dot", "svg", "png", "pdf", "mermaid", "tree"]),
              default=None,
              help="Graphviz source, SVG/PNG/PDF (need Graphviz), Mermaid, or a terminal tree"
              " (default: told by --out's extension, .dot .gv .svg .png .pdf .mmd .txt; else dot).")
@click.option("--out", default=None, metavar="FILE", shell_complete=_complete_file,
              help="Write the picture to FILE instead of standard output.")
@_output_option()
@_precision_option()
def graph_command(
    words: tuple[str, ...],
    file: str | None,
    fmt: str | None,
    out: str | None,
    output: str | None,
    precision: int | None,
) -> None:
    """Draw the computational graph, each wire with its value and gradient.

    Without bindings, the picture shows the structure alone.

    \b
      gradcli graph "(x+y)*z" -x 2 -y 3 -z -4 --format tree
      gradcli graph "1/(1+exp(-(w0*x0+w1*x1+w2)))" --w0 2 --x0 -1 --w1 -3 --x1 -2 --w2 -3 \\
          --format svg --out neuron.svg
    """
    from .api import compile, run
    from .pictures import draw, format_for, write

    fmt = format_for(fmt, out)
    source, bindings = _program(words, file)
    graph = compile(source, output)
    # Without bindings the inputs have no values to start from: the structure alone.
    subject = run(graph, bindings) if bindings or not graph.inputs else graph
    write(draw(subject, fmt=fmt, precision=_digits(precision)), out)


@cli.command("parse", context_settings=PASS_BINDINGS)
@click.argument("words", nargs=-1, type=click.UNPROCESSED, shell_complete=_complete_source, metavar="SOURCE")
@_file_option()
@click.option("--json", "as_json", is_flag=True,
              help="Print the syntax tree as one JSON object: each statement's expression tree, with spans.")
def parse_command(words: tuple[str, ...], file: str | None, as_json: bool) -> None:
    """Show how SOURCE is read: every statement with its operations fully parenthesised.

    The text parses back to the same graph; a program that eval would refuse is
    refused here with the same error.

    \b
      gradcli parse "1/2x"          # (1 / 2) * x
      gradcli parse "-2^2"          # -(2 ^ 2)
      gradcli parse "q = x + y; f = q * z" --json
    """
    from .graph import lower
    from .parse import parse
    from .unparse import ast_json, statement_lines

    source, bindings = _program(words, file)
    if bindings:
        raise GradError("usage", f"parse takes no bindings: {', '.join(bindings)} given")
    program = parse(source)
    lower(program)  # what eval would refuse (an unknown function, a name assigned twice), refused alike
    if as_json:
        click.echo(ast_json(program))
    else:
        click.echo("\n".join(statement_lines(program)))


@cli.command("functions")
@click.argument("names", nargs=-1)
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object.")
def functions_command(names: tuple[str, ...], as_json: bool) -> None:
    """List operators and functions: arity, domain and derivative rule (every one,
    or those NAMES picks: a function name or an operator symbol).

    \b
      gradcli functions
      gradcli functions tanh '*' pow
    """
    from .functions import functions_json, print_functions, select_ops

    ops = select_ops(names)
    if as_json:
        from .render import dumps

        click.echo(dumps(functions_json(ops)))
        return
    print_functions(ops)


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


class Interrupted(Exception):
    """Ctrl-C while a command ran: carried past click, which would turn it into Abort."""


class ReaderGone(Exception):
    """Standard output's reader went away (``gradcli ... | head -1``): not an error."""


class _Group(click.Group):
    """The command group: keeps Ctrl-C and a failed write of the output away from
    click's own handling (which prints, wraps the streams and exits by itself)."""

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except KeyboardInterrupt:
            raise Interrupted from None
        except BrokenPipeError:
            raise ReaderGone from None


cli.__class__ = _Group  # the group above is built by click's decorator


def main(argv: list[str] | None = None) -> int:
    """Entry point: run the CLI and turn every failure into an ``error:`` line."""
    if _COMPLETE_VAR in os.environ:  # TAB in a shell: our scripts' protocol
        from .completion import register_shells

        register_shells()
    _guard_streams()
    stdout = sys.stdout
    try:
        if signal.getsignal(signal.SIGINT) is _interrupted_while_loading:
            signal.signal(signal.SIGINT, signal.default_int_handler)
        # Without standalone mode, click returns the code of a click.exceptions.Exit.
        code = cli.main(args=argv, prog_name="gradcli", standalone_mode=False)
    except GradError as err:
        _stderr(format_error(err))
        return _exit(err.exit_code)
    except ReaderGone:
        _silence_stdout()
        return ExitStatus.OK
    except SystemExit as exc:
        # click answers a closed pipe met outside a command (`gradcli --help | head -1`)
        # by replacing sys.stdout and exiting 1; nothing went wrong in gradcli.
        if sys.stdout is not stdout:
            sys.stdout = stdout
            _silence_stdout()
            return ExitStatus.OK
        return _exit(exc.code if isinstance(exc.code, int) else ExitStatus.USAGE)
    except click.UsageError as exc:
        hint = ""
        if exc.ctx is not None:
            hint = f"\n  (see: {exc.ctx.command_path} --help)"
        _stderr(f"error: {exc.format_message()}{hint}")
        return _exit(ExitStatus.USAGE)
    except click.ClickException as exc:
        _stderr(f"error: {exc.format_message()}")
        return _exit(exc.exit_code)
    except click.exceptions.Exit as exc:
        return _exit(exc.exit_code)
    except (click.Abort, Interrupted, KeyboardInterrupt):
        return _interrupted()
    except BrokenPipeError:
        # The reader went away (`gradcli ... | head`): not an error worth a message.
        _silence_stdout()
        return _exit(ExitStatus.OK)
    except OSError as exc:
        # A file the command reads fails as a GradError; what is left is a standard stream.
        _silence_stdout()
        _stderr(f"error: {_stream_failure(exc)}")
        return ExitStatus.USAGE
    except MemoryError:
        _stderr("error: out of memory: the program or the batch is too large for this machine")
        return _exit(ExitStatus.MATH)
    except RecursionError:  # pragma: no cover - nothing recurses on depth
        _stderr("error: internal error: recursion limit reached (please report this)")
        return _exit(ExitStatus.INTERNAL)
    except Exception as exc:  # pragma: no cover - a bug; still no traceback for the user
        _stderr(f"error: internal error: {type(exc).__name__}: {exc} (please report this)")
        return _exit(ExitStatus.INTERNAL)
    return _exit(code if isinstance(code, int) else ExitStatus.OK)


class _ClosedStream(io.TextIOBase):
    """Standard output when the shell closed it (``>&-``): writing fails with a reason."""

    def writable(self) -> bool:
        return True

    def write(self, text: str) -> int:
        raise OSError(errno.EBADF, "standard output is closed")

    def isatty(self) -> bool:
        return False


def _guard_streams() -> None:
    """Python leaves ``sys.stdout``/``sys.stderr`` None when the shell closed them.
    Output then fails with a message when something is written (and not before: a
    command that writes nothing to standard output still succeeds); a closed standard
    error swallows what is written, so it never changes the exit code."""
    if sys.stdout is None:
        sys.stdout = _ClosedStream()
    if sys.stderr is None:
        sys.stderr = open(os.devnull, "w", encoding="utf-8")  # open for the life of the process


def _stream_failure(exc: OSError) -> str:
    reason = exc.strerror or str(exc)
    if exc.errno in (errno.ENOSPC, errno.EFBIG, errno.EDQUOT, errno.EBADF):
        return f"cannot write the output: {reason}"
    return f"input/output error: {reason}"


def _interrupted() -> int:
    _stderr("error: interrupted")
    _silence_stdout()
    return ExitStatus.INTERRUPTED


def _stderr(text: str) -> None:
    """Write ``text`` and a line end to standard error. Every line is made printable
    first: a message may echo what the user typed (an option's value, a name), and no
    control or format character of it may reach the terminal."""
    text = "\n".join(printable(line) for line in text.split("\n"))
    try:
        sys.stderr.write(text + "\n")
        sys.stderr.flush()
    except (AttributeError, OSError, ValueError):  # stderr closed (None) or full
        pass


def _silence_stdout() -> None:
    """Point standard output at the null device, so the interpreter's last flush of
    whatever is left in its buffer cannot fail."""
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
    except (AttributeError, OSError, ValueError):  # stdout closed (None)
        pass


def _exit(code: int) -> int:
    """Flush standard output before leaving: a failed write is reported here, while
    the exit code can still say so (after return, Python would print a traceback)."""
    try:
        if sys.stdout is not None:
            sys.stdout.flush()
    except BrokenPipeError:
        _silence_stdout()
    except OSError as exc:
        _silence_stdout()
        _stderr(f"error: {_stream_failure(exc)}")
        return max(int(code), ExitStatus.USAGE)
    except ValueError:  # pragma: no cover - closed by someone else
        pass
    return int(code)
