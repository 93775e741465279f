"""Pictures of the computational graph: Graphviz DOT, SVG (through Graphviz), Mermaid,
a tree for the terminal, and a web page to step through (``webpage.py``).

The pictures follow the circuit diagrams of the backpropagation tutorials: inputs on
the left, one gate per graph node (``+``, ``*``, ``exp``, ``1/x``), and on every wire
the forward value (green) above the gradient that wire carries back (red):
∂f/∂consumer · ∂consumer/∂input, so the wires out of a node add up to its gradient
(``x*x + 2*x`` at 3: x's wires carry 3, 3 and 2, its gradient 8). A constant
operand is written into its gate (``+1``, ``*2``, ``^2``, ``1/x``) rather than drawn
as a wire of its own, as the tutorials do. A shared node is drawn once, with one wire
to each consumer. Without bindings the picture shows the structure only.

Every picture is made by loops over ``graph.nodes`` and an explicit stack (the tree),
never by recursion on depth. rich is imported only to colour the tree on a terminal.
"""

from __future__ import annotations

import html
import os
import shutil
import signal
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from typing import IO, Any

from .errors import GradError, printable, shorten
from .evaluate import Result
from .graph import Graph, Node, format_literal
from .render import DEFAULT_PRECISION, format_number, short_title

FORMATS = ("dot", "svg", "png", "pdf", "mermaid", "tree", "html")

#: Formats that Graphviz's dot program renders, and those that are bytes, not text.
RENDERED = ("svg", "png", "pdf")
BINARY = ("png", "pdf")

#: --out's extension -> the format it implies.
EXTENSIONS = {
    ".dot": "dot", ".gv": "dot", ".svg": "svg", ".png": "png", ".pdf": "pdf",
    ".mmd": "mermaid", ".mermaid": "mermaid", ".html": "html", ".htm": "html",
}

#: Graphviz's layout grows much faster than the graph: measured with dot 2.43, a sum of
#: 30 sin terms (about 100 nodes) took 0.2 s, 50 terms 4 s, 70 terms over 30 s, while a
#: 400-deep chain took 0.1 s. Larger graphs are refused before dot starts, and dot is
#: stopped after RENDER_SECONDS whatever the graph.
MAX_RENDER_NODES = 1000
RENDER_SECONDS = 20

#: The tree stops expanding at this depth and says how many levels it left out:
#: a line per level costs its indentation, so a 100,000-deep tree would be gigabytes.
TREE_MAX_DEPTH = 50

#: The tutorials' colours: values in green, gradients in red (dark enough for print).
GREEN = "#008000"
RED = "#d00000"

#: Nodes and wires of a branch not taken.
GREY = "#999999"

#: Gate labels for operators whose operands are all wires.
_GATES = {
    "add": "+", "sub": "-", "mul": "*", "div": "/", "pow": "^", "neg": "*-1",
    "lt": "<", "le": "<=", "gt": ">", "ge": ">=", "eq": "==", "ne": "!=",
}


@dataclass(eq=False)
class Drawing:
    """A finished picture: ``text`` (str, or bytes for SVG) in ``format``; a tree also
    carries ``lines``, each a list of (text, style) pieces for a coloured terminal."""

    format: str
    text: str | bytes
    lines: list[list[tuple[str, str | None]]] | None = None


