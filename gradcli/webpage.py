"""``graph --format html``: the circuit as one web page to step through.

The page is a single file that needs nothing else: Graphviz's SVG of the circuit
(the picture ``--format svg`` draws: values in green, gradients in red), the numbers
and sentences of every step as JSON, and the script and style beside them
(``webpage.js`` and ``webpage.css``, package data). Its Content-Security-Policy
allows no request of any kind, and only that script and that style, by their
SHA-256 hashes: nothing inside the SVG or the data can run.

Every sentence on the page is written here, with the words of ``--explain``: the
forward line of each node (``q = x + y = 5``) and its chain-rule line
(``∂f/∂x = ∂f/∂q · ∂q/∂x = (-4)·(1) = -4``), so the page explains the same numbers
the table reports. The script only shows them: the forward pass node by node, then
the backward pass from the output back to the inputs, and a node's value, local
gradients and consumers when it is clicked.
"""

from __future__ import annotations

import base64
import hashlib
import html
import json
import re
from importlib import resources
from typing import Any

from . import __version__
from .edges import contribution
from .evaluate import Result
from .explain import definitions, explain, local_rule, node_names, step_text
from .graph import Graph
from .render import DEFAULT_PRECISION, format_number, short_title

#: The longest title the page's heading shows (the whole program is in the page's data).
TITLE_LIMIT = 200


def _asset(name: str) -> str:
    return resources.files(__package__).joinpath(name).read_text(encoding="utf-8")


def _digest(text: str) -> str:
    """A Content-Security-Policy source that allows exactly ``text``."""
    return "'sha256-" + base64.b64encode(hashlib.sha256(text.encode("utf-8")).digest()).decode("ascii") + "'"


def _json_in_html(data: Any) -> str:
    """JSON safe inside a ``<script type="application/json">``: no ``</script>`` or
    ``<!--`` can appear, whatever the program's names and comments."""
    text = json.dumps(data, ensure_ascii=False, separators=(",", ":"), allow_nan=False)
    return text.replace("&", "\\u0026").replace("<", "\\u003c").replace(">", "\\u003e")


def _svg_element(svg: bytes) -> str:
    """Graphviz's SVG document as an element to put inside HTML: the XML prolog and
    doctype go, and so do its comments and the font family on every text (the page's
    style sets it once), a sixth of a large picture that the browser would parse."""
    text = svg.decode("utf-8", "replace")
    start = text.find("<svg")
    if start < 0:  # pragma: no cover - Graphviz always writes one
        raise ValueError("Graphviz's output has no <svg> element")
    # Graphviz escapes every < in a label, so a comment is only ever its own.
    text = _COMMENT.sub("", text[start:])
    return text.replace(' font-family="Helvetica,sans-Serif"', "").strip()


_COMMENT = re.compile(r"<!--.*?-->\n?", re.S)


def page_data(subject: Result | Graph, precision: int | None = DEFAULT_PRECISION) -> dict[str, Any]:
    """What the page shows, node by node: ``nodes[i]`` is ``[name, definition, value,
    gradient, kind]`` (numbers as shown, null where there is none), ``inputs[i]`` its
    operands ``[id, local gradient, rule]``, ``uses[i]`` its consumers ``[id, what
    that wire carries back]``; ``forward`` and ``backward`` are the steps, each
    ``[node id, sentence]``, in the order the page plays them."""
    if isinstance(subject, Result):
        from .jacobian import own_output

        subject = own_output(subject)  # one of several outputs: stepped from its own
        graph, result = subject.graph, subject
    else:
        graph, result = subject, None
    nodes = graph.nodes
    if result is not None:
        ex = explain(result)
        names, defined = ex.names, ex.forward
    else:
        names = node_names(graph)
        defined = definitions(graph, names)
    definition = {i: text for i, text in defined}

    def number(value: float | None) -> str | None:
        return None if value is None or value != value else format_number(value, precision)

    rows: list[list[Any]] = []
    inputs: list[list[list[Any]]] = []
    uses: list[list[list[Any]]] = [[] for _ in nodes]
    local = [n.local_grads for n in result.nodes] if result is not None else None
    for node in nodes:
        i = node.id
        kind = node.kind if node.kind != "op" else node.op_name
        value = number(result.values[i]) if result is not None else None
        grad = number(result.grads[i]) if result is not None else None
        rows.append([names[i], definition.get(i, names[i]), value, grad, kind])
        operands = []
        for k, j in enumerate(node.inputs):
            op = node.op
            assert op is not None
            rule = local_rule(op, k, len(node.inputs))
            here = number(local[i][k]) if local is not None else None
            operands.append([j, here, rule])
            carried = number(contribution(result.grads[i], local[i][k])) if local is not None else None
            uses[j].append([i, carried])
        inputs.append(operands)

    forward: list[list[Any]] = []
    backward: list[list[Any]] = []
    if result is not None:
        values = result.values
        for i, text in ex.forward:
            if values[i] == values[i]:
                forward.append([i, f"{text} = {format_number(values[i], precision)}"])
            else:  # NaN marks a node in a branch of if not taken
                forward.append([i, f"{text}: not evaluated (a branch of if not taken)"])
        backward = [[step.node, step_text(ex, step, precision)] for step in ex.steps]
    return {
        "source": graph.source,
        "output": names[graph.output],
        "outputNode": graph.output,
        "numbers": result is not None,
        "nodes": rows,
        "inputs": inputs,
        "uses": uses,
        "forward": forward,
        "backward": backward,
    }


