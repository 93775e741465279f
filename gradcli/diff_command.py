"""``gradcli diff``: the derivative of a program, as a program.

Thin, like every command: the words become a program, :func:`gradcli.diff` builds
the derivative program, and it is printed in the format asked for."""

from __future__ import annotations

import click

from .errors import GradError, shorten
from .options import PASS_BINDINGS, file_option, program_and_bindings, source_completion

FORMATS = ("text", "latex", "python", "numpy", "json")


def _order(ctx: click.Context, param: click.Parameter, value: str) -> int:
    if value.strip() not in ("1", "2"):
        raise GradError(
            "usage", f"--order {shorten(value)}: the order is 1 (the gradient) or 2 (with the Hessian)"
        )
    return int(value)


@click.command("diff", context_settings=PASS_BINDINGS)
@click.argument("words", nargs=-1, type=click.UNPROCESSED, shell_complete=source_completion, metavar="SOURCE")
@file_option()
@click.option("--wrt", default=None, metavar="x,y",
              help="Differentiate toward these names, in this order (inputs or named values;"
              " default: every input).")
@click.option("--order", default="1", metavar="1|2", callback=_order,
              help="1: the gradient; 2: also every second derivative ∂²f/∂a∂b.")
@click.option("--output", "output", default=None, metavar="NAME[,NAME...]",
              help="Differentiate the statement NAME (default: the last statement); several names"
              " (a,b): each one's derivatives.")
@click.option("--format", "out_format", type=click.Choice(FORMATS), default="text",
              help="text: gradcli's language (eval runs it); latex: an align* block; python: a module"
              " that imports only math; numpy: the same over arrays; json: one object.")
def diff_command(
    words: tuple[str, ...], file: str | None, wrt: str | None, order: int, output: str | None, out_format: str
) -> None:
    """Print the derivative of SOURCE as a program: SOURCE's statements, shared
    intermediate statements, then one statement per derivative (df_dx, and
    d2f_dx_dy with --order 2). It runs in eval:

    \b
      gradcli diff "1/(1+exp(-(w0*x0+w1*x1+w2)))"
      gradcli diff "q = x + y; f = q * z" --wrt q,x
      gradcli diff "x^3 + x*y" --order 2 --format latex
      gradcli eval "$(gradcli diff 'sin(x)*y')" --output df_dx -x 1 -y 2
    """
    from .api import diff
    from .options import wrt_names

    source, bindings = program_and_bindings(words, file)
    if bindings:
        raise GradError("usage", f"diff takes no bindings (it prints a program): {', '.join(bindings)} given")
    outputs = None if output is None else [name.strip() for name in output.split(",")]
    if outputs is not None and not all(outputs):
        raise GradError("usage", f"--output {output!r}: give names separated by commas, as in --output a,b")
    names = wrt_names(wrt)
    if names is not None and len(set(names)) < len(names):
        twice = next(n for n in names if names.count(n) > 1)
        raise GradError("usage", f"--wrt {shorten(wrt or '')}: {shorten(twice)} is given twice")
    if outputs is None or len(outputs) == 1:
        program = diff(source, names, order, output=None if outputs is None else outputs[0])
        click.echo(program.format(out_format), nl=False)
        return
    texts = _several(source, names, order, outputs, out_format)
    click.echo(texts, nl=False)


def _several(source: str, wrt: list[str] | None, order: int, outputs: list[str], out_format: str) -> str:
    """--output a,b: one program that computes every output's derivatives (text), or
    one JSON object with each output's statement names under ``derivatives``."""
    from .api import parse_and_lower
    from .derivative_text import layout, program_text
    from .derive import derivative_programs

    if len(set(outputs)) < len(outputs):
        raise GradError("usage", f"--output {','.join(outputs)}: a name is given twice")
    if out_format not in ("text", "json"):
        raise GradError("usage", f"--format {out_format} is for one output: give --output one name")
    program, graph, ids = parse_and_lower(source, outputs)
    programs = derivative_programs(graph, list(zip(ids, outputs, strict=True)), wrt, order, program=program)
    lay = layout(programs)
    text = program_text(programs, lay)
    if out_format == "text":
        return text
    from .render import dumps

    return dumps({
        "source": source,
        "output": outputs,
        "wrt": programs[0].wrt,
        "order": order,
        "program": text,
        "derivatives": {
            name: {k if isinstance(k, str) else ",".join(k): v for k, v in names.items()}
            for name, names in lay.names.items()
        },
        "nodes": programs[0].base,
        "derivative_nodes": programs[0].size,
    }) + "\n"
