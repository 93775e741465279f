"""`gradcli graph`: DOT, SVG, Mermaid and the terminal tree, against golden files made
from the tutorials' examples, Graphviz itself, and programs 100,000 levels deep.

Set GRADCLI_UPDATE_GOLDEN=1 to rewrite the golden files after a deliberate change
(then read the diff)."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest
from conftest import REPO

import gradcli
from gradcli.pictures import TREE_MAX_DEPTH, draw

GOLDEN = Path(__file__).resolve().parent / "golden"
UPDATE = os.environ.get("GRADCLI_UPDATE_GOLDEN") == "1"

#: The seed tutorials' three examples: name -> program and bindings.
SEEDS: dict[str, list[str]] = {
    "seed": ["(x+y)*z", "-x", "2", "-y", "3", "-z", "-4"],
    "named": ["q = x + y; f = q * z", "-x", "2", "-y", "3", "-z", "-4"],
    "neuron": [
        "1/(1+exp(-(w0*x0+w1*x1+w2)))",
        "--w0", "2", "--x0", "-1", "--w1", "-3", "--x1", "-2", "--w2", "-3",
    ],
}
SUFFIX = {"dot": "dot", "mermaid": "mmd", "tree": "txt"}
needs_graphviz = pytest.mark.skipif(
    shutil.which("dot") is None, reason="Graphviz's dot is not installed (apt-get install graphviz)"
)


def check_golden(name: str, text: str) -> None:
    """Compare ``text`` with tests/golden/NAME (or rewrite it when updating)."""
    path = GOLDEN / name
    if UPDATE:
        GOLDEN.mkdir(exist_ok=True)
        path.write_text(text, encoding="utf-8")
    assert path.exists(), f"no golden file {name}: run with GRADCLI_UPDATE_GOLDEN=1"
    assert text == path.read_text(encoding="utf-8")


@pytest.mark.parametrize("fmt", ["dot", "mermaid", "tree"])
@pytest.mark.parametrize("seed", sorted(SEEDS))
def test_pictures_of_the_seed_examples_match_their_golden_files(run_cli, seed: str, fmt: str) -> None:
    code, out, err = run_cli("graph", *SEEDS[seed], "--format", fmt)
    assert (code, err) == (0, "")
    check_golden(f"{seed}.{SUFFIX[fmt]}", out)


def test_the_neuron_is_drawn_like_the_circuit_diagram(run_cli) -> None:
    code, out, _ = run_cli("graph", *SEEDS["neuron"])
    assert code == 0
    assert "rankdir=LR" in out
    for gate in ("*", "+", "*-1", "exp", "+1", "1/x"):
        assert f"label=<{gate}>" in out, gate
    # The output wire: value 0.73 in green over gradient 1 in red.
    assert '-> out [label=<<font color="#008000">0.731059</font><br/><font color="#d00000">1</font>>]' in out
    # Inputs first, in order of first appearance, in one column.
    assert "{ rank=min; n1; n2; n4; n5; n8; n1 -> n2 -> n4 -> n5 -> n8 [style=invis]; }" in out


def test_a_shared_node_is_drawn_once_with_a_wire_to_each_use(run_cli) -> None:
    code, out, _ = run_cli("graph", "(x+y)*(x+y)", "-x", "1", "-y", "2")
    assert code == 0
    assert out.count("label=<+>") == 1
    assert len(re.findall(r"^  n2 -> n3 ", out, flags=re.M)) == 2


def test_named_statements_are_shown_by_name(run_cli) -> None:
    code, out, _ = run_cli("graph", "q = x + y; f = q * z", "--format", "mermaid")
    assert code == 0
    assert 'n2(("+<br/>q"))' in out
    assert 'out(["f"])' in out


@pytest.mark.parametrize(
    ("source", "gate"),
    [
        ("1/x", "1/x"), ("x/2", "/2"), ("x+1", "+1"), ("1+x", "+1"), ("2*x", "*2"),
        ("x-1", "-1"), ("1-x", "1-x"), ("x^2", "^2"), ("2^x", "2^x"), ("e^x", "e^x"),
        ("(-x)", "*-1"), ("max(x, 0)", "max(x, 0)"), ("exp(x)", "exp"),
        ("clip(x, 0, 1)", "clip(x, 0, 1)"), ("max(0, x, 2)", "max(0, x, 2)"), ("x < 1", "&lt;1"),
        ("0 != x", "0!=x"), ("sum(x)", "sum"),
    ],
)
def test_a_constant_operand_is_written_into_its_gate(run_cli, source: str, gate: str) -> None:
    code, out, _ = run_cli("graph", source)
    assert code == 0
    assert f"label=<{gate}>" in out
    assert "shape=plaintext" in out and out.count("shape=plaintext") == 2  # x and the output


def test_a_gate_with_several_wires_and_a_constant_marks_each_wire(run_cli) -> None:
    code, out, _ = run_cli("graph", "max(x, y, 0) + logsumexp(x, y)")
    assert code == 0
    assert "label=<max(·, ·, 0)>" in out and "label=<logsumexp>" in out


def test_a_gate_of_constants_alone_keeps_its_constants(run_cli) -> None:
    code, out, _ = run_cli("graph", "sin(2) * x")
    assert code == 0
    assert "label=<sin>" in out and "label=<*>" in out
    assert "n0 [label=<2>, shape=plaintext]" in out


def test_without_bindings_the_picture_is_the_structure_alone(run_cli) -> None:
    for fmt in ("dot", "mermaid", "tree"):
        code, out, err = run_cli("graph", "(x+y)*z", "--format", fmt)
        assert (code, err) == (0, "")
        assert "font color" not in out and not re.search(r"\b(value|grad)\b", out)


def test_some_bindings_but_not_all_is_still_an_error(run_cli) -> None:
    code, out, err = run_cli("graph", "(x+y)*z", "-x", "2")
    assert (code, out) == (2, "")
    assert err.startswith("error: missing a value for y, z")


def test_a_program_without_inputs_is_drawn_with_its_numbers(run_cli) -> None:
    code, out, _ = run_cli("graph", "2*pi", "--format", "tree")
    assert code == 0
    assert out.splitlines()[0] == "2 * pi  mul  value 6.28319  grad 1"


def test_an_unknown_format_is_a_usage_error(run_cli) -> None:
    code, _, err = run_cli("graph", "x", "--format", "jpeg")
    assert code == 2
    assert "'jpeg' is not one of 'dot', 'svg', 'png', 'pdf', 'mermaid', 'tree', 'html'" in err


def test_out_writes_the_picture_to_a_file(run_cli, tmp_path: Path) -> None:
    target = tmp_path / "seed.dot"
    code, out, err = run_cli("graph", *SEEDS["seed"], "--out", str(target))
    assert (code, out, err) == (0, "", "")
    assert target.read_text(encoding="utf-8") == (GOLDEN / "seed.dot").read_text(encoding="utf-8")


def test_an_unwritable_out_file_is_a_usage_error(run_cli, tmp_path: Path) -> None:
    code, _, err = run_cli("graph", "x", "--out", str(tmp_path / "no" / "such" / "dir.dot"))
    assert code == 2
    assert err.startswith("error: cannot write --out")


# --- Graphviz ----------------------------------------------------------------------------


@needs_graphviz
@pytest.mark.parametrize("seed", sorted(SEEDS))
def test_dot_output_is_accepted_by_graphviz(run_cli, seed: str) -> None:
    for bindings in (SEEDS[seed][1:], []):  # with numbers, and the structure alone
        _, out, _ = run_cli("graph", SEEDS[seed][0], *bindings)
        proc = subprocess.run(
            ["dot", "-Tsvg"], input=out, capture_output=True, text=True, check=False, timeout=60
        )
        assert proc.returncode == 0, proc.stderr
        assert proc.stderr == "", proc.stderr  # not even a warning


@needs_graphviz
def test_svg_is_well_formed_xml_with_the_node_values(run_cli, tmp_path: Path) -> None:
    target = tmp_path / "neuron.svg"
    code, _, err = run_cli("graph", *SEEDS["neuron"], "--format", "svg", "--out", str(target))
    assert (code, err) == (0, "")
    root = ET.fromstring(target.read_bytes())
    assert root.tag.endswith("svg")
    texts = {t.text for t in root.iter() if t.tag.endswith("text")}
    assert {"0.731059", "-0.196612", "0.393224", "1/x", "exp", "w0", "f"} <= texts


@needs_graphviz
def test_svg_goes_to_standard_output_without_out(run_exe) -> None:
    code, out, err = run_exe("graph", *SEEDS["seed"], "--format", "svg")
    assert (code, err) == (0, "")
    assert ET.fromstring(out.encode("utf-8")).tag.endswith("svg")


def test_svg_without_graphviz_says_how_to_install_it(run_cli, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PATH", "")
    code, out, err = run_cli("graph", *SEEDS["seed"], "--format", "svg")
    assert (code, out) == (2, "")
    assert err.startswith("error: --format svg needs Graphviz's dot program, which is not on PATH")
    assert "apt-get install graphviz" in err and "--format dot" in err
    assert "Traceback" not in err


def test_the_readme_picture_is_the_neuron() -> None:
    svg = (REPO / "docs" / "neuron.svg").read_bytes()
    texts = {t.text for t in ET.fromstring(svg).iter() if t.tag.endswith("text")}
    assert {"0.731059", "-0.196612", "1/x"} <= texts


# --- the tree ------------------------------------------------------------------------------


def test_the_tree_marks_a_shared_node_as_a_reference(run_cli) -> None:
    code, out, _ = run_cli("graph", "(x+y)*(x+y)", "-x", "1", "-y", "2", "--format", "tree")
    assert code == 0
    assert out.splitlines()[:-1] == [  # each use of x + y carries 3 of its gradient 6
        "(x + y) * (x + y)  mul  value 9  grad 1",
        "├── x + y  add  value 3  grad 6  this wire 3",
        "│   ├── x  var  value 1  grad 6",
        "│   └── y  var  value 2  grad 6",
        "└── x + y  add  ↑ shared, shown above  this wire 3",
    ]


@pytest.mark.parametrize("fmt", ["dot", "mermaid", "tree"])
def test_each_wire_carries_its_edge_contribution_and_they_sum_to_the_gradient(run_cli, fmt: str) -> None:
    code, out, _ = run_cli("graph", "x*x + 2*x", "-x", "3", "--format", fmt)
    assert code == 0
    if fmt == "dot":
        carried = re.findall(r'n0 -> n\d+ \[label=<.*?<font color="#d00000">([^<]+)</font>>\]', out)
        assert "legend [" in out
    elif fmt == "mermaid":
        carried = re.findall(r'n0 -->\|"value 3<br/>grad ([^"]+)"\|', out)
        assert "  legend[" in out
    else:
        carried = re.findall(r"x  var  .*this wire (\S+)", out)
        assert out.splitlines()[-1].startswith("value: forward; grad: ∂f/∂node; this wire:")
    assert sorted(carried) == ["2", "3", "3"]  # 3 + 3 + 2 = 8, x's gradient


def test_the_tree_stops_at_its_documented_depth_with_a_marker(run_cli) -> None:
    depth = TREE_MAX_DEPTH + 30
    source = "sin(" * depth + "x" + ")" * depth
    code, out, _ = run_cli("graph", source, "--format", "tree")
    assert code == 0
    lines = out.splitlines()
    assert len(lines) == TREE_MAX_DEPTH + 2
    assert lines[-1].strip() == (
        f"└── … 30 more levels below, not shown (the tree stops at depth {TREE_MAX_DEPTH};"
        " --format dot shows every node)"
    )


@pytest.mark.slow
def test_a_100000_deep_program_is_drawn_in_every_text_format(run_cli) -> None:
    depth = 100_000
    source = "tanh(" * depth + "x" + ")" * depth
    code, out, _ = run_cli("graph", source, "-x", "0.5", "--format", "tree")
    assert code == 0
    *_, cut, legend = out.splitlines()
    assert f"… {depth - TREE_MAX_DEPTH} more levels below" in cut and legend.startswith("value: forward;")
    code, out, _ = run_cli("graph", source, "-x", "0.5", "--format", "dot")
    assert code == 0
    assert out.count(" -> ") == depth + 1
    code, out, _ = run_cli("graph", source, "--format", "mermaid")
    assert code == 0
    assert out.count(" --> ") == depth + 1


@needs_graphviz
def test_svg_to_a_text_only_stream_is_written_as_text() -> None:
    import io

    from gradcli.pictures import draw, write

    stream = io.StringIO()
    write(draw(gradcli.evaluate("x*y", x=2, y=3), fmt="svg"), file=stream)
    assert ET.fromstring(stream.getvalue().encode("utf-8")).tag.endswith("svg")


def test_each_of_several_outputs_is_drawn_from_its_own_output() -> None:
    # One graph serves all the outputs; its last node is b, lowered last. Each
    # output's picture starts from that output, with its own gradients, and leaves out
    # what only the others use.
    j = gradcli.jacobian("s = x + y; a = s*y; b = s^2", outputs=["a", "b"], x=2, y=3)
    for name, result in zip(j.outputs, j.results, strict=True):
        other = "b" if name == "a" else "a"
        tree = result.picture().tree()
        assert tree.splitlines()[0].startswith(f"{name}  "), tree
        assert f"∂{name}/∂node" in tree and f"∂{other}/∂node" not in tree
        assert f"x  var  value 2  grad {result.gradient['x']:g}" in tree, tree
        assert other not in {line.split()[-1] for line in tree.splitlines()[:-1] if line.strip()}
        dot = result.picture().dot()
        assert f"out [label=<<b>{name}</b>>" in dot and f"<i>{other}</i>" not in dot, dot
        assert f"∂{name}/∂consumer" in dot
        mermaid = draw(result, fmt="mermaid").text
        assert f'out(["{name}"])' in mermaid and f"<br/>{other}" not in mermaid
        assert result.trace().picture().tree() == tree
        explanation = result.trace().explanation()
        assert f"the chain rule from {name} back" in explanation and f"{other} =" not in explanation
        assert f"∂{name}/∂x = " in explanation.splitlines()[-1]
        assert explanation.splitlines()[-1].endswith(f" = {result.gradient['x']:g}   using ∂(u + v)/∂u = 1")
        page = draw(result, fmt="html").text
        assert f'"output":"{name}"' in page and f'"chain rule from {other}' not in page
    a = j.results[0]
    assert a.graph.output != a.graph.names["a"]  # the shared graph itself is left as it is
    assert gradcli.jacobian("a = x; b = 2*x", outputs="a,b", x=5).results[0].picture().tree().startswith(
        "x  var  value 5  grad 1"
    )
