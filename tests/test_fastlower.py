"""Large programs go from text straight to the graph (gradcli/fastlower.py), with no
AST held: the graph must be the one parsing and lowering give, node for node (ids,
operations, inputs, names, spans), or the fast path must decline and leave the
program, and its error, to the reference path."""

from __future__ import annotations

import random

import pytest
from fuzzing import OVERRIDES, SEEDS, mutate, random_input
from hypothesis import given
from hypothesis import strategies as st
from lark.exceptions import UnexpectedInput
from strategies import programs
from test_fastparse import REPO, _graph_dump, chains, compared

from gradcli import parse as parsing
from gradcli.errors import GradError
from gradcli.fastlower import lower_source
from gradcli.graph import lower_outputs
from gradcli.syntax import Program


def _reference(source: str, outputs: list[str] | None):
    """The graph of the reference path (Lark's parser, its checks, lowering), or None
    where it refuses the program."""
    try:
        statements = parsing.get_parser().parse(source)
        if not statements:
            return None
        parsing.check_statements(statements, source)
        graph, ids = lower_outputs(Program(statements, source), outputs)
        return _graph_dump(graph), ids
    except (GradError, UnexpectedInput):  # a syntax error, an overflow, a name
        return None


def assert_same_graph(source: str, output: str | None = None, *, declines: bool | None = None) -> None:
    """The fast path's graph is the reference graph; where the reference refuses the
    program, the fast path declines. ``declines`` False: it must not decline here.
    ``output`` may name several statements (``a,b``)."""
    outputs = None if output is None else output.split(",")
    fast = lower_source(source, outputs)
    reference = _reference(source, outputs)
    if reference is None:
        assert fast is None, f"the fast path lowered what the reference refuses: {source!r}"
        return
    if fast is None:
        assert declines is not False, f"the fast path declined a good program: {source!r}"
        return
    assert (_graph_dump(fast[0]), fast[1]) == reference, source


@pytest.mark.parametrize(
    "source",
    [
        "2x + (x+1)(x-1) + 2 sin(x) - 3(x)",
        "q = (x +\n  y); f = (q\n * 2\n)\n\n g = f^-2 ** 3 - -+x",
        "log(x, 2) + atan2(y, x) + max(x, y) + 1e-3x + .5(y) + 2.e2",
        "θ = 2θ0 + x_1; θ * pi + tau - e",
        "-x^2 + 2^-x^2 + 2^3x + 2^-3x + x^2y + -2x + a - -2x + x^y^z + +x^2 + (+x)",
        "a*-b*c + a*-b^c + a^-b*c + 1/2x + 2**-1 + - - x",
        "((x)) + x + (((2))) * 2 + +(+y) + y + (pi) * pi",
        "q = x*y; r = (x*y) + (q); (r) * ((x*y))",
        "(" * 300 + "x" + ")" * 300,
        "sin(" * 300 + "x" + ")" * 300,
        "-" * 300 + "x",
        "x^" * 300 + "x",
        "x < 1; x <= 2x; x+1 > y-1; -x >= 2^-x; x == y; x != -y; q = x==1",
        "if(x > 0, log(x), 0) + clip(x, -1, 1) * sum(x, y, z) - mean(x) + logsumexp(x, 2x, 3)",
        "q = x\n# c\n(q)", "a = 2\r\nb = a\rb*x", "q = x; -q", "q = (x\r+ y)\r\nr = -q; r",
    ],
)
def test_the_graph_is_the_reference_graph(source: str) -> None:
    assert_same_graph(source, declines=False)


@pytest.mark.parametrize(
    ("bad", "output"),
    [
        ("x y", None), ("(x + 1", None), ("1e999 * x", None), ("x = 1; x = 2", None),
        ("a = x + q; q = 1; a", None), ("q = q + 1", None), ("pi = 3", None), ("sin = 2 * x", None),
        ("q = x; sinn(q)", None), ("q = x; q(2)", None), ("max(x)", None), ("f()", None),
        ("sin + 1", None), ("q = x; r = q; r", "s"), ("x + 1; q = 2", "x"), ("", None), ("# c", None),
        ("p = w*x\nloss = (y - p)^2\n     + lam*w^2\n", None), ("q = x\n- y", None), ("x + 1; q = 2", None),
    ],
)
def test_the_fast_path_declines_what_the_reference_refuses(bad: str, output: str | None) -> None:
    outputs = None if output is None else output.split(",")
    assert lower_source(bad, outputs) is None
    assert _reference(bad, outputs) is None


@given(programs())
def test_generated_programs(source: str) -> None:
    assert_same_graph(source, declines=False)


@given(compared())
def test_generated_comparisons(source: str) -> None:
    assert_same_graph(source)


@given(chains())
def test_generated_chains_of_statements_and_outputs(chain: tuple[str, str | None]) -> None:
    assert_same_graph(*chain, declines=False)


@pytest.mark.parametrize(
    "output", ["a,b", "b,a", "c,a", "a,c", "b,c,a", "c", "a,a", "d,b"],
)
def test_several_outputs(output: str) -> None:
    assert_same_graph("a = x*y; b = x*y; c = a + sin(x); d = y; e = c*d", output, declines=False)


@given(chains(), st.data())
def test_generated_chains_with_several_outputs(chain: tuple[str, str | None], data: st.DataObject) -> None:
    source, _ = chain
    names = [f"q{i}" for i in range(source.count("q") + 1) if f"q{i} =" in source]
    outputs = data.draw(st.lists(st.sampled_from(names), min_size=1, max_size=3))
    assert_same_graph(source, ",".join(outputs), declines=False)


@given(st.sampled_from(SEEDS + OVERRIDES), st.integers(0, 4), st.integers(0, 2**32))
def test_mutated_programs(seed: str, rounds: int, n: int) -> None:
    assert_same_graph(mutate(seed, random.Random(n), rounds))


@given(st.integers(0, 2**32))
def test_fuzz_inputs(n: int) -> None:
    assert_same_graph(random_input(random.Random(n)))


def test_the_benchmark_programs() -> None:
    import sys

    sys.path.insert(0, str(REPO))
    try:
        from bench import programs as bench_programs
    finally:
        sys.path.remove(str(REPO))
    for program in (bench_programs.wide(2000), bench_programs.shared(300), bench_programs.deep_affine(300),
                    bench_programs.deep_tanh(300)):
        assert_same_graph(program.source, declines=False)
    assert_same_graph(bench_programs.shared(300).source, output="q7", declines=False)


@pytest.mark.slow
def test_a_seeded_campaign_finds_no_difference_from_the_reference() -> None:
    for n in range(20_000):
        rng = random.Random(n)
        if rng.random() < 0.5:
            source = random_input(rng)
        else:
            source = mutate(" ; ".join(rng.choice(SEEDS) for _ in range(3)), rng, rng.randrange(5))
        assert_same_graph(source)
