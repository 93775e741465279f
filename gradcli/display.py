"""Results, traces and pictures in Jupyter: HTML tables and SVG.

Jupyter asks an object for its richest form through ``_repr_html_`` and
``_repr_svg_``; :class:`~gradcli.evaluate.Result`, :class:`~gradcli.traces.Trace`,
:class:`~gradcli.graph.Graph` and :class:`Picture` answer through the functions
here, which turn a result into HTML text and nothing else (no IPython import:
gradcli never needs Jupyter to be installed).

A notebook shows whatever a repr returns, so every string a user wrote (the source,
names, labels) is escaped, tables stop after :data:`MAX_ROWS` rows (a 10^6-node
trace would stall the browser), and a repr never raises: the picture falls back to
the terminal tree when Graphviz is missing or the graph is too large for it, and any
other failure leaves the plain-text repr in place (a repr that returns None).
"""

from __future__ import annotations

import html
import shutil
from typing import TYPE_CHECKING

from .errors import GradError
from .graph import Graph
from .render import DEFAULT_PRECISION, format_number, short_title

if TYPE_CHECKING:
    from .descent import DescentResult, Step
    from .evaluate import NodeResult, Result
    from .fit import FitResult
    from .jacobian import Jacobian

#: Rows of a table shown in a notebook: past this, the first and last halves with a
#: row that says how many are left out (``Result.nodes`` holds every one).
MAX_ROWS = 200

#: Columns of gradients in a Jacobian's table: past this, a column says how many are left out.
MAX_COLUMNS = 30

#: Lines of the terminal tree shown when the SVG cannot be drawn.
MAX_TREE_LINES = 300

#: The tutorials' colours (the pictures' too): values in green, gradients in red.
GREEN = "#008000"
RED = "#d00000"

_TABLE = 'style="border-collapse: collapse; font-variant-numeric: tabular-nums"'
_CAPTION = 'style="caption-side: top; text-align: left; font-weight: bold; white-space: pre"'


def check_precision(precision: object) -> int | None:
    """Significant digits for a notebook's numbers: 1 to 17, or None for every digit."""
    if precision is None or (type(precision) is int and 1 <= precision <= 17):
        return precision
    raise GradError(
        "usage", f"precision={precision!r}: give a whole number from 1 to 17, or None for every digit"
    )


def _e(text: object) -> str:
    """Escaped for HTML text and attribute values alike."""
    return html.escape(str(text), quote=True)


#: Every cell's style: Jupyter's own table style right-aligns every cell, a bare page
#: pads none, so each cell says what it wants.
_RIGHT = "text-align: right; padding: 0.15em 0.6em"
_LEFT = "text-align: left; padding: 0.15em 0.6em"


def _number_cell(value: float | None, precision: int | None, colour: str | None = None) -> str:
    """A right-aligned number; its full precision in the tooltip."""
    style = _RIGHT if colour is None else f"{_RIGHT}; color: {colour}"
    title = "" if value is None else f' title="{_e(repr(value))}"'
    return f'<td style="{style}"{title}>{_e(format_number(value, precision))}</td>'


def _text_cell(text: str, *, code: bool = False, right: bool = False) -> str:
    body = f"<code>{_e(text)}</code>" if code else _e(text)
    return f'<td style="{_RIGHT if right else _LEFT}">{body}</td>'


def _empty_cell() -> str:
    return f'<td style="{_LEFT}"></td>'


def _header(*names: str, right: tuple[int, ...] = ()) -> str:
    """A header row; the columns numbered in ``right`` (numbers) are right-aligned."""
    cells = "".join(
        f'<th style="{_RIGHT if k in right else _LEFT}">{_e(n)}</th>' for k, n in enumerate(names)
    )
    return f"<thead><tr>{cells}</tr></thead>"


def _table(caption: str, head: str, rows: list[str]) -> str:
    return (
        f'<table class="gradcli" {_TABLE}><caption {_CAPTION}>{_e(caption)}</caption>'
        f"{head}<tbody>{''.join(rows)}</tbody></table>"
    )


def _thinned(count: int) -> tuple[list[int], int]:
    """The indices of ``count`` rows to show (all, or the first and last MAX_ROWS/2),
    and how many are left out (between the two halves)."""
    if count <= MAX_ROWS:
        return list(range(count)), 0
    half = MAX_ROWS // 2
    return [*range(half), *range(count - half, count)], count - MAX_ROWS


def _left_out_row(columns: int, left_out: int, where: str) -> str:
    return (
        f'<tr><td colspan="{columns}" style="text-align: center; font-style: italic; padding: 0.15em 0.6em">'
        f"… {left_out:,} rows not shown ({_e(where)} has every one)</td></tr>"
    )


