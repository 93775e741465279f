"""Human output of ``check`` and ``descend``: rich tables, a progress bar on standard error.

Imported only by the human-output paths of those commands (``--json`` never
imports rich). Tables follow :mod:`gradcli.render`: plain ASCII when standard
output is not a terminal, rounded and coloured on one.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import IO, TYPE_CHECKING

from .render import (
    DEFAULT_PRECISION,
    Column,
    Styled,
    format_number,
    make_console,
    print_rows,
    short_title,
)

if TYPE_CHECKING:
    from .descent import DescentResult, Progress
    from .gradcheck import CheckResult


def format_rough(value: float | None) -> str:
    """Errors and steps: two significant digits are all a reader compares."""
    if value is None:
        return "—"
    return "0" if value == 0 else f"{value:.2g}"


def _say(text: str, file: IO[str] | None) -> None:
    stream = file if file is not None else sys.stdout
    stream.write(text + "\n")


def print_check(
    result: CheckResult, precision: int | None = DEFAULT_PRECISION, file: IO[str] | None = None
) -> None:
    """The check table, a line per note, and the verdict."""
    if not result.rows:
        _say("ok: the program has no inputs, so there is no gradient to check", file)
        return
    f = result.result.graph.output_label()
    # The headers are the JSON keys' words, short enough to keep the table narrow.
    columns = [
        Column("input"),
        Column("value", "right", whole=True),
        Column(f"∂{f}/∂input", "right", "red", whole=True),
        Column("numeric", "right", whole=True),
        Column("abs error", "right", whole=True),
        Column("rel error", "right", whole=True),
        Column("method"),
        Column("step", "right", whole=True),
        Column("verdict"),
    ]
    rows = [
        [
            row.name,
            format_number(row.value, precision),
            format_number(row.reverse, precision),
            format_number(row.numeric, precision),
            format_rough(row.abs_error),
            format_rough(row.rel_error),
            row.method or "—",
            format_rough(row.step),
            Styled(row.verdict, "green" if row.ok else "bold red" if row.verdict == "differs" else "yellow"),
        ]
        for row in result.rows
    ]
    print_rows(short_title(result.source), columns, rows, file)
    for row in result.rows:
        if row.note:
            _say(f"{row.name}: {row.note}", file)
    agree = sum(row.ok for row in result.rows)
    unsure = len(result.unjudged)
    verdict = "ok" if result.ok else "FAILED" if result.failures else "not confirmed"
    extra = f"; {unsure} cannot be judged" if unsure else ""
    _say(
        f"{verdict}: {agree} of {len(result.rows)} gradients agree with finite differences"
        f" within tol {result.tol:g}{extra}",
        file,
    )


def print_descent(
    result: DescentResult, precision: int | None = DEFAULT_PRECISION, file: IO[str] | None = None
) -> None:
    """The outcome in a line, the final point with its gradient, and the thinned path."""
    f = result.output_label
    how = f"{result.method}, lr {result.lr:g}" + (", maximizing" if result.maximize else "")
    plural = "" if result.steps == 1 else "s"
    if result.error is not None and result.error.kind == "interrupted":
        line = f"interrupted at step {result.steps} ({how}); the last good point:"
    elif result.diverged:
        line = (
            f"stopped at step {result.steps}: diverging ({how}), the value going the wrong way"
            f" step after step; the point there:"
        )
    elif result.error is not None:
        line = (
            f"stopped by a math error at step {result.error_step} ({how}); the last good point,"
            f" after {result.steps} step{plural}:"
        )
    elif result.converged:
        line = (
            f"converged in {result.steps} step{plural} ({how}): gradient norm"
            f" {format_number(result.grad_norm, precision)} < tol {result.tol:g}"
        )
    else:
        line = (
            f"not converged after {result.steps} step{plural} ({how}): gradient norm"
            f" {format_number(result.grad_norm, precision)} ≥ tol {result.tol:g}"
        )
    _say(line, file)

    final = [[f"{f} (output)", format_number(result.value, precision), ""]]
    for name, value in result.inputs.items():
        if name in result.gradient:
            grad = format_number(result.gradient[name], precision)
            final.append([name, format_number(value, precision), grad])
        else:
            final.append([f"{name} (fixed)", format_number(value, precision), ""])
    columns = [
        Column("name"),
        Column("value", "right", "green", whole=True),
        Column(f"∂{f}/∂name", "right", "red", whole=True),
    ]
    print_rows(short_title(result.source), columns, final, file)

    rows = result.history
    path_columns = [
        Column("step", "right", whole=True),
        Column(f, "right", whole=True),
        Column("|gradient|", "right", whole=True),
        *(Column(name, "right", whole=True) for name in result.wrt),
    ]
    path = [
        [
            str(row.step),
            format_number(row.value, precision),
            format_rough(row.grad_norm),
            *(format_number(row.point[name], precision) for name in result.wrt),
        ]
        for row in rows
    ]
    print_rows(f"path ({len(rows)} of {result.steps + 1} points)", path_columns, path, file)


@contextmanager
def progress_bar(
    total: int, *, maximize: bool = False, description: str | None = None, value_label: str = "f"
) -> Iterator[Progress | None]:
    """A rich progress bar on standard error while the descent runs, when standard
    error is a terminal; None (no bar, no cost) otherwise. Redraws at most 20 times a
    second, so the bar does not slow the loop."""
    if not (hasattr(sys.stderr, "isatty") and sys.stderr.isatty()):
        yield None
        return
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    console = make_console(stderr=True)
    bar = Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("{task.fields[status]}"),
        TimeElapsedColumn(),
        console=console,
        transient=True,  # the bar is scaffolding: the result replaces it
    )
    description = description or ("ascending" if maximize else "descending")
    task = bar.add_task(description, total=total or 1, status="")
    last = 0.0

    def update(step: int, value: float, grad_norm: float) -> None:
        nonlocal last
        now = time.monotonic()
        if now - last >= 0.05:
            last = now
            bar.update(task, completed=step, status=f"{value_label} {value:.6g}  |gradient| {grad_norm:.2g}")

    with bar:
        yield update
