"""``gradcli hessian``: the value, the gradient and the matrix of second derivatives
at a point. The computation is :mod:`gradcli.hessian`'s; this module reads the
options and draws the two tables."""

from __future__ import annotations

from typing import TYPE_CHECKING

import click

from .options import (
    PASS_BINDINGS,
    digits,
    output_option,
    precision_option,
    program_and_bindings,
    program_options,
    wrt_names,
)

if TYPE_CHECKING:
    from .hessian import HessianResult


@click.command("hessian", context_settings=PASS_BINDINGS)
@program_options()
@click.option("--wrt", default=None, metavar="x,y",
              help="The rows and columns: these inputs, in this order (default: every input).")
@output_option()
@click.option("--json", "as_json", is_flag=True,
              help="Print one JSON object: eval --json's, plus \"wrt\" and \"hessian\" (a list of rows).")
@precision_option()
def hessian_command(
    words: tuple[str, ...],
    file: str | None,
    wrt: str | None,
    output: str | None,
    as_json: bool,
    precision: int | None,
) -> None:
    """Print the value, the gradient and the Hessian (second derivatives) of SOURCE.

    The Hessian is symmetric: row a, column b is ∂²f/∂a∂b. A second derivative that
    is undefined at the point (sqrt''(0)) is an error (exit 1); abs, relu, max and
    min follow eval's conventions at their kinks.

    \b
      gradcli hessian "x^2*y" -x 2 -y 3
      gradcli hessian "(1-x)^2 + 100(y-x^2)^2" -x -1.2 -y 1 --json
      gradcli hessian "x*y*z" -x 1 -y 2 -z 3 --wrt z,x
    """
    from .hessian import hessian

    source, bindings = program_and_bindings(words, file)
    result = hessian(source, bindings, output=output, wrt=wrt_names(wrt))
    if as_json:
        from .render import dumps

        click.echo(dumps(result.to_json()))
        return
    print_hessian(result, digits(precision))


def print_hessian(result: HessianResult, precision: int) -> None:
    """Two tables: eval's (the value and the gradient), then the Hessian's rows."""
    from .render import Column, format_number, print_eval, print_rows

    print_eval(result, precision)  # type: ignore[arg-type]  # a HessianResult reads like a Result
    f = result.graph.output_label()
    click.echo()
    columns = [Column(f"∂²{f}/∂a∂b", heading="row {}")]  # narrow: a block per row, "row x"
    columns += [Column(name, "right", whole=True) for name in result.wrt]
    rows = [
        [name, *(format_number(v, precision) for v in row)]
        for name, row in zip(result.wrt, result.hessian, strict=True)
    ]
    print_rows("Hessian (row a, column b)", columns, rows)
