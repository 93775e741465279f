"""``gradcli fit``: the command, and its human output.

The training loop itself is :func:`gradcli.fit.fit`; this module reads the
options, makes that one call, prints the outcome (a table, or one JSON object),
writes ``--save`` when the fit ended at a good point, and raises the error that
stopped it, if any, for :mod:`gradcli.cli` to print with its exit code.
"""

from __future__ import annotations

from typing import IO, Any

import click

from .errors import GradError, shorten
from .options import (
    PASS_BINDINGS,
    Count,
    Real,
    digits,
    file_completion,
    optimiser_options,
    output_option,
    precision_option,
    program_and_bindings,
    program_options,
)


@click.command("fit", context_settings=PASS_BINDINGS)
@program_options()
@click.option("--data", required=True, metavar="FILE|-", shell_complete=file_completion,
              help="The rows: CSV with a header or JSON Lines (- reads standard input).")
@click.option("--params", required=True, metavar="w,b",
              help="The inputs to fit, each starting from its binding.")
@click.option("--epochs", type=Count(0, 10_000_000, "epochs"), default=None, metavar="N",  # fit.MAX_EPOCHS
              help="Passes over the data at most (default 100).")
@click.option("--batch-size", type=Count(1), default=None, metavar="B",
              help="Rows per step (default: every row, full-batch gradient descent).")
@click.option("--lr", type=Real(), default=None, metavar="R",
              help="Learning rate (default 0.01; 1 for newton).")
@click.option("--method", type=click.Choice(["gd", "momentum", "adam", "newton"]), default="gd",
              show_default=True, help="Update rule.")
@click.option("--seed", type=Count(0), default=0, show_default=True, metavar="S",
              help="Seed of the shuffling of the rows each epoch.")
@click.option("--no-shuffle", is_flag=True, help="Take the rows in their order, every epoch.")
@click.option("--tol", type=Real(), default=None, metavar="T",
              help="Converged when the gradient norm over every row is under T (default 1e-6).")
@click.option("--history", type=Count(2), default=None, metavar="N",
              help="Epochs of the history to show: first, last and evenly spaced (default 11).")
@click.option("--save", default=None, metavar="FILE", shell_complete=file_completion,
              help="Write the fitted parameters to FILE as one JSON object (for --bindings FILE).")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object.")
@click.option("--input-format", type=click.Choice(["jsonl", "csv", "parquet"]), default=None,
              help="Format of the --data file (default: told from its content).")
@optimiser_options()
@output_option()
@precision_option()
def fit_command(
    words: tuple[str, ...],
    file: str | None,
    data: str,
    params: str,
    epochs: int | None,
    batch_size: int | None,
    lr: float | None,
    method: str,
    seed: int,
    no_shuffle: bool,
    tol: float | None,
    history: int | None,
    save: str | None,
    as_json: bool,
    input_format: str | None,
    momentum: float | None,
    beta1: float | None,
    beta2: float | None,
    adam_eps: float | None,
    output: str | None,
    precision: int | None,
) -> None:
    """Fit parameters to data: SOURCE is the loss of one row; each step moves the
    parameters against the gradient of the mean loss over a minibatch.

    \b
      gradcli fit "(a*x + b - y)^2" --data points.csv --params a,b -a 0 -b 0 --lr 0.1
      gradcli fit "z = w0*x0 + w1*x1 + b; softplus(z) - y*z" --data train.csv \\
          --params w0,w1,b --w0 0 --w1 0 -b 0 --method adam --batch-size 32 --epochs 20 \\
          --lr 0.05 --save params.json      # logistic regression (cross-entropy)
      gradcli eval "sigmoid(w0*x0 + w1*x1 + b)" --bindings params.json --batch test.csv
    """
    from .arguments import split_words
    from .fit import DEFAULT_EPOCHS, FitInterrupted, fit

    if data == "-" and file is None and split_words(words, has_file=False)[0] == "-":
        raise GradError(
            "usage", "the program and --data cannot both be read from standard input: give one a file"
        )
    source, bindings = program_and_bindings(words, file)
    if save is not None:  # before the fit, not after minutes of it
        from .files import unwritable

        problem = unwritable(save)
        if problem is not None:
            reason = problem.strerror or problem
            raise GradError("usage", f"cannot write --save {shorten(save, 80)}: {reason}")
    names = [name.strip() for name in params.split(",")]
    if not all(names):
        raise GradError(
            "usage", f"--params {shorten(params)!r}: give names separated by commas, as in --params w,b"
        )
    options: dict[str, Any] = {
        "epochs": epochs, "batch_size": batch_size, "lr": lr, "tol": tol, "history": history,
        "momentum": momentum, "beta1": beta1, "beta2": beta2, "adam_eps": adam_eps,
    }
    given = {key: value for key, value in options.items() if value is not None}
    kwargs: dict[str, Any] = {
        "params": names, "output": output, "method": method, "seed": seed, "shuffle": not no_shuffle,
        "input_format": input_format, **given,
    }
    if as_json:  # no progress bar, and no rich
        try:
            result = fit(source, data, bindings, **kwargs)
        except FitInterrupted as stop:
            result = stop.result
        from .render import dumps

        click.echo(dumps(result.to_json()))
    else:
        from .report import progress_bar

        try:
            with progress_bar(given.get("epochs", DEFAULT_EPOCHS), description="fitting",
                              value_label="loss") as progress:
                result = fit(source, data, bindings, progress=progress, **kwargs)
        except FitInterrupted as stop:
            result = stop.result
        print_fit(result, digits(precision))
    if save is not None and result.good:
        write_params(save, result.params)
    if result.error is not None:
        raise result.error