# --- an evaluation --------------------------------------------------------------------------


def _output_name(result: Result) -> str:
    """The output's name in a table: its statement's (one of several outputs has its
    own), else the name every human output gives a bare expression."""
    return result.output if result.output is not None else result.graph.output_label()


def result_html(result: Result, precision: int | None = DEFAULT_PRECISION) -> str:
    """``eval``'s table as HTML: the output's value, then each reported name with its
    value and its gradient ∂f/∂name."""
    f = _output_name(result)
    head = _header("name", "value", f"∂{f}/∂name", right=(1, 2))
    rows = [
        f"<tr>{_text_cell(f'{f} (output)')}{_number_cell(result.value, precision, GREEN)}{_empty_cell()}</tr>"
    ]
    unused = set(result.graph.unused())
    names = list(result.gradient)
    picked, left_out = _thinned(len(names))
    for n, k in enumerate(picked):
        if left_out and n == MAX_ROWS // 2:
            rows.append(_left_out_row(3, left_out, "result.gradient"))
        name = names[k]
        shown = f"{name} (unused)" if name in unused else name
        rows.append(
            f"<tr>{_text_cell(shown)}{_number_cell(result.value_of(name), precision, GREEN)}"
            f"{_number_cell(result.gradient[name], precision, RED)}</tr>"
        )
    return _table(short_title(result.source, 80), head, rows)


def jacobian_html(jac: Jacobian, precision: int | None = DEFAULT_PRECISION) -> str:
    """Several outputs as HTML: a row per output (its value, then its gradient: a row
    of the Jacobian), a column per reported name (at most MAX_COLUMNS)."""
    names = list(jac.first.gradient)
    shown = names[:MAX_COLUMNS]
    more = len(names) - len(shown)
    headers = ["output", "value", *(f"∂/∂{name}" for name in shown)]
    if more:
        headers.append(f"… {more:,} more (j.jacobian has them)")
    head = _header(*headers, right=tuple(range(1, 2 + len(shown))))
    rows = []
    picked, left_out = _thinned(len(jac.outputs))
    for n, k in enumerate(picked):
        if left_out and n == MAX_ROWS // 2:
            rows.append(_left_out_row(len(headers), left_out, "j.values"))
        result = jac.results[k]
        cells = "".join(_number_cell(result.gradient[name], precision, RED) for name in shown)
        rows.append(
            f"<tr>{_text_cell(jac.outputs[k])}{_number_cell(result.value, precision, GREEN)}{cells}"
            f"{_empty_cell() if more else ''}</tr>"
        )
    return _table(short_title(jac.graph.source, 80), head, rows)


# --- a trace ----------------------------------------------------------------------------------


def _trace_row(node: NodeResult, precision: int | None) -> str:
    inputs = ", ".join(str(i) for i in node.inputs)
    if node.evaluated is False:
        value = f'<td style="{_RIGHT}; font-style: italic">not taken</td>'
    else:
        value = _number_cell(node.value, precision, GREEN)
    local = ", ".join(format_number(g, precision) for g in node.local_grads)
    full = ", ".join("—" if g is None else repr(g) for g in node.local_grads)
    title = f' title="{_e(full)}"' if full else ""
    local_cell = f'<td style="{_RIGHT}"{title}>{_e(local)}</td>'
    return (
        f"<tr>{_text_cell(str(node.id), right=True)}{_text_cell(node.label, code=True)}"
        f"{_text_cell(node.op)}{_text_cell(inputs)}{value}{local_cell}"
        f"{_number_cell(node.grad, precision, RED)}</tr>"
    )


def trace_html(result: Result, precision: int | None = DEFAULT_PRECISION) -> str:
    """``trace``'s table as HTML: a row per node, inputs before their consumers, the
    output last: its value, its local gradients ∂node/∂input (one per input, in
    order) and its gradient ∂f/∂node."""
    f = _output_name(result)
    head = _header("id", "label", "op", "inputs", "value", "∂node/∂input", f"∂{f}/∂node", right=(0, 4, 5, 6))
    rows = [
        f'<tr>{_empty_cell()}{_text_cell(f"{name} (unused)", code=True)}{_text_cell("var")}{_empty_cell()}'
        f"{_number_cell(result.inputs[name], precision, GREEN)}{_empty_cell()}"
        f"{_number_cell(0.0, precision, RED)}</tr>"
        for name in result.graph.unused()
    ]
    nodes = result.nodes
    picked, left_out = _thinned(len(nodes))
    for n, k in enumerate(picked):
        if left_out and n == MAX_ROWS // 2:
            rows.append(_left_out_row(7, left_out, "trace.nodes"))
        rows.append(_trace_row(nodes[k], precision))
    return _table(short_title(result.source, 80), head, rows)