@dataclass(eq=False)
class _Scene:
    """What every picture needs: the graph, the numbers (or None), the gates."""

    graph: Graph
    result: Result | None
    precision: int | None
    gates: list[str]  # the gate label of every node
    drawn: list[bool]  # False for a constant written into all its consumers' gates
    wired: list[list[bool]]  # wired[n][k]: input k of node n is drawn as a wire

    def taken(self, node_id: int) -> bool:
        """False for a node in a branch of ``if`` that was not taken (not evaluated:
        drawn grey and dashed, without numbers)."""
        if self.result is None:
            return True
        value = self.result.values[node_id]
        return value == value  # NaN marks a node not evaluated

    def value(self, node_id: int) -> str | None:
        if self.result is None or not self.taken(node_id):
            return None
        return format_number(self.result.values[node_id], self.precision)

    def grad(self, node_id: int) -> str | None:
        if self.result is None or self.result.grads[node_id] is None:
            return None
        return format_number(self.result.grads[node_id], self.precision)

    def carried(self, consumer: int, position: int) -> str | None:
        """What the wire into ``consumer``'s operand ``position`` carries back: its
        edge's contribution ∂f/∂consumer · ∂consumer/∂input (None where not computed)."""
        if self.result is None:
            return None
        from .edges import contribution

        local = self.result.nodes[consumer].local_grads[position]
        c = contribution(self.result.grads[consumer], local)
        return None if c is None else format_number(c, self.precision)

    @property
    def output_name(self) -> str:
        return self.graph.output_label()


# --- the one library call -------------------------------------------------------------


def draw(
    subject: Result | Graph,
    *,
    fmt: str = "dot",
    precision: int | None = DEFAULT_PRECISION,
) -> Drawing:
    """Draw a result as ``fmt`` (dot, svg, mermaid or tree), every wire with its value
    and gradient; or a graph alone (a program without bindings), the structure only."""
    if fmt not in FORMATS:
        raise GradError("usage", f"--format {fmt}: choose one of {', '.join(FORMATS)}")
    if isinstance(subject, Result):
        from .jacobian import own_output

        subject = own_output(subject)  # one of several outputs: drawn from its own node
        graph, result = subject.graph, subject
    else:
        graph, result = subject, None
    scene = _scene(graph, result, precision)
    if fmt == "dot":
        return Drawing("dot", to_dot(scene))
    if fmt in RENDERED or fmt == "html":
        if len(graph.nodes) > MAX_RENDER_NODES:
            raise GradError(
                "usage",
                f"--format {fmt} renders at most {MAX_RENDER_NODES:,} nodes through Graphviz, and this graph"
                f" has {len(graph.nodes):,}: use --format dot (and render it with Graphviz's sfdp or neato),"
                " mermaid or tree",
            )
        if fmt == "html":  # the SVG inside a page that steps through the two passes
            from .webpage import page

            return Drawing("html", page(subject, render_graphviz(to_dot(scene), "svg", fmt), precision))
        return Drawing(fmt, render_graphviz(to_dot(scene), fmt))
    if fmt == "mermaid":
        return Drawing("mermaid", to_mermaid(scene))
    lines = list(_tree_lines(scene))
    if result is not None:
        lines.append([
            ("value", "green"), (": forward; ", None),
            ("grad", "red"), (f": ∂{scene.output_name}/∂node; ", None),
            ("this wire", "red"), (": what that use carries back (a node's wires add up to its grad)", None),
        ])
    return Drawing("tree", "".join("".join(t for t, _ in line) + "\n" for line in lines), lines)


def write(drawing: Drawing, out: str | None = None, file: IO[str] | None = None) -> None:
    """Write ``drawing`` to the file ``out``, or to standard output (a tree in colour
    when that is a terminal)."""
    if out is not None:
        from .files import cannot_write, write_whole

        data = drawing.text if isinstance(drawing.text, bytes) else drawing.text.encode("utf-8")
        try:
            write_whole(out, data)
        except OSError as exc:
            raise cannot_write("--out", out, exc) from None
        return
    stream = file if file is not None else sys.stdout
    if drawing.format in BINARY and hasattr(stream, "isatty") and stream.isatty():
        raise GradError(
            "usage", f"--format {drawing.format} is binary: give --out FILE, or redirect standard output"
        )
    if drawing.lines is not None and hasattr(stream, "isatty") and stream.isatty():
        _print_coloured(drawing.lines, stream)
        return
    if isinstance(drawing.text, bytes):
        binary = getattr(stream, "buffer", None)
        if binary is None:  # a text-only stream: Graphviz's SVG is UTF-8
            if drawing.format in BINARY:
                raise GradError("usage", f"--format {drawing.format} is binary: give --out FILE")
            stream.write(drawing.text.decode("utf-8", "replace"))
            return
        stream.flush()
        binary.write(drawing.text)
        return
    stream.write(drawing.text)


