"""What the speed work relies on: lowering's own stack keeps the node order, the GC
pause in compile() is undone, start-up imports stay lean, and the benchmark's
programs are deterministic and evaluate."""

from __future__ import annotations

import gc
import subprocess
import sys
from pathlib import Path

import pytest
from hypothesis import given
from strategies import programs

import gradcli
from gradcli import parse as parsing

REPO = Path(__file__).resolve().parent.parent


def test_lowering_numbers_nodes_left_operand_first_children_before_parents() -> None:
    graph = gradcli.compile("(a + b) * sin(c - a) + pow(b, 2) / -c")
    labels = graph.labels()
    assert labels == [
        "a", "b", "a + b", "c", "c - a", "sin(c - a)", "(a + b) * sin(c - a)",
        "2", "b^2", "-c", "b^2 / -c", "(a + b) * sin(c - a) + b^2 / -c",
    ]


def test_a_power_and_pow_of_the_same_operands_are_one_node() -> None:
    graph = gradcli.compile("x^2 + pow(x, 2)")
    assert [n.op_name for n in graph.nodes] == ["var", "const", "pow", "add"]


@pytest.mark.parametrize("enabled", [True, False])
def test_compile_leaves_the_garbage_collector_as_it_found_it(enabled: bool) -> None:
    was = gc.isenabled()
    try:
        gc.enable() if enabled else gc.disable()
        gradcli.compile("(x + y) * z")
        assert gc.isenabled() is enabled
        with pytest.raises(gradcli.GradError):
            gradcli.compile("(x + ")
        assert gc.isenabled() is enabled
    finally:
        gc.enable() if was else gc.disable()


def test_eval_json_does_not_import_pathlib() -> None:
    probe = (
        "import io, contextlib, sys\n"
        "from gradcli.cli import main\n"
        "with contextlib.redirect_stdout(io.StringIO()):\n"
        "    assert main(['eval', '(x+y)*z', '-x', '2', '-y', '3', '-z', '-4', '--json']) == 0\n"
        "print('pathlib' in sys.modules)\n"
    )
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "False"


def test_the_benchmark_programs_are_deterministic_and_evaluate() -> None:
    sys.path.insert(0, str(REPO))
    try:
        from bench import programs
    finally:
        sys.path.remove(str(REPO))
    first, again = programs.wide(1000), programs.wide(1000)
    assert first.source == again.source and 900 <= first.ops <= 1100
    for program in (first, programs.deep_tanh(50), programs.deep_affine(50), programs.shared(50),
                    programs.neuron()):
        result = gradcli.evaluate(program.source, program.bindings)
        assert set(result.gradient) == set(program.bindings)


# --- the lark-cython fast path gives the same AST as the reference parser ---------------

needs_cython = pytest.mark.skipif(
    parsing._get_fast_parser() is None, reason="lark-cython is not installed (or GRADCLI_LARK_CYTHON=0)"
)
PAD = "\n# " + "padding to take the fast path " * 70 + "\n"  # a comment: no tokens


def _dump(statements: list[object]) -> list[tuple[object, ...]]:
    """Every AST node's fields, in a fixed order, without recursion."""
    out: list[tuple[object, ...]] = []
    stack = list(reversed(statements))
    while stack:
        node = stack.pop()
        fields = tuple(
            getattr(node, f) for f in ("op", "id", "name", "value", "text", "span", "name_span")
            if hasattr(node, f)
        )
        out.append((type(node).__name__, *fields))
        kids = [node.expr] if hasattr(node, "expr") else list(getattr(node, "children", lambda: ())())
        stack.extend(reversed(kids))
    return out


def _both(source: str) -> tuple[list[tuple[object, ...]], list[tuple[object, ...]]]:
    assert len(source) >= parsing.FAST_PATH_MIN_CHARS
    fast = parsing._get_fast_parser().parse(source)  # type: ignore[union-attr]
    reference = parsing._get_parser().parse(source)
    return _dump(fast), _dump(reference)


@needs_cython
@pytest.mark.parametrize(
    "source",
    [
        "2x + (x+1)(x-1) + 2 sin(x) - 3(x)",
        "q = (x +\n  y); f = (q\n * 2\n)\n\n g = f^-2 ** 3 - -+x",
        "log(x, 2) + atan2(y, x) + max(x, y)(2) + 1e-3x + .5(y) + 2.e2",
        "θ = 2θ0 + x_1; θ * pi + tau - e",
        "(" * 300 + "x" + ")" * 300,
    ],
)
def test_the_fast_parser_builds_the_same_ast(source: str) -> None:
    fast, reference = _both(source + PAD)
    assert fast == reference


@needs_cython
@given(programs())
def test_the_fast_parser_builds_the_same_ast_for_generated_programs(source: str) -> None:
    fast, reference = _both(source + PAD + source)
    assert fast == reference


@needs_cython
@pytest.mark.parametrize("bad", ["x y", "(x + 1", "x + * 2", "1e999 * x", "x = 1; x = 2", "sin x"])
def test_errors_in_long_programs_are_the_reference_parsers_errors(bad: str, monkeypatch) -> None:
    source = PAD + bad
    with pytest.raises(gradcli.GradError) as fast_path:
        gradcli.compile(source)
    monkeypatch.setattr(parsing, "_fast_parser", None)  # as with lark-cython absent
    with pytest.raises(gradcli.GradError) as reference:
        gradcli.compile(source)
    assert (fast_path.value.kind, fast_path.value.message, fast_path.value.span) == (
        reference.value.kind, reference.value.message, reference.value.span)


def test_without_lark_cython_parsing_takes_the_pure_python_path(monkeypatch) -> None:
    monkeypatch.setattr(parsing, "_fast_parser", None)
    monkeypatch.setattr(parsing, "_fast_tried", True)
    result = gradcli.evaluate("(x + y) * z" + PAD, x=2, y=3, z=-4)
    assert result.gradient == {"x": -4.0, "y": -4.0, "z": 5.0}
