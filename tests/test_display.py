"""Rich display in Jupyter: results, traces, descents as HTML tables, graphs as SVG.

The mime bundles are asked of IPython's own display formatter, the code a Jupyter
kernel runs for every cell's value; the notebook as a whole is executed by a real
kernel in tests/test_notebook.py.
"""

from __future__ import annotations

import html
import os
import re
import shutil
import stat
from pathlib import Path

import pytest
from hypothesis import given
from strategies import points, programs
from test_imports import _modules_after

import gradcli
from gradcli.display import MAX_ROWS, MAX_TREE_LINES, Picture, tree_html

needs_graphviz = pytest.mark.skipif(
    shutil.which("dot") is None, reason="Graphviz's dot is not installed (apt-get install graphviz)"
)

SEED = "q = x + y; f = q * z"


def bundle(obj: object) -> dict[str, object]:
    """What a Jupyter kernel sends for ``obj`` as a cell's value: mime type -> data."""
    from IPython.core.formatters import DisplayFormatter

    data, _ = DisplayFormatter().format(obj)
    return data


def cells(table: str) -> list[list[str]]:
    """The text of every row's cells (tags removed, entities decoded)."""
    rows = re.findall(r"<tr>(.*?)</tr>", table, flags=re.S)
    return [
        [html.unescape(re.sub(r"<[^>]+>", "", c)) for c in re.findall(r"<t[dh][^>]*>(.*?)</t[dh]>", r, re.S)]
        for r in rows
    ]


