"""What the speed work relies on: lowering's own stack keeps the node order, the GC
pause in compile() is undone, start-up imports stay lean, string -> JSON does the
same work per operation at ten times the size, and the benchmark's programs are
deterministic and evaluate and its growth checks judge CPU time."""

from __future__ import annotations

import gc
import importlib
import json
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


def _bench_module(name: str):  # bench.programs or bench.run, from the checkout
    sys.path.insert(0, str(REPO))
    try:
        return importlib.import_module(f"bench.{name}")
    finally:
        sys.path.remove(str(REPO))


def _string_to_json_work(source: str, bindings: dict[str, float]) -> tuple[int, list[int]]:
    """The bytecode instructions Python runs for ``evaluate`` + ``to_json`` + ``dumps``
    (a count, the same on every run and under any load), and the generations the
    cyclic GC collected meanwhile."""
    from gradcli.render import dumps

    executed = 0
    collected: list[int] = []

    def count(frame, event, arg):  # sys.settrace's signature
        nonlocal executed
        executed += 1
        return count

    def start(frame, event, arg):
        frame.f_trace_opcodes, frame.f_trace_lines = True, False
        return count

    def on_gc(phase: str, info: dict[str, int]) -> None:
        if phase == "start":
            collected.append(info["generation"])

    before = sys.gettrace()
    gc.callbacks.append(on_gc)
    sys.settrace(start)
    try:
        dumps(gradcli.evaluate(source, bindings).to_json())
    finally:
        sys.settrace(before)
        gc.callbacks.remove(on_gc)
    return executed, collected


@pytest.mark.parametrize(("workload", "small"), [("shared", 100), ("wide", 400)])
def test_string_to_json_does_no_more_work_per_operation_at_ten_times_the_size(workload: str,
                                                                              small: int) -> None:
    # The benchmark's growth checks time fresh processes; this counts instead, so it
    # holds on a loaded machine: ten times the program (both sizes on the fast
    # path) runs at most ten times the interpreter's instructions, and no garbage
    # collection (whose full passes grow with the heap). It catches superlinear
    # Python (a loop over the statements before each one doubled the count per
    # operation of shared 1000), not a quadratic C call such as list.insert(0, ...):
    # bench/run.py's growth checks, on CPU time, are for those.
    programs = _bench_module("programs")
    from gradcli.parse import use_fast_path

    make = getattr(programs, workload)
    little, large = make(small), make(10 * small)
    assert use_fast_path(little.source) and use_fast_path(large.source)
    _string_to_json_work(little.source, little.bindings)  # first use: lazy imports
    gc.collect()
    work_little, _ = _string_to_json_work(little.source, little.bindings)
    gc.collect()
    work_large, collections = _string_to_json_work(large.source, large.bindings)
    per_op_little, per_op_large = work_little / little.ops, work_large / large.ops
    assert per_op_large <= 1.05 * per_op_little, (per_op_little, per_op_large)
    assert collections == []


def test_a_growth_check_judges_the_fastest_cpu_times_and_shows_the_wall_medians() -> None:
    run = _bench_module("run")
    before_cpu, after_cpu = run.Series([0.0021, 0.0020, 0.0035]), run.Series([0.19, 0.18, 0.21])
    # one loaded sample a size: a wall-clock median of 277x, which is not the work's
    before_wall, after_wall = run.Series([0.0020]), run.Series([0.554])
    line = run.growth_check("shared 100 → shared 10000 (100× size)", 110,
                            [("string → JSON", before_cpu, after_cpu, before_wall, after_wall)])
    assert line == ("shared 100 → shared 10000 (100× size): CPU time 90.00× (fastest runs; "
                    "wall-clock median 277.00×) (target ≤ 110×: ✓)")
    worse = run.growth_check("a → b (10.2× size)", 1.1 * 10.19, [
        ("string → JSON", before_cpu, run.Series([0.021]), before_wall, after_wall),
        ("whole process", before_cpu, run.Series([0.0225]), before_wall, after_wall),
    ])
    assert worse is not None and worse.endswith("(target ≤ 11.21×: ✗)")
    assert "string → JSON 10.50×, whole process 11.25×" in worse
    assert run.growth_check("a → b", 11.0, [("x", run.Series(failure="time-out"), after_cpu,
                                                 before_wall, after_wall)]) is None


def test_the_benchmark_worker_reports_the_cpu_time_of_its_timed_section(tmp_path: Path) -> None:
    program = _bench_module("programs").shared(100)
    spec = tmp_path / "program.json"
    spec.write_text(json.dumps({"source": program.source, "bindings": program.bindings}), encoding="utf-8")
    out = subprocess.run([sys.executable, str(REPO / "bench" / "worker.py"), "gradcli", str(spec)],
                         capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    report = json.loads(out.stdout.splitlines()[-1])
    assert 0 < report["cpu"] <= report["seconds"] + 0.01


def test_the_harness_finds_the_gradcli_its_entry_point_runs(tmp_path: Path) -> None:
    # a console script imports gradcli from its interpreter's path, not from the
    # harness's: prepare() compiles that one and says so when they differ
    import sys

    import gradcli

    run = _bench_module("run")
    script = tmp_path / "bin" / "gradcli"
    script.parent.mkdir()
    script.write_text(f"#!{sys.executable}\nfrom gradcli.cli import main\nmain()\n", encoding="utf-8")
    expected = Path(gradcli.__file__).parent.resolve()
    assert run.entry_point_package([str(script)]).resolve() == expected
    assert run.entry_point_package([sys.executable, "-m", "gradcli"]).resolve() == expected
    # a package beside the script is the one it runs (its folder comes first)
    other = tmp_path / "other"
    (other / "gradcli").mkdir(parents=True)
    (other / "gradcli" / "__init__.py").write_text("", encoding="utf-8")
    beside = other / "entry"
    beside.write_text(script.read_text(encoding="utf-8"), encoding="utf-8")
    assert run.entry_point_package([str(beside)]).resolve() == (other / "gradcli").resolve()