def write_params(path: str, params: dict[str, float]) -> None:
    """``--save FILE``: the parameters as one JSON object, a line of its own."""
    from .files import cannot_write, write_whole
    from .render import dumps

    try:
        write_whole(path, (dumps(params) + "\n").encode("utf-8"))
    except OSError as exc:
        raise cannot_write("--save", path, exc) from None


def print_fit(result: Any, precision: int | None, file: IO[str] | None = None) -> None:
    """The outcome in a line, the parameters with the loss's gradient, and the history."""
    import sys

    from .render import Column, format_number, print_rows, short_title
    from .report import format_rough

    stream = file if file is not None else sys.stdout
    f = result.output_label
    batch = "full batch" if result.batch_size >= result.rows else f"batch size {result.batch_size:,}"
    how = f"{result.method}, lr {result.lr:g}, {batch}"
    rows = f"{result.rows:,} row{'' if result.rows == 1 else 's'}"
    epochs = f"{result.epochs:,} epoch{'' if result.epochs == 1 else 's'}"
    steps = f"{result.steps:,} step{'' if result.steps == 1 else 's'}"
    if result.error is not None and result.error.kind == "interrupted":
        line = f"interrupted after {epochs}, {steps} ({how}; {rows}); the last good parameters:"
    elif result.error is not None:
        line = (
            f"stopped by a math error at step {result.error_step:,} ({how}; {rows});"
            f" the {'last good ' if result.loss is not None else ''}parameters after {steps}:"
        )
    elif result.converged:
        line = (
            f"converged after {epochs}, {steps} ({how}; {rows}): gradient norm"
            f" {format_number(result.grad_norm, precision)} < tol {result.tol:g}"
        )
    else:
        line = (
            f"not converged after {epochs}, {steps} ({how}; {rows}): gradient norm"
            f" {format_number(result.grad_norm, precision)} ≥ tol {result.tol:g}"
        )
    stream.write(line + "\n")
    loss = "—" if result.loss is None else format_number(result.loss, precision)
    table = [[f"{f} (mean loss)", loss, ""]]
    for name, value in result.params.items():
        grad = result.gradient.get(name)
        shown = "" if grad is None else format_number(grad, precision)
        table.append([name, format_number(value, precision), shown])
    columns = [
        Column("name"),
        Column("value", "right", "green", whole=True),
        Column(f"∂{f}/∂name", "right", "red", whole=True),
    ]
    print_rows(short_title(result.source), columns, table, file)
    names = list(result.params)
    path_columns = [
        Column("epoch", "right", whole=True),
        Column(f"{f}", "right", whole=True),
        Column("|gradient|", "right", whole=True),
        *(Column(name, "right", whole=True) for name in names),
    ]
    path = [
        [
            str(row.step),
            format_number(row.value, precision),
            format_rough(row.grad_norm),
            *(format_number(row.point[name], precision) for name in names),
        ]
        for row in result.history
    ]
    total = result.epochs + 1
    print_rows(f"history ({len(path)} of {total:,} epoch{'' if total == 1 else 's'}, 0 = the start)",
               path_columns, path, file)