# --- a descent ------------------------------------------------------------------------------


def _path_table(source: str, headers: tuple[str, str, str], names: list[str], history: list[Step]) -> str:
    """A thinned path (descend's steps, fit's epochs): the counter, the value, the
    gradient norm, then each moving variable."""
    head = _header(*headers, *names, right=tuple(range(3 + len(names))))
    picked, left_out = _thinned(len(history))
    rows = []
    for n, k in enumerate(picked):
        if left_out and n == MAX_ROWS // 2:
            rows.append(_left_out_row(3 + len(names), left_out, "history"))
        row = history[k]
        cells = "".join(_number_cell(row.point.get(name), precision=DEFAULT_PRECISION) for name in names)
        rows.append(
            f"<tr>{_text_cell(f'{row.step:,}', right=True)}"
            f"{_number_cell(row.value, DEFAULT_PRECISION, GREEN)}"
            f"{_number_cell(row.grad_norm, DEFAULT_PRECISION, RED)}{cells}</tr>"
        )
    return _table(short_title(source, 80), head, rows)


def _point(values: dict[str, float]) -> str:
    return ", ".join(f"{name} = {format_number(v)}" for name, v in values.items())


def _stopped(message: str, step: int | None) -> str:
    """How a run stopped by an error ended (its message may name the step already)."""
    if step is None or message.startswith(f"step {step}:"):
        return f"stopped: {message}"
    return f"stopped at step {step}: {message}"


def descent_html(descent: DescentResult) -> str:
    """``descend``'s outcome as HTML: a line that says how it ended, then the thinned
    path (step, value, gradient norm, each descended variable)."""
    f = descent.output_label
    if descent.error is not None:
        ended = _stopped(descent.error.message, descent.error_step)
    elif descent.converged:
        ended = f"converged after {descent.steps:,} steps"
    else:
        ended = f"not converged after {descent.steps:,} steps"
    summary = (
        f"<p><b>{_e(ended)}</b>: {_e(f)} = {_e(format_number(descent.value))}"
        f" at {_e(_point(descent.inputs))} (gradient norm {_e(format_number(descent.grad_norm))})</p>"
    )
    headers = ("step", f, "‖gradient‖")
    return summary + _path_table(descent.source, headers, list(descent.wrt), descent.history)


def fit_html(fit: FitResult) -> str:
    """``fit``'s outcome as HTML: how it ended, the fitted parameters and the mean
    loss over every row, then the thinned history (epoch, mean loss, gradient norm,
    each parameter)."""
    if fit.error is not None:
        ended = _stopped(fit.error.message, fit.error_step)
    elif fit.converged:
        ended = f"converged after {fit.epochs:,} epochs ({fit.steps:,} steps)"
    else:
        ended = f"not converged after {fit.epochs:,} epochs ({fit.steps:,} steps)"
    summary = (
        f"<p><b>{_e(ended)}</b>: {_e(_point(fit.params))}; mean loss {_e(format_number(fit.loss))}"
        f" over {fit.rows:,} row{'s' if fit.rows != 1 else ''}"
        f" (gradient norm {_e(format_number(fit.grad_norm))})</p>"
    )
    headers = ("epoch", "mean loss", "‖gradient‖")
    return summary + _path_table(fit.source, headers, list(fit.params), fit.history)


# --- a picture ----------------------------------------------------------------------------------