def _print_coloured(lines: list[list[tuple[str, str | None]]], stream: IO[str]) -> None:
    from rich.text import Text

    from .render import make_console

    console = make_console(stream)
    for line in lines:
        console.print(Text.assemble(*((t, s or "") for t, s in line)), soft_wrap=True)


# --- gates --------------------------------------------------------------------------


def _constant_text(node: Node) -> str:
    return node.name if node.name is not None else format_literal(node.value)


def _scene(graph: Graph, result: Result | None, precision: int | None) -> _Scene:
    """Gate labels, in one loop: a constant operand of a gate that also has a wire in
    is written into the gate (``+1``, ``1/x``); a gate of constants alone keeps its
    constants as nodes, so every gate has at least one wire in."""
    nodes = graph.nodes
    gates: list[str] = []
    wired: list[list[bool]] = []
    drawn = [node.kind != "const" for node in nodes]
    for node in nodes:
        if node.kind == "var":
            gates.append(node.name or "")
            wired.append([])
            continue
        if node.kind == "const":
            gates.append(_constant_text(node))
            wired.append([])
            continue
        op = node.op
        assert op is not None
        is_const = [nodes[i].kind == "const" for i in node.inputs]
        fold = any(is_const) and not all(is_const)
        wires = [not (fold and c) for c in is_const]
        for i, w in zip(node.inputs, wires, strict=True):
            if w and nodes[i].kind == "const":
                drawn[i] = True
        wired.append(wires)
        gates.append(_gate(node, op.name, op.symbol is not None, fold, is_const, nodes))
    drawn[-1] = True
    return _Scene(graph, result, precision, gates, drawn, wired)


def _gate(node: Node, name: str, operator: bool, fold: bool, is_const: list[bool], nodes: list[Node]) -> str:
    if not fold:
        return _GATES[name] if operator else name
    k = is_const.index(True)
    c = _constant_text(nodes[node.inputs[k]])
    if not operator:  # a function with a constant argument: max(x, 0), log(x, 2), clip(x, -1, 1)
        wire = "x" if is_const.count(False) == 1 else "·"  # max(·, ·, 0): two wires come in
        args = [_constant_text(nodes[i]) if c else wire for i, c in zip(node.inputs, is_const, strict=True)]
        return f"{name}({', '.join(args)})"
    if name in ("add", "mul"):
        return f"{_GATES[name]}{c}"
    if k == 1:
        return f"{_GATES[name]}{c}"  # x - 2, x / 2, x ^ 2 become -2, /2, ^2
    return f"{c}{_GATES[name]}x"  # 1 / x, 2 - x, 2 ^ x


# --- Graphviz -------------------------------------------------------------------------


def _dot_string(text: str) -> str:
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"').replace("\n", " ") + '"'


def _edge_html(value: str | None, grad: str | None) -> str:
    parts = []
    if value is not None:
        parts.append(f'<font color="{GREEN}">{html.escape(value)}</font>')
    if grad is not None:
        parts.append(f'<font color="{RED}">{html.escape(grad)}</font>')
    return "<br/>".join(parts)


