"""The commands: each reads its options, makes one library call and renders the
result. :mod:`gradcli.cli` adds them to the ``gradcli`` group and turns any failure
into an ``error:`` line and an exit code."""

from __future__ import annotations

from typing import Any

import click

from .errors import GradError
from .options import (
    PASS_BINDINGS,
    Count,
    Real,
    data_options,
    digits,
    exact_of,
    exact_option,
    explain_option,
    file_completion,
    file_option,
    optimiser_options,
    output_option,
    precision_option,
    program_and_bindings,
    program_options,
    source_completion,
    wrt_names,
)


@click.command("eval", context_settings=PASS_BINDINGS)
@program_options()
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object.")
@click.option("--wrt", default=None, metavar="x,y",
              help="Report the gradient toward these names, in this order (inputs or named values).")
@output_option(several=True)
@precision_option()
@explain_option()
@click.option("--batch", default=None, metavar="FILE|-", shell_complete=file_completion,
              help="Evaluate at every row of FILE (JSON Lines or CSV; - reads standard input).")
@click.option("--grid", "grids", multiple=True, metavar="x=a:b:n",
              help="Sweep x over n evenly spaced values from a to b, both included (repeat: product).")
@click.option("--format", "out_format", type=click.Choice(["jsonl", "csv", "parquet", "latex"]), default=None,
              help="Output of --batch/--grid: JSON Lines (default), CSV or Parquet (with --out);"
              " for one point, latex: the table as a tabular and, with --explain, the chain rule as align*.")
@click.option("--input-format", type=click.Choice(["jsonl", "csv", "parquet"]), default=None,
              help="Format of the --batch file (default: .parquet files are Parquet; others told from"
              " their content).")
@data_options()
@exact_option()
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
    out: str | None,
    engine: str,
    scheduler: str | None,
) -> None:
    """Print the value of SOURCE and its gradient toward every input.

    \b
      gradcli eval "(x+y)*z" -x 2 -y 3 -z -4
      gradcli eval "1/(1+exp(-(w0*x0+w1*x1+w2)))" --w0 2 --x0 -1 --w1 -3 --x1 -2 --w2 -3
      gradcli eval "tanh(x)" --grid x=-3:3:61 --format csv
      gradcli eval "(x+y)*z" -z -4 --batch points.jsonl
      gradcli eval "(x+y)*z" -z -4 --batch 'data/*.parquet' --engine dask --out results
      gradcli eval "x/3" -x 1 --exact          # 1/3, gradient 1/3
      gradcli eval "q = x + y; f = q * z" -x 2 -y 3 -z -4 --explain --format latex > key.tex
      gradcli eval "T = 2*pi*sqrt(L/g)" -L 1 -g 9.81 --sigma L=0.01,g=0.05
    """
    from .api import evaluate

    if output is not None and "," in output:  # --output a,b: the rows of the Jacobian (gradcli.outputs)
        from .outputs import eval_outputs

        flags = {"--batch": batch is not None, "--grid": bool(grids), "--explain": explain, "--exact": exact,
                 "--sigma": sigma is not None, "--format": bool(out_format),
                 "--input-format": bool(input_format), "--out": out is not None,
                 "--engine": engine != "local", "--scheduler": scheduler is not None}
        return eval_outputs(words, file, output, as_json=as_json, wrt=wrt, precision=precision, refused=flags)
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
        from .batch_command import eval_batch

        eval_batch(words, file, batch, grids, out_format or "jsonl", input_format, wrt, output,
                   out=out, engine=engine, scheduler=scheduler)
        return
    if out_format not in (None, "latex") or input_format is not None:
        raise GradError("usage", "--format jsonl|csv|parquet and --input-format are for --batch and --grid")
    if out is not None or engine != "local" or scheduler is not None:
        raise GradError("usage", "--out, --engine and --scheduler are for --batch and --grid")
    if out_format == "latex" and (as_json or exact or sigma is not None):
        raise GradError("usage", "--format latex is a hand-out: give it without --json, --exact and --sigma")
    source, bindings = program_and_bindings(words, file)
    if sigma is not None:
        _eval_sigma(source, bindings, sigma, as_json, wrt, output, precision, explain)
        return
    result = evaluate(source, bindings, output=output, wrt=wrt_names(wrt))
    if out_format == "latex":
        from .latex import eval_tabular, explain_align

        click.echo(eval_tabular(result, digits(precision)), nl=False)
        if explain:
            click.echo(explain_align(result, digits(precision)), nl=False)
        return
    exact_side = exact_of(result, bindings, exact)
    if as_json:
        from .render import dumps

        obj = _with_explanation(result.to_json(), result, precision, explain)
        if exact_side is not None:
            obj["exact"] = exact_side.to_json()
        del result, exact_side  # a large program's graph and values: printing needs neither
        click.echo(dumps(obj))
        return
    if exact_side is not None:
        from .worksheet import print_exact_eval

        print_exact_eval(result, exact_side, digits(precision))
    else:
        from .render import print_eval

        print_eval(result, digits(precision))
    _print_explanation(result, precision, explain, exact_side)