class Picture:
    """The circuit of a result (every wire with its value and gradient) or of a graph
    alone (the structure), as ``gradcli graph`` draws it. In Jupyter it shows itself
    as SVG, laid out by Graphviz's ``dot`` program; without Graphviz, or for a graph
    too large for it, as the coloured terminal tree with a line that says why."""

    __slots__ = ("_svg", "_why", "precision", "subject")

    def __init__(self, subject: Result | Graph, precision: int | None = DEFAULT_PRECISION) -> None:
        self.subject = subject
        self.precision = check_precision(precision)
        self._svg: str | None = None
        self._why: str | None = None  # why there is no SVG, once that has been tried

    @property
    def graph(self) -> Graph:
        return self.subject if isinstance(self.subject, Graph) else self.subject.graph

    def __repr__(self) -> str:
        return f"<Picture of {short_title(self.graph.source, 60)!r}: {len(self.graph.nodes):,} nodes>"

    def dot(self) -> str:
        """The Graphviz source (``gradcli graph --format dot``)."""
        from .pictures import draw

        return str(draw(self.subject, fmt="dot", precision=self.precision).text)

    def svg(self) -> str:
        """The SVG (``gradcli graph --format svg``); raises GradError without Graphviz."""
        if self._svg is None:
            from .pictures import draw

            text = draw(self.subject, fmt="svg", precision=self.precision).text
            self._svg = text.decode("utf-8", "replace") if isinstance(text, bytes) else text
        return self._svg

    def tree(self) -> str:
        """The terminal tree (``gradcli graph --format tree``), as plain text."""
        from .pictures import draw

        return str(draw(self.subject, fmt="tree", precision=self.precision).text)

    def _try_svg(self) -> str | None:
        if self._svg is None and self._why is None:
            from .pictures import MAX_RENDER_NODES

            count = len(self.graph.nodes)
            if count > MAX_RENDER_NODES:
                self._why = (
                    f"Graphviz lays out at most {MAX_RENDER_NODES:,} nodes here, and this graph has {count:,}"
                )
                return None
            if shutil.which("dot") is None:
                self._why = (
                    "The picture needs Graphviz's dot program, which is not on PATH: install Graphviz"
                    " (apt-get install graphviz, brew install graphviz, or https://graphviz.org/download/)."
                    " The tree below has the same numbers."
                )
                return None
            try:
                self.svg()
            except GradError as err:
                self._why = err.message
            except Exception as exc:  # a repr never raises: say what went wrong instead
                self._why = f"the SVG could not be drawn ({type(exc).__name__})"
        return self._svg

    def _repr_svg_(self) -> str | None:
        try:
            svg = self._try_svg()
            if svg is None:
                return None
            start = svg.find("<svg")  # the element alone: no XML prolog inside a page
            return svg[start:] if start >= 0 else svg
        except Exception:  # pragma: no cover - _try_svg already catches everything
            return None

    def _repr_html_(self) -> str | None:
        """Only when there is no SVG: the tree in HTML, and why (Jupyter prefers HTML
        to SVG, so this must stay None whenever the SVG exists). Jupyter asks for HTML
        first, so this is where Graphviz runs; the SVG is kept for ``_repr_svg_``."""
        try:
            if self._try_svg() is not None:
                return None
            return tree_html(self.subject, self._why or "", self.precision)
        except Exception:
            return None


#: The picture of the graph displayed last: Jupyter asks a graph for HTML and then for
#: SVG, and both answers come from one picture, so Graphviz runs once. (A graph is never
#: changed once lowered, so its identity is the key; the reference keeps it stable.)
_last_graph_picture: list[Picture] = []


def graph_picture(graph: Graph) -> Picture:
    """The picture of ``graph`` alone (its structure), the same one for the same graph
    twice in a row."""
    if _last_graph_picture and _last_graph_picture[0].subject is graph:
        return _last_graph_picture[0]
    picture = Picture(graph)
    _last_graph_picture[:] = [picture]
    return picture


_STYLES = {
    "green": f"color: {GREEN}",
    "red": f"color: {RED}",
    "bold": "font-weight: bold",
    "dim": "opacity: 0.6",
    "italic": "font-style: italic",
}


def _span(text: str, style: str | None) -> str:
    css = "; ".join(_STYLES[s] for s in (style or "").split() if s in _STYLES)
    return f'<span style="{css}">{_e(text)}</span>' if css else _e(text)


def tree_html(subject: Result | Graph, why: str, precision: int | None = DEFAULT_PRECISION) -> str:
    """The picture without Graphviz: ``why`` there is no SVG, then the terminal tree
    (values green, gradients red), at most MAX_TREE_LINES lines."""
    from .pictures import MAX_RENDER_NODES, draw

    graph = subject if isinstance(subject, Graph) else subject.graph
    note = f'<p style="font-style: italic">{_e(why)}</p>' if why else ""
    if len(graph.nodes) > MAX_RENDER_NODES:  # the tree of a huge graph is huge too
        return (
            f"{note}<p>A graph of {len(graph.nodes):,} nodes: too large to draw here;"
            " <code>picture.dot()</code> gives the Graphviz source.</p>"
        )
    lines = draw(subject, fmt="tree", precision=precision).lines or []
    shown = lines[:MAX_TREE_LINES]
    body = "\n".join("".join(_span(t, s) for t, s in line) for line in shown)
    if len(lines) > len(shown):
        body += f"\n… {len(lines) - len(shown):,} more lines (picture.tree() has them all)"
    return f'{note}<pre class="gradcli-tree" style="line-height: 1.25">{body}</pre>'