def to_dot(scene: _Scene) -> str:
    """Graphviz source, left to right: inputs in the first column, a circle per gate,
    each wire labelled with its value (green) over its gradient (red)."""
    graph = scene.graph
    nodes = graph.nodes
    out = [
        "digraph gradcli {",
        "  rankdir=LR;",
        f"  label={_dot_string(short_title(graph.source, 80))}; labelloc=t; fontname=\"Helvetica\";",
        '  node [fontname="Helvetica"];',
        '  edge [fontname="Helvetica", fontsize=11, arrowsize=0.7];',
    ]
    for node in nodes:
        if not scene.drawn[node.id]:
            continue
        gate = html.escape(scene.gates[node.id])
        if node.kind == "var":
            out.append(f'  n{node.id} [label=<<b>{gate}</b>>, shape=plaintext];')
        elif node.kind == "const":
            out.append(f"  n{node.id} [label=<{gate}>, shape=plaintext];")
        else:
            if node.names:
                name = html.escape(node.names[0])
                label = f'{gate}<br/><font point-size="10"><i>{name}</i></font>'
            else:
                label = gate
            skipped = "" if scene.taken(node.id) else f', style=dashed, color="{GREY}", fontcolor="{GREY}"'
            out.append(f"  n{node.id} [label=<{label}>, shape=circle, margin=0.04{skipped}];")
    out.append(f"  out [label=<<b>{html.escape(scene.output_name)}</b>>, shape=plaintext];")
    for node in nodes:
        taken = scene.taken(node.id)
        for k, (i, wire) in enumerate(zip(node.inputs, scene.wired[node.id], strict=True)):
            if wire and not (taken and scene.taken(i)):  # a wire of a branch not taken: nothing
                out.append(f'  n{i} -> n{node.id} [style=dashed, color="{GREY}"];')
            elif wire:
                out.append(_dot_edge(f"n{i}", f"n{node.id}", scene.value(i), scene.carried(node.id, k)))
    last = graph.output
    out.append(_dot_edge(f"n{last}", "out", scene.value(last), scene.grad(last)))
    if scene.result is not None:
        out.append(
            f'  legend [shape=plaintext, fontsize=10, label=<<font color="{GREEN}">value</font>'
            f' / <font color="{RED}">gradient the wire carries back: ∂{html.escape(scene.output_name)}'
            "/∂consumer · ∂consumer/∂input (a node&#39;s wires add up to its gradient)</font>>];"
        )
    inputs = [f"n{n.id}" for n in nodes if n.kind == "var"]
    if inputs:
        # Inputs in the first column, top to bottom in order of first appearance
        # (an invisible chain fixes their order, as in the tutorials' circuits).
        chain = f" {' -> '.join(inputs)} [style=invis];" if len(inputs) > 1 else ""
        out.append(f"  {{ rank=min; {'; '.join(inputs)};{chain} }}")
    out.append("}")
    return "\n".join(out) + "\n"


def _dot_edge(tail: str, head: str, value: str | None, grad: str | None) -> str:
    label = _edge_html(value, grad)
    attrs = f" [label=<{label}>]" if label else ""
    return f"  {tail} -> {head}{attrs};"


def format_for(fmt: str | None, out: str | None) -> str:
    """The picture's format: ``--format``, else the extension of ``--out``, else dot.
    A --format that contradicts a known extension, or an --out whose extension says
    nothing, is refused rather than guessed (a .png file must not hold DOT text)."""
    implied = None
    if out is not None:
        implied = EXTENSIONS.get(os.path.splitext(out)[1].lower())
    if fmt is None:
        if out is None:
            return "dot"
        if implied is None:
            known = ", ".join(EXTENSIONS)
            raise GradError(
                "usage",
                f"cannot tell the picture's format from --out {printable(shorten(out, 80))}: name the file"
                f" with one of {known}, or give --format",
            )
        return implied
    if implied is not None and implied != fmt:
        raise GradError(
            "usage",
            f"--format {fmt} disagrees with --out {printable(shorten(out or '', 80))}, a {implied} file name:"
            " give one of them, or make them agree",
        )
    return fmt