@pytest.fixture
def no_graphviz(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """A PATH without Graphviz's dot, as on a machine where it is not installed."""
    monkeypatch.setenv("PATH", str(tmp_path / "empty"))


def fake_dot(monkeypatch: pytest.MonkeyPatch, tmp_path: Path, script: str) -> None:
    """A program named dot first on PATH (a broken Graphviz)."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    dot = bin_dir / "dot"
    dot.write_text(f"#!/bin/sh\n{script}\n", encoding="utf-8")
    dot.chmod(dot.stat().st_mode | stat.S_IXUSR)
    monkeypatch.setenv("PATH", f"{bin_dir}{os.pathsep}{os.environ.get('PATH', '')}")


# --- results ---------------------------------------------------------------------------------


def test_a_result_shows_its_value_and_gradient_as_a_table() -> None:
    r = gradcli.evaluate(SEED, x=2, y=3, z=-4)
    data = bundle(r)
    assert data["text/plain"] == repr(r)
    assert cells(str(data["text/html"])) == [
        ["name", "value", "∂f/∂name"],
        ["f (output)", "-20", ""],
        ["x", "2", "-4"],
        ["y", "3", "-4"],
        ["z", "-4", "5"],
    ]


def test_a_table_cell_carries_the_full_float_in_its_tooltip() -> None:
    r = gradcli.evaluate("sigmoid(w0*x0 + w1*x1 + w2)", w0=2, x0=-1, w1=-3, x1=-2, w2=-3)
    table = r._repr_html_()
    assert f'title="{r.gradient["w0"]!r}"' in table
    assert "<td" in table and ">-0.196612<" in table


def test_a_result_marks_an_unused_input() -> None:
    r = gradcli.evaluate("a = 2*x; b = y; a", x=1, y=5)
    rows = cells(r._repr_html_())
    assert ["y (unused)", "5", "0"] in rows


def test_several_outputs_show_a_row_of_the_jacobian_each() -> None:
    j = gradcli.jacobian("u = x*y; v = x + sin(y)", outputs=["u", "v"], x=2, y=0)
    assert cells(bundle(j)["text/html"]) == [
        ["output", "value", "∂/∂x", "∂/∂y"],
        ["u", "0", "0", "2"],
        ["v", "2", "1", "1"],
    ]
    # each output's own result and trace are titled with its name
    assert cells(j.results[1]._repr_html_())[0] == ["name", "value", "∂v/∂name"]
    assert cells(j.results[1].trace()._repr_html_())[0][-1] == "∂v/∂node"


# --- traces ----------------------------------------------------------------------------------


def test_a_trace_shows_value_local_gradients_and_gradient_per_node() -> None:
    t = gradcli.trace(SEED, x=2, y=3, z=-4)
    data = bundle(t)
    assert data["text/plain"] == "<Trace of 5 nodes: value=-20.0, gradient={'x': -4.0, 'y': -4.0, 'z': 5.0}>"
    assert cells(str(data["text/html"])) == [
        ["id", "label", "op", "inputs", "value", "∂node/∂input", "∂f/∂node"],
        ["0", "x", "var", "", "2", "", "-4"],
        ["1", "y", "var", "", "3", "", "-4"],
        ["2", "q", "add", "0, 1", "5", "1, 1", "-4"],
        ["3", "z", "var", "", "-4", "", "5"],
        ["4", "f", "mul", "2, 3", "-20", "-4, 5", "1"],
    ]


def test_a_trace_is_the_result_node_by_node() -> None:
    r = gradcli.evaluate(SEED, x=2, y=3, z=-4)
    t = r.trace()
    assert t.result is r and t.nodes is r.nodes and len(t) == 5
    assert t.to_json() == r.to_json(nodes=True)
    assert [e.contribution for e in t.edges] == [-4.0, -4.0, -4.0, 5.0]
    assert gradcli.trace(gradcli.compile(SEED), {"x": 2, "y": 3, "z": -4}).to_json() == t.to_json()
    assert "∂f/∂x = ∂f/∂q · ∂q/∂x = (-4)·(1) = -4" in t.explanation()


def test_a_trace_marks_a_branch_not_taken_and_an_unused_input() -> None:
    t = gradcli.trace("a = if(x > 0, log(x), 0); b = y; a", x=-1, y=5)
    rows = cells(t._repr_html_())
    assert ["", "y (unused)", "var", "", "5", "", "0"] in rows
    log_row = next(row for row in rows if row[2] == "log")
    assert log_row[4] == "not taken"


def test_a_trace_rejects_output_with_a_compiled_graph() -> None:
    with pytest.raises(gradcli.GradError, match="output="):
        gradcli.trace(gradcli.compile(SEED), x=2, y=3, z=-4, output="q")


def test_a_large_trace_shows_its_first_and_last_rows_and_says_how_many_it_left_out() -> None:
    source = " + ".join(f"x{i}*x{i}" for i in range(300))  # 300 inputs, 900 nodes
    r = gradcli.evaluate(source, {f"x{i}": i for i in range(300)})
    rows = cells(r.trace()._repr_html_())
    assert len(rows) == 1 + MAX_ROWS + 1  # the header, the rows shown, the note
    assert rows[1][0] == "0" and rows[-1][0] == str(len(r.nodes) - 1)
    assert any(f"{len(r.nodes) - MAX_ROWS:,} rows not shown" in row[0] for row in rows)
    rows = cells(r._repr_html_())
    assert len(rows) == 1 + 1 + MAX_ROWS + 1  # the header, the output, the names shown, the note
    assert rows[-1][0] == "x299"


@given(programs(), points())
def test_every_program_displays_its_table_trace_and_tree(source: str, point: dict[str, float]) -> None:
    """A display that fails returns None (the plain repr stays): none may fail here."""
    g = gradcli.compile(source)
    r = gradcli.run(g, {name: point[name] for name in g.inputs})
    table, trace = r._repr_html_(), r.trace()._repr_html_()
    assert table is not None and trace is not None
    rows = cells(trace)
    assert len(rows) == 1 + len(r.nodes)
    assert [row[0] for row in rows[1:]] == [str(n.id) for n in r.nodes]
    assert rows[-1][-1] == "1"  # ∂f/∂f
    assert '<pre class="gradcli-tree"' in tree_html(r, "no Graphviz here")  # the picture without Graphviz


# --- escaping ----------------------------------------------------------------------------------


HOSTILE = 'x < y + z # <script>alert("&")</script> \' " &amp;'


@pytest.mark.parametrize(
    ("render", "escaped"),
    [
        (
            lambda: gradcli.evaluate(HOSTILE, x=1, y=2, z=3)._repr_html_(),
            "&lt;script&gt;alert(&quot;&amp;&quot;)",
        ),
        (lambda: gradcli.trace(HOSTILE, x=1, y=2, z=3)._repr_html_(), "&#x27; &quot; &amp;amp;"),
        (
            lambda: gradcli.descend("(x - 1)^2 # <img src=x onerror=alert(1)>", x=0, lr=0.1)._repr_html_(),
            "&lt;img src=x onerror=alert(1)&gt;",
        ),
    ],
    ids=["result", "trace", "descent"],
)
def test_every_user_string_is_escaped_in_html(render, escaped: str) -> None:
    text = render()
    assert escaped in text
    # every tag left is one of the table's own
    assert set(re.findall(r"<(\w+)", text)) <= {
        "table", "caption", "thead", "tbody", "tr", "th", "td", "code", "p", "b"
    }


def test_a_label_with_a_comparison_is_escaped_in_the_trace() -> None:
    rows = gradcli.trace("(x < y) + x", x=1, y=2)._repr_html_()
    assert "<code>x &lt; y</code>" in rows


def test_the_tree_fallback_escapes_labels(no_graphviz: None) -> None:
    text = gradcli.evaluate("(x < y) + x", x=1, y=2).picture()._repr_html_()
    assert text is not None
    assert "x &lt; y" in text and "x < y" not in text


# --- pictures ----------------------------------------------------------------------------------


@needs_graphviz
def test_a_graph_shows_itself_as_svg() -> None:
    g = gradcli.compile(SEED)
    data = bundle(g)
    assert set(data) == {"text/plain", "image/svg+xml"}  # no HTML: Jupyter would prefer it to the SVG
    svg = str(data["image/svg+xml"])
    assert svg.startswith("<svg") and svg.rstrip().endswith("</svg>")
    assert ">q<" in svg or ">q</" in svg


@needs_graphviz
def test_a_result_picture_is_the_circuit_with_values_and_gradients() -> None:
    p = gradcli.evaluate(SEED, x=2, y=3, z=-4).picture()
    data = bundle(p)
    assert set(data) == {"text/plain", "image/svg+xml"}
    svg = str(data["image/svg+xml"])
    assert "-20" in svg and ">5<" in svg and "#008000" in svg and "#d00000" in svg
    assert p.svg().startswith("<?xml")  # the file graph --format svg writes
    assert "digraph" in p.dot()


def test_a_display_runs_graphviz_once(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    runs = tmp_path / "runs"
    fake_dot(monkeypatch, tmp_path, f"echo run >> {runs}; cat >/dev/null; echo '<svg></svg>'")
    r = gradcli.evaluate(SEED, x=2, y=3, z=-4)
    for subject in (r.picture(), r.graph):
        runs.write_text("", encoding="utf-8")
        assert bundle(subject)["image/svg+xml"] == "<svg></svg>\n"
        assert runs.read_text(encoding="utf-8") == "run\n"


def test_without_graphviz_a_picture_shows_the_tree_and_says_why(no_graphviz: None) -> None:
    r = gradcli.evaluate(SEED, x=2, y=3, z=-4)
    for subject in (r.picture(), r.trace().picture(), r.graph):
        data = bundle(subject)
        assert "image/svg+xml" not in data
        text = str(data["text/html"])
        assert "needs Graphviz&#x27;s dot program" in text and "apt-get install graphviz" in text
        assert '<pre class="gradcli-tree"' in text and "├──" in text
    text = str(bundle(r.picture())["text/html"])
    assert '<span style="color: #008000">-20</span>' in text  # values green
    assert '<span style="color: #d00000">5</span>' in text  # gradients red
    with pytest.raises(gradcli.GradError, match="Graphviz"):
        r.picture().svg()


def test_a_broken_graphviz_never_raises_in_a_display(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    fake_dot(monkeypatch, tmp_path, "echo 'Error: out of cheese' >&2; exit 3")
    data = bundle(gradcli.evaluate(SEED, x=2, y=3, z=-4).picture())
    assert "image/svg+xml" not in data
    assert "Graphviz&#x27;s dot failed (exit 3): Error: out of cheese" in str(data["text/html"])


def test_a_graph_too_large_for_graphviz_says_so_without_drawing() -> None:
    source = " + ".join(f"sin({i}*x)" for i in range(400))  # over 1,000 nodes
    g = gradcli.compile(source)
    data = bundle(g)
    assert "image/svg+xml" not in data
    text = str(data["text/html"])
    assert f"this graph has {len(g.nodes):,}" in text and "too large to draw here" in text


def test_a_wide_tree_stops_after_a_bounded_number_of_lines(no_graphviz: None) -> None:
    source = f"sum({', '.join(f'x{i}' for i in range(400))})"  # 401 nodes, a line each
    text = Picture(gradcli.compile(source))._repr_html_()
    assert text is not None
    assert text.count("\n") <= MAX_TREE_LINES + 1
    assert "more lines (picture.tree() has them all)" in text


# --- descents ----------------------------------------------------------------------------------


def test_a_descent_shows_how_it_ended_and_its_path() -> None:
    d = gradcli.descend("(x-3)^2", x=0, lr=0.1)
    text = d._repr_html_()
    assert "<b>converged after 70 steps</b>" in text
    rows = cells(text)
    assert rows[0] == ["step", "f", "‖gradient‖", "x"]
    assert rows[1] == ["0", "9", "6", "0"]
    assert rows[-1][0] == "70"


def test_a_descent_stopped_by_a_math_error_says_where() -> None:
    d = gradcli.descend("log(x)", x=1, lr=10)
    assert d.error is not None
    assert f"<b>stopped: step {d.error_step}: log(-9) is outside the domain" in d._repr_html_()


# --- fits ----------------------------------------------------------------------------------------


def test_a_fit_shows_its_parameters_loss_and_history() -> None:
    r = gradcli.fit(
        "(a*x + b - y)^2", {"x": [0, 1, 2, 3], "y": [1, 3, 5, 7]}, params=["a", "b"], a=0, b=0,
        lr=0.1, epochs=2000,
    )
    text = bundle(r)["text/html"]
    assert f"<b>converged after {r.epochs} epochs ({r.steps} steps)</b>: a = 2, b = 0.999999" in text
    assert "over 4 rows" in text
    rows = cells(text)
    assert rows[0] == ["epoch", "mean loss", "‖gradient‖", "a", "b"]
    assert rows[1] == ["0", "21", "18.7883", "0", "0"]
    assert rows[-1][0] == str(r.epochs)


def test_a_fit_stopped_by_a_math_error_says_where() -> None:
    r = gradcli.fit("log(w) * x", {"x": [1.0]}, params=["w"], w=1, lr=2, epochs=3)  # w: 1, then -1
    assert r.error is not None
    text = r._repr_html_()
    assert "<b>stopped: step 2: log(-1) is outside the domain of log(x) (x &gt; 0)" in text
    assert "(at row 1 of the data)</b>" in text
    assert "over 1 row " in text


# --- start-up ------------------------------------------------------------------------------------


def test_displaying_a_result_and_a_trace_imports_nothing_heavy() -> None:
    code = (
        "import gradcli\n"
        "r = gradcli.evaluate('(x+y)*z', x=2, y=3, z=-4)\n"
        "assert r._repr_html_() and r.trace()._repr_html_()\n"
        "import sys; assert 'IPython' not in sys.modules\n"
    )
    assert _modules_after(code) == {"lark"}


@pytest.mark.parametrize("precision", [0, 18, -1, 2.5, "6", True])
def test_a_precision_that_is_not_1_to_17_digits_is_a_usage_error(precision: object) -> None:
    r = gradcli.evaluate(SEED, x=2, y=3, z=-4)
    for make in (r.trace, r.picture, r.trace().explanation, r.trace().picture):
        with pytest.raises(gradcli.GradError, match="precision=") as caught:
            make(precision)  # type: ignore[operator]
        assert caught.value.kind == "usage"
