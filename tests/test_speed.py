"""What the speed work relies on: lowering's own stack keeps the node order, the GC
pause in compile() is undone, start-up imports stay lean, and the benchmark's
programs are deterministic and evaluate."""

from __future__ import annotations

import gc
import subprocess
import sys
from pathlib import Path

import pytest

import gradcli

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


def test_a_compiled_graph_is_not_left_for_the_next_young_collection() -> None:
    # Left in the youngest generation, 10^5 nodes cost a collection that visits
    # every one (and misses the CPU's caches on each): compile() promotes what it
    # made (a graph's columns are a few objects; the node objects are made later).
    graph = gradcli.compile(" + ".join(f"sin(x{i})" for i in range(3000)))
    assert gc.get_count()[0] < 100
    assert graph.size == len(graph.nodes) == 8999


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