@click.command("trace", context_settings=PASS_BINDINGS)
@program_options()
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object with every node and edge.")
@click.option("--edges", "show_edges", is_flag=True,
              help="Show what each use of a node contributes to its gradient, and their sum"
              " (JSON always has \"edges\").")
@output_option(several=True)
@precision_option()
@explain_option()
@exact_option()
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

    if output is not None and "," in output:  # --output a,b: a gradient column per output (gradcli.outputs)
        from .outputs import trace_outputs

        flags = {"--edges": show_edges, "--explain": explain, "--exact": exact,
                 "--format latex": fmt == "latex", "--blank": blank}
        return trace_outputs(words, file, output, as_json=as_json, precision=precision, refused=flags)
    if blank and (as_json or explain or show_edges):
        raise GradError(
            "usage", "--blank is a worksheet table: it leaves out --json, --explain and --edges (the answers)"
        )
    if exact and show_edges:
        raise GradError("usage", "--edges shows floats: give it without --exact")
    if fmt == "latex" and (as_json or exact or show_edges):
        raise GradError("usage", "--format latex is a hand-out: give it without --json, --exact and --edges")
    source, bindings = program_and_bindings(words, file)
    result = evaluate(source, bindings, output=output)
    if fmt == "latex":
        from .latex import explain_align, trace_tabular

        click.echo(trace_tabular(result, digits(precision), blank=blank), nl=False)
        if explain:
            click.echo(explain_align(result, digits(precision)), nl=False)
        return
    exact_side = exact_of(result, bindings, exact)
    if as_json:
        from .render import dumps

        obj = _with_explanation(result.to_json(nodes=True), result, precision, explain)
        if exact_side is not None:
            obj["exact"] = exact_side.to_json(nodes=True)
        click.echo(dumps(obj))
        return
    if exact_side is not None or blank:
        from .worksheet import print_sheet

        print_sheet(result, digits(precision), ex=exact_side, blank=blank)
    else:
        from .render import print_trace

        print_trace(result, digits(precision), edges=show_edges)
    _print_explanation(result, precision, explain, exact_side)


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
    shown = wrt_names(wrt)
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

    print_eval(result, digits(precision))
    print_uncertainty(result, unc, digits(precision))
    _print_explanation(result, precision, explain)


def _with_explanation(
    obj: dict[str, Any], result: Any, precision: int | None, explain: bool
) -> dict[str, Any]:
    """--json --explain: stdout stays one JSON object, with the explanation as a key."""
    if explain:
        from .explain import explanation_json

        obj["explain"] = explanation_json(result, digits(precision))
    return obj


def _print_explanation(result: Any, precision: int | None, explain: bool, exact: Any = None) -> None:
    if explain:  # (with --exact, in the table's fractions)
        from .explain import explanation_lines

        lines = explanation_lines(result, digits(precision), exact=exact)
        click.echo("\n" + "\n".join(lines))


@click.command("check", context_settings=PASS_BINDINGS)
@program_options()
@click.option("--eps", type=Real(), default=None, metavar="H",
              help="Finite-difference step for every input (default: ∛ε·max(1, |x|) ≈ 6e-6·max(1, |x|)).")
@click.option("--tol", type=Real(), default=None, metavar="T",
              help="Agree when |reverse − numeric| ≤ T·max(1, |reverse|, |numeric|) (default 1e-6).")
