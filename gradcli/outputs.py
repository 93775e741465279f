"""``eval`` and ``trace`` with several outputs (``--output a,b``): the command side
and the tables. The computation is :mod:`gradcli.jacobian`'s.

``eval``'s table has a row per output (its value) and a row per reported name with
one gradient column per output: the Jacobian, output by output. ``trace``'s table
is the graph that every output needs, with one gradient column per output
(``∂a/∂node``, ``∂b/∂node``); a node an output does not depend on has 0 there.
Options that explain or tabulate one output (``--explain``, ``--exact``, ``--sigma``,
``--edges``, ``--blank``, ``--format latex``) and batches (``--batch``, ``--grid``)
are refused with a usage error: run them once per output.
"""

from __future__ import annotations

from collections.abc import Mapping

import click

from .errors import GradError
from .jacobian import Jacobian


def refuse(command: str, given: Mapping[str, bool]) -> None:
    """A usage error for the options (those ``given`` True) that serve one output only."""
    named = [option for option, on in given.items() if on]
    if named:
        raise GradError(
            "usage",
            f"{command} --output with several names takes none of {', '.join(named)}:"
            " give one output for them (run once per output)",
        )


def eval_outputs(
    words: tuple[str, ...],
    file: str | None,
    output: str,
    *,
    as_json: bool,
    wrt: str | None,
    precision: int | None,
    refused: Mapping[str, bool],
) -> None:
    """``eval --output a,b``: every output's value and gradient."""
    from .jacobian import jacobian
    from .options import digits, program_and_bindings, wrt_names

    refuse("eval", refused)
    source, bindings = program_and_bindings(words, file)
    result = jacobian(source, bindings, outputs=output, wrt=wrt_names(wrt))
    if as_json:
        from .render import dumps

        click.echo(dumps(result.to_json()))
        return
    print_jacobian(result, digits(precision))


def trace_outputs(
    words: tuple[str, ...],
    file: str | None,
    output: str,
    *,
    as_json: bool,
    precision: int | None,
    refused: Mapping[str, bool],
) -> None:
    """``trace --output a,b``: every node, with a gradient column per output."""
    from .jacobian import jacobian
    from .options import digits, program_and_bindings

    refuse("trace", refused)
    source, bindings = program_and_bindings(words, file)
    result = jacobian(source, bindings, outputs=output)
    if as_json:
        from .render import dumps

        click.echo(dumps(result.to_json(nodes=True)))
        return
    print_jacobian_trace(result, digits(precision))


def print_jacobian(result: Jacobian, precision: int) -> None:
    """eval's table for several outputs: a row per output, then a row per reported
    name with ∂output/∂name for each output."""
    from .render import Column, format_number, print_rows, short_title

    first = result.first
    columns = [Column("name"), Column("value", "right", "green", whole=True)]
    columns += [Column(f"∂{name}/∂name", "right", "red", whole=True) for name in result.outputs]
    blanks = [""] * len(result.outputs)
    rows = [[f"{name} (output)", format_number(v, precision), *blanks] for name, v in result.values.items()]
    unused = set(result.graph.unused())
    for name in first.gradient:
        shown = f"{name} (unused)" if name in unused else name
        grads = [format_number(r.gradient[name], precision) for r in result.results]
        rows.append([shown, format_number(first.value_of(name), precision), *grads])
    print_rows(short_title(first.source), columns, rows)


def print_jacobian_trace(result: Jacobian, precision: int) -> None:
    """trace's table for several outputs: one gradient column per output."""
    from .render import Column, format_number, print_rows, short_title

    first = result.first
    columns = [
        Column("id", "right", whole=True),
        Column("label"),
        Column("op"),
        Column("inputs"),
        Column("value", "right", "green", whole=True),
        Column("∂node/∂input", "right", whole=True),
    ]
    columns += [Column(f"∂{name}/∂node", "right", "red", whole=True) for name in result.outputs]
    rows = [
        [
            "", f"{name} (unused)", "var", "", format_number(first.inputs[name], precision), "",
            *["0"] * len(result.outputs),
        ]
        for name in result.graph.unused()
    ]
    for node in first.nodes:
        value = "not taken" if node.evaluated is False else format_number(node.value, precision)
        local = ", ".join(format_number(g, precision) for g in node.local_grads)
        grads = [format_number(r.grads[node.id], precision) for r in result.results]
        inputs = ", ".join(str(i) for i in node.inputs)
        rows.append([str(node.id), node.label, node.op, inputs, value, local, *grads])
    print_rows(short_title(first.source), columns, rows)