def render_graphviz(dot_source: str, fmt: str = "svg", asked: str | None = None) -> bytes:
    """Render DOT as ``fmt`` (svg, png or pdf) with Graphviz's ``dot`` program, found on
    PATH (``asked``: the --format its messages name, when not ``fmt``). dot is stopped
    when it takes longer than RENDER_SECONDS, and whenever gradcli itself is
    interrupted or terminated: it never outlives the command."""
    exe = shutil.which("dot")
    if exe is None:
        raise GradError(
            "usage",
            f"--format {asked or fmt} needs Graphviz's dot program, which is not on PATH: install Graphviz"
            " (apt-get install graphviz, brew install graphviz, or https://graphviz.org/download/)"
            " or use --format dot and render it elsewhere",
        )
    # SIGTERM raises from before dot starts: a handler installed after Popen left a moment
    # when a terminated gradcli died at once and never stopped its dot.
    previous = _terminate_by_exception()
    proc = None
    try:
        try:
            proc = subprocess.Popen(
                [exe, f"-T{fmt}"], stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE
            )
        except OSError as exc:
            raise GradError("usage", f"cannot run Graphviz's dot ({exe}): {exc.strerror or exc}") from None
        out, err = proc.communicate(dot_source.encode("utf-8"), timeout=RENDER_SECONDS)
    except subprocess.TimeoutExpired:
        raise GradError(
            "usage",
            f"Graphviz's dot did not finish within {RENDER_SECONDS} s: use --format dot and render it"
            " with Graphviz yourself (sfdp and neato lay out large graphs faster)",
        ) from None
    finally:
        if proc is not None and proc.poll() is None:
            proc.kill()
            proc.wait()
        if previous is not None:
            signal.signal(signal.SIGTERM, previous)
    if proc.returncode != 0:
        why = err.decode("utf-8", "replace").strip().splitlines()
        raise GradError(
            "usage",
            f"Graphviz's dot failed (exit {proc.returncode}): {printable(why[0]) if why else 'no message'}",
        )
    return out


def to_svg(dot_source: str) -> bytes:
    """Render DOT to SVG with Graphviz's ``dot`` program."""
    return render_graphviz(dot_source, "svg")


def _terminate_by_exception() -> Any:
    """Make SIGTERM raise SystemExit(143) (as it ends the process by default), so the
    ``finally`` that stops dot runs; returns the handler to restore, or None."""

    def terminated(signum: int, frame: object) -> None:
        raise SystemExit(128 + signal.SIGTERM)

    try:
        return signal.signal(signal.SIGTERM, terminated)
    except ValueError:  # pragma: no cover - not the main thread: leave signals alone
        return None


# --- Mermaid ----------------------------------------------------------------------------


def _mermaid_text(*lines: str) -> str:
    """A quoted Mermaid label of one or more lines (a double quote is an entity there)."""
    return '"' + "<br/>".join(html.escape(t, quote=False).replace('"', "#quot;") for t in lines) + '"'


def to_mermaid(scene: _Scene) -> str:
    """A ``flowchart LR`` for Markdown viewers, with the same gates and wire labels
    (``value … / grad …``: Mermaid cannot colour the two parts of a label apart)."""
    graph = scene.graph
    nodes = graph.nodes
    out = ["flowchart LR"]
    skipped: list[str] = []  # nodes of a branch not taken
    for node in nodes:
        if not scene.drawn[node.id]:
            continue
        gate = scene.gates[node.id]
        if node.kind in ("var", "const"):
            out.append(f"  n{node.id}[{_mermaid_text(gate)}]")
        else:
            text = _mermaid_text(gate) if not node.names else _mermaid_text(gate, node.names[0])
            out.append(f"  n{node.id}(({text}))")
            if not scene.taken(node.id):
                skipped.append(f"n{node.id}")
    out.append(f"  out([{_mermaid_text(scene.output_name)}])")
    for node in nodes:
        taken = scene.taken(node.id)
        for k, (i, wire) in enumerate(zip(node.inputs, scene.wired[node.id], strict=True)):
            if wire and not (taken and scene.taken(i)):
                out.append(f"  n{i} -.-> n{node.id}")  # dotted: a branch not taken
            elif wire:
                out.append(_mermaid_edge(f"n{i}", f"n{node.id}", scene.value(i), scene.carried(node.id, k)))
    last = graph.output
    out.append(_mermaid_edge(f"n{last}", "out", scene.value(last), scene.grad(last)))
    if scene.result is not None:
        legend = _mermaid_text(
            "value: the forward value; grad: the gradient the wire carries back"
            " (a node's wires add up to its gradient)"
        )
        out.append(f"  legend[{legend}]")
    if skipped:
        out.append(f"  classDef skipped stroke:{GREY},color:{GREY},stroke-dasharray:4 4")
        out.append(f"  class {','.join(skipped)} skipped")
    return "\n".join(out) + "\n"