def page(subject: Result | Graph, svg: bytes, precision: int | None = DEFAULT_PRECISION) -> str:
    """The whole page: ``svg`` (Graphviz's rendering of the circuit) with the data of
    :func:`page_data`, the script and the style, inline."""
    data = page_data(subject, precision)
    script = _asset("webpage.js")
    style = _asset("webpage.css")
    policy = (
        f"default-src 'none'; script-src {_digest(script)}; style-src {_digest(style)}; "
        "img-src data:; base-uri 'none'; form-action 'none'"
    )
    title = html.escape(short_title(data["source"], TITLE_LIMIT))
    if data["numbers"]:
        hint = (
            f"<span class=\"value\">Values</span> flow forward, <span class=\"grad\">gradients</span>"
            f" come back: each wire carries its input's value and what that use adds to the input's"
            f" gradient ∂{html.escape(data['output'])}/∂input. Step with → and ← (Home, End), or the buttons;"
            " click a node, or Tab to it and press Enter, to see its numbers."
        )
    else:
        hint = (
            "The structure alone: give every input a value (for example <code>-x 2</code>) to see the"
            " numbers and step through the forward and backward passes. Click a node to see its"
            " operands and consumers."
        )
    return _TEMPLATE.format(
        policy=html.escape(policy, quote=False),  # no double quote in it
        version=html.escape(__version__),
        title=title,
        hint=hint,
        style=style,
        svg=_svg_element(svg),
        data=_json_in_html(data),
        script=script,
    )


_TEMPLATE = """<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta http-equiv="Content-Security-Policy" content="{policy}">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="referrer" content="no-referrer">
<meta name="generator" content="gradcli {version}">
<title>{title} · gradcli</title>
<link rel="icon" href="data:,">
<style>{style}</style>
</head>
<body>
<header>
<h1><code>{title}</code></h1>
<p class="hint">{hint}</p>
</header>
<nav class="controls" aria-label="Step through the passes">
<button type="button" id="first" aria-keyshortcuts="Home" title="Start (Home)">« Start</button>
<button type="button" id="prev" aria-keyshortcuts="ArrowLeft" title="Back (←)">◀ Back</button>
<button type="button" id="next" aria-keyshortcuts="ArrowRight" title="Next (→)">Next ▶</button>
<button type="button" id="last" aria-keyshortcuts="End" title="End (End)">End »</button>
<button type="button" id="zoom" aria-pressed="false" title="Fit the picture to the window">Fit</button>
<span id="where" class="where"></span>
</nav>
<p id="line" class="line" role="status" aria-live="polite"></p>
<main class="layout">
<figure id="picture" class="picture stepping" tabindex="0" aria-label="The circuit">
{svg}
</figure>
<aside id="details" class="details" aria-live="polite">
<h2>Node</h2>
<p>Click a node to see its value, its local gradients and its consumers.</p>
</aside>
</main>
<script type="application/json" id="gradcli-data">{data}</script>
<script>{script}</script>
</body>
</html>
"""
