"""Human output of ``check`` and ``descend``: rich tables, a progress bar on standard error.

Imported only by the human-output paths of those commands (``--json`` never
imports rich). Tables follow :mod:`gradcli.render`: plain ASCII when standard
output is not a terminal, rounded and coloured on one.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

from .render import DEFAULT_PRECISION, format_number, make_console, make_table, short_title

if TYPE_CHECKING:
    from rich.console import Console

    from .descent import DescentResult, Progress
    from .gradcheck import CheckResult


def _small(value: float | None) -> str:
    """Errors and steps: two significant digits are all a reader compares."""
    if value is None:
        return "—"
    return "0" if value == 0 else f"{value:.2g}"


def print_check(result: CheckResult, console: Console, precision: int | None = DEFAULT_PRECISION) -> None:
    """The check table, a line per note, and the verdict."""
    if not result.rows:
        console.print("ok: the program has no inputs, so there is no gradient to check", markup=False)
        return
    f = result.output if result.output is not None else "f"
    table = make_table(console, title=short_title(result.source))
    styled = console.is_terminal
    # Every column folds rather than cuts, so a narrow terminal loses no number; the
    # headers are the JSON keys' words, short enough to keep the table narrow.
    fold: dict[str, Any] = {"overflow": "fold"}
    table.add_column("input", **fold)
    table.add_column("value", justify="right", **fold)
    table.add_column(f"∂{f}/∂input", justify="right", style="red" if styled else None, **fold)
    table.add_column("numeric", justify="right", **fold)
    table.add_column("abs error", justify="right", **fold)
    table.add_column("rel error", justify="right", **fold)
    table.add_column("method", **fold)
    table.add_column("step", justify="right", **fold)
    table.add_column("verdict", **fold)
    for row in result.rows:
        verdict = row.verdict
        if styled:
            colour = "green" if row.ok else "bold red" if row.verdict == "differs" else "yellow"
            verdict = f"[{colour}]{verdict}[/]"
        table.add_row(
            row.name,
            format_number(row.value, precision),
            format_number(row.reverse, precision),
            format_number(row.numeric, precision),
            _small(row.abs_error),
            _small(row.rel_error),
            row.method or "—",
            _small(row.step),
            verdict,
        )
    console.print(table)
    for row in result.rows:
        if row.note:
            console.print(f"{row.name}: {row.note}", markup=False)
    agree = sum(row.ok for row in result.rows)
    unsure = len(result.unjudged)
    verdict = "ok" if result.ok else "FAILED" if result.failures else "not confirmed"
    extra = f"; {unsure} cannot be judged" if unsure else ""
    console.print(
        f"{verdict}: {agree} of {len(result.rows)} gradients agree with finite differences"
        f" within tol {result.tol:g}{extra}",
        markup=False,
    )


def print_descent(result: DescentResult, console: Console, precision: int | None = DEFAULT_PRECISION) -> None:
    """The outcome in a line, the final point with its gradient, and the thinned path."""
    f = result.output if result.output is not None else "f"
    how = f"{result.method}, lr {result.lr:g}" + (", maximizing" if result.maximize else "")
    plural = "" if result.steps == 1 else "s"
    if result.error is not None:
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
    styled = console.is_terminal

    final = make_table(console, title=short_title(result.source))
    final.add_column("name", overflow="fold")
    final.add_column("value", justify="right", overflow="fold", style="green" if styled else None)
    final.add_column(f"∂{f}/∂name", justify="right", overflow="fold", style="red" if styled else None)
    final.add_row(f"{f} (output)", format_number(result.value, precision), "")
    for name, value in result.inputs.items():
        if name in result.gradient:
            grad = format_number(result.gradient[name], precision)
            final.add_row(name, format_number(value, precision), grad)
        else:
            final.add_row(f"{name} (fixed)", format_number(value, precision), "")

    rows = result.history
    path = make_table(console, title=f"path ({len(rows)} of {result.steps + 1} points)")
    path.add_column("step", justify="right", overflow="fold")
    path.add_column(f, justify="right", overflow="fold")
    path.add_column("|gradient|", justify="right", overflow="fold")
    for name in result.wrt:
        path.add_column(name, justify="right", overflow="fold")
    for row in rows:
        path.add_row(
            str(row.step),
            format_number(row.value, precision),
            _small(row.grad_norm),
            *(format_number(row.point[name], precision) for name in result.wrt),
        )
    console.print(line, markup=False)
    console.print(final)
    console.print(path)


@contextmanager
def progress_bar(total: int, *, maximize: bool = False) -> Iterator[Progress | None]:
    """A rich progress bar on standard error while the descent runs, when standard
    error is a terminal; None (no bar, no cost) otherwise. Redraws at most 20 times a
    second, so the bar does not slow the loop."""
    import sys

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
    task = bar.add_task("ascending" if maximize else "descending", total=total or 1, status="")
    last = 0.0

    def update(step: int, value: float, grad_norm: float) -> None:
        nonlocal last
        now = time.monotonic()
        if now - last >= 0.05:
            last = now
            bar.update(task, completed=step, status=f"f {value:.6g}  |gradient| {grad_norm:.2g}")

    with bar:
        yield update
