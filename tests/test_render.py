"""Tables: every table goes through render.print_rows, which draws piped tables itself;
they must be exactly rich's."""

from __future__ import annotations

import io
import re

import pytest
from rich.console import Console

import gradcli
from gradcli import render

PROGRAMS = [
    ("q = x + y; f = q * sin(z) / 2", {"x": 2, "y": 3, "z": -4}),
    ("θ * 変数 + 2", {"θ": 1.5, "変数": -2}),
    ("1/(1+exp(-(w0*x0+w1*x1+w2)))", {"w0": 2, "x0": -1, "w1": -3, "x1": -2, "w2": -3}),
    ("x^2", {"x": -3}),
]


def _by_rich(columns: list[render.Column], rows: list[list[str]], title: str, terminal: bool) -> str:
    buf = io.StringIO()
    if terminal:
        console = Console(file=buf, force_terminal=True, no_color=True, width=300, highlight=False)
    else:
        console = render.make_console(buf)
    table = render.make_table(console, title=title)
    for column in columns:
        table.add_column(column.header, justify=column.justify, overflow="fold")  # type: ignore[arg-type]
    for row in rows:
        table.add_row(*row)
    console.print(table)
    return re.sub(r"\x1b\[[0-9;]*m", "", buf.getvalue())


@pytest.mark.parametrize("terminal", [False, True], ids=["pipe", "terminal"])
@pytest.mark.parametrize(("source", "point"), PROGRAMS, ids=[p[0][:20] for p in PROGRAMS])
def test_drawn_tables_are_exactly_what_rich_draws(
    monkeypatch: pytest.MonkeyPatch, source: str, point: dict[str, float], terminal: bool
) -> None:
    from gradcli import functions, report

    result = gradcli.evaluate(source, point)
    tables: list[tuple[str, list[render.Column], list[list[str]]]] = []

    def capture(title: str, columns: list[render.Column], rows: list[list[str]], *_: object, **__: object) -> None:  # noqa: E501
        tables.append((title, columns, rows))

    monkeypatch.setattr(render, "print_rows", capture)
    monkeypatch.setattr(report, "print_rows", capture)
    monkeypatch.setattr(render, "print_rows", capture)
    render.print_eval(result)
    render.print_trace(result)
    report.print_check(gradcli.check(source, point), file=io.StringIO())
    report.print_descent(gradcli.descend(source, point, steps=3), file=io.StringIO())
    functions.print_functions()
    monkeypatch.undo()
    assert len(tables) == 6
    for title, columns, rows in tables:
        drawn = render.draw_table(title, columns, rows, plain=not terminal)
        assert drawn == _by_rich(columns, rows, title, terminal)