@click.option("--wrt", default=None, metavar="x,y", help="Check only these inputs (default: all).")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object, a row per input.")
@output_option()
@precision_option()
@click.option("--answers", default=None, metavar="FILE", shell_complete=file_completion,
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
    source, bindings = program_and_bindings(words, file)
    if answers is not None and float32:
        raise GradError(
            "usage", "--answers marks a student's answers; --float32 is for the evaluator: give one"
        )
    if answers is not None:
        _mark_answers(source, bindings, answers, tol, eps, wrt, as_json, output, precision)
        return
    from .gradcheck import DEFAULT_TOL, check

    result = check(
        source, bindings, output=output, eps=eps, tol=DEFAULT_TOL if tol is None else tol, wrt=wrt_names(wrt)
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

        print_check(result, digits(precision))
        if point is not None:
            from .float32 import print_float32

            click.echo()
            print_float32(point, rows, digits(precision))
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

        print_marking(marking, digits(precision))
    failed = marking.error()
    if failed is not None:
        raise failed


@click.command("descend", context_settings=PASS_BINDINGS)
@program_options()
@click.option("--lr", type=Real(), default=None, metavar="R",
              help="Learning rate (default 0.01; 1 with --method newton).")
@click.option("--steps", type=Count(0, 10_000_000, "steps"), default=None, metavar="N",  # descent.MAX_STEPS
              help="Stop after N steps (default 1000, at most 10,000,000).")
@click.option("--tol", type=Real(), default=None, metavar="T",
              help="Stop when the gradient norm is under T (default 1e-6).")
@click.option("--wrt", default=None, metavar="x,y",
              help="Descend on these inputs; the others stay fixed (default: all).")
@click.option("--method", type=click.Choice(["gd", "momentum", "adam", "newton"]), default="gd",
              show_default=True, help="Update rule (newton: x −= lr·H⁻¹g, with the Hessian).")
@click.option("--maximize", is_flag=True, help="Climb: gradient ascent.")
@optimiser_options()
@click.option("--history", type=Count(2), default=None, metavar="N",
              help="Rows of the path to show: first, last and evenly spaced (default 11, at most 10,000).")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object.")
@output_option()
@precision_option()
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
      gradcli descend "(1-x)^2 + 100(y-x^2)^2" -x -1.2 -y 1 --method newton
    """
    from .descent import DEFAULT_STEPS, DescentInterrupted, descend

    source, bindings = program_and_bindings(words, file)
    options: dict[str, Any] = {
        "lr": lr, "steps": steps, "tol": tol, "momentum": momentum, "beta1": beta1,
        "beta2": beta2, "adam_eps": adam_eps, "history": history,
    }
    given = {key: value for key, value in options.items() if value is not None}
    kwargs: dict[str, Any] = {
        "output": output, "wrt": wrt_names(wrt), "method": method, "maximize": maximize, **given,
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
        print_descent(result, digits(precision))
    if result.error is not None:
        raise result.error


@click.command("graph", context_settings=PASS_BINDINGS)
@program_options()
@click.option("--format", "fmt", type=click.Choice(["dot", "svg", "png", "pdf", "mermaid", "tree", "html"]),
              default=None, help="Graphviz source; SVG, PNG, PDF or a web page to step (need Graphviz);"
              " Mermaid; a terminal tree (default: --out's extension: .dot .gv .svg .png .pdf .mmd .html).")
@click.option("--out", default=None, metavar="FILE", shell_complete=file_completion,
              help="Write the picture to FILE instead of standard output.")
@output_option()
@precision_option()
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
      gradcli graph "(x+y)*z" -x 2 -y 3 -z -4 --out circuit.html
    """
    from .api import compile, run
    from .pictures import draw, format_for, write

    fmt = format_for(fmt, out)
    source, bindings = program_and_bindings(words, file)
    graph = compile(source, output)
    # Without bindings the inputs have no values to start from: the structure alone.
    subject = run(graph, bindings) if bindings or not graph.inputs else graph
    write(draw(subject, fmt=fmt, precision=digits(precision)), out)


@click.command("parse", context_settings=PASS_BINDINGS)
@click.argument("words", nargs=-1, type=click.UNPROCESSED, shell_complete=source_completion, metavar="SOURCE")
@file_option()
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

    source, bindings = program_and_bindings(words, file)
    if bindings:
        raise GradError("usage", f"parse takes no bindings: {', '.join(bindings)} given")
    program = parse(source)
    lower(program)  # what eval would refuse (an unknown function, a name assigned twice), refused alike
    if as_json:
        click.echo(ast_json(program))
    else:
        click.echo("\n".join(statement_lines(program)))


@click.command("functions")
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


@click.command("completion")
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


#: Every command, as the group lists them.
COMMANDS = [
    eval_command,
    trace_command,
    check_command,
    descend_command,
    graph_command,
    parse_command,
    functions_command,
    completion_command,
]