def _mermaid_edge(tail: str, head: str, value: str | None, grad: str | None) -> str:
    parts = []
    if value is not None:
        parts.append(f"value {value}")
    if grad is not None:
        parts.append(f"grad {grad}")
    if not parts:
        return f"  {tail} --> {head}"
    return f"  {tail} -->|{_mermaid_text(*parts)}| {head}"


# --- the terminal tree ---------------------------------------------------------------------


def _heights(graph: Graph) -> list[int]:
    """Levels below each node (0 for a leaf), in one loop: inputs come first."""
    height = [0] * len(graph.nodes)
    for node in graph.nodes:
        if node.inputs:
            height[node.id] = 1 + max(height[i] for i in node.inputs)
    return height


def _tree_lines(scene: _Scene) -> Iterator[list[tuple[str, str | None]]]:
    """The output at the root, each node's inputs below it, with an explicit stack.
    A node already shown is written as a reference to its first appearance, and the
    tree stops at :data:`TREE_MAX_DEPTH` levels with a line that says what it left out."""
    graph = scene.graph
    nodes = graph.nodes
    labels = graph.labels()
    height = _heights(graph)
    shown = [False] * len(nodes)
    # (node id, depth, prefix of its line, prefix of its children's lines, the consumer
    # and operand position it is drawn under: -1 at the root)
    stack: list[tuple[int, int, str, str, int, int]] = [(graph.output, 0, "", "", -1, 0)]
    while stack:
        node_id, depth, head, tail, consumer, position = stack.pop()
        node = nodes[node_id]
        line: list[tuple[str, str | None]] = [
            (head, "dim"), (labels[node_id], "bold"), (f"  {node.op_name}", None)
        ]
        # A constant is a number the program wrote, not a subtree: repeat it.
        if shown[node_id] and node.kind != "const":
            line.append(("  ↑ shared, shown above", "italic"))
            carried = scene.carried(consumer, position) if consumer >= 0 else None
            if carried is not None:
                line.append(("  this wire ", None))
                line.append((carried, "red"))
            yield line
            continue
        value, grad = scene.value(node_id), scene.grad(node_id)
        if not scene.taken(node_id):
            line[1] = (labels[node_id], "dim")
            line.append(("  not taken", "dim italic"))
        elif value is not None:
            line.append(("  value ", None))
            line.append((value, "green"))
            if grad is not None:  # constants have no gradient
                line.append(("  grad ", None))
                line.append((grad, "red"))
                carried = scene.carried(consumer, position) if consumer >= 0 else None
                if carried is not None and carried != grad:  # this use carries a part of it
                    line.append(("  this wire ", None))
                    line.append((carried, "red"))
        if node.inputs and depth + 1 > TREE_MAX_DEPTH:
            yield line
            levels = height[node_id]
            yield [
                (tail, "dim"),
                (
                    f"└── … {levels} more level{'s' if levels != 1 else ''} below, not shown"
                    f" (the tree stops at depth {TREE_MAX_DEPTH}; --format dot shows every node)",
                    "italic",
                ),
            ]
            continue
        shown[node_id] = True
        yield line
        count = len(node.inputs)
        # Pushed in reverse so the first input is printed first.
        for k in range(count - 1, -1, -1):
            last = k == count - 1
            branch, indent = ("└── ", "    ") if last else ("├── ", "│   ")
            stack.append((node.inputs[k], depth + 1, tail + branch, tail + indent, node_id, k))
