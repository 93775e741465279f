"""The fast path for large programs (gradcli/fastparse.py) reads exactly the language
of the grammar: on every input it either builds the AST the reference parser builds,
spans included, or declines, and it declines exactly when the reference parser fails.
Its token patterns are the grammar's terminals."""

from __future__ import annotations

import random
import re
from pathlib import Path

import pytest
from fuzzing import OVERRIDES, SEEDS, mutate, random_input
from hypothesis import given
from hypothesis import strategies as st
from lark.exceptions import UnexpectedInput
from strategies import programs

import gradcli
from gradcli import fastlower, fastparse
from gradcli import parse as parsing
from gradcli.errors import GradError
from gradcli.graph import Graph, lower
from gradcli.syntax import Program

REPO = Path(__file__).resolve().parent.parent

PAD = "\n# " + "padding to take the fast path " * 70 + "\n"  # a comment: no tokens


def _dump(statements: list[object]) -> list[tuple[object, ...]]:
    """Every AST node's type and fields, in a fixed order, without recursion."""
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


def _reference(source: str) -> list[tuple[object, ...]] | None:
    """The reference parser's AST, or None when it refuses the program."""
    try:
        return _dump(parsing.get_parser().parse(source))
    except (UnexpectedInput, GradError):  # a syntax error, or the overflow of a huge number
        return None


def assert_same_as_reference(source: str) -> None:
    fast = fastparse.parse_statements(source)
    reference = _reference(source)
    if reference is None:
        assert fast is None, f"the fast path accepted what the grammar refuses: {source!r}"
    else:
        assert fast is not None, f"the fast path declined a program: {source!r}"
        assert _dump(fast) == reference, source


def test_the_token_patterns_are_the_grammars_terminals() -> None:
    lark = parsing.get_parser()
    terminals = {t.name: t.pattern.to_regexp() for t in lark.terminals}
    # A terminal added to the grammar must be taught to the fast path too.
    assert set(terminals) == {
        "NUMBER", "NAME", "POW", "MINUS", "PLUS", "LPAR", "RPAR", "STAR", "SLASH", "COMMA",
        "EQUAL", "_SEP", "COMMENT", "__IGNORE_1", "_LT", "_LE", "_GT", "_GE", "_EQ", "_NE",
    }
    assert terminals["NUMBER"] == fastparse.NUMBER
    assert terminals["NAME"] == fastparse.NAME
    assert set(lark.lexer_conf.ignore) == {"COMMENT", "__IGNORE_1"}
    chars = [chr(c) for c in range(0x3000)]
    assert [c for c in chars if re.fullmatch(terminals["COMMENT"], "#" + c)] == [
        c for c in chars if re.fullmatch(fastparse.COMMENT, "#" + c)
    ]
    assert terminals["__IGNORE_1"] == "[ \t]+"
    assert fastparse.IGNORED == rf"[ \t]*(?:{fastparse.COMMENT}(?=[\n\r]|\Z))?"
    # The operators: every one- and two-character string that a literal terminal of
    # the grammar matches is one of the fast path's operators, and nothing else is.
    literals = [terminals[t] for t in set(terminals) - {"NUMBER", "NAME", "COMMENT", "__IGNORE_1"}]
    alphabet = [chr(c) for c in range(32, 127)] + ["\n", "\t", "\r"]
    candidates = alphabet + [a + b for a in alphabet for b in alphabet]
    by_grammar = {c for c in candidates if any(re.fullmatch(p, c) for p in literals)}
    fast_path = f"{fastparse.OPERATOR}|{fastparse.CR_LINE_END}"
    by_fast_path = {c for c in candidates if re.fullmatch(fast_path, c)}
    assert by_grammar == by_fast_path == {*"+-*/^(),;=<>\n\r", "**", "<=", ">=", "==", "!=", "\r\n"}


@pytest.mark.parametrize(
    "source",
    [
        "2x + (x+1)(x-1) + 2 sin(x) - 3(x)",
        "q = (x +\n  y); f = (q\n * 2\n)\n\n g = f^-2 ** 3 - -+x",
        "log(x, 2) + atan2(y, x) + max(x, y)(2) + 1e-3x + .5(y) + 2.e2",
        "θ = 2θ0 + x_1; θ * pi + tau - e",
        "-x^2 + 2^-x^2 + 2^3x + 2^-3x + x^2y + -2x + a - -2x + x^y^z + +x^2 + (+x)",
        "a*-b*c + a*-b^c + a^-b*c + 1/2x + 2**-1 + - - x",
        "(f\n(x)) + (2\nx) + (x)\ny",
        "f\n(x)",
        "x = 1 ;; y = x  # comment ( ) \n\n;",
        "x\r\ny\r+\t1", "x\ry", "(x\r+ y\r\n)", "x # c\r y",
        "(" * 300 + "x" + ")" * 300,
        "sin(" * 300 + "x" + ")" * 300,
        "-" * 300 + "x",
        "x^" * 300 + "x",
        "x < 1; x <= 2x; x+1 > y-1; -x >= 2^-x; x == y; x != -y; q = x==1",
        "(x < y) < z + (a == b) != c; max(x < 1, y >= 2, (z != 0) == 1)",
        "if(x > 0, log(x), 0) + clip(x, -1, 1) * sum(x, y, z) - mean(x) + logsumexp(x, 2x, 3)",
        "x<-1; x<=-y; 2<3x; (x)<(y)(z); x ** 2 == x^2",
        "(a\n< b\n)",
    ],
)
def test_the_fast_path_builds_the_reference_ast(source: str) -> None:
    assert_same_as_reference(source)


@pytest.mark.parametrize(
    "bad",
    [
        "x y", "(x + 1", "x + * 2", "1e999 * x", "sin x", "f()", "(x, y)", "x = ", "= x",
        "a = b = 1", "x + y = 1", "(x;y)", "x)", "2 3", "(x) 2", "x +", "x\n+", "q =\n1",
        "x ° 2", "x\v", "x = 1 2", "max(x,)", "max(,x)", "(x)(", "2.5.3", "x^", "-",
        "sin(x)(", "x # trailing\n)",
        "x < y < z", "x < y == z", "(x < y <= z)", "max(x, y > 1 != 2)", "x < y + z > 1", "x <",
        "< x", "x = < 1", "x ! 1", "x =< 1", "x => 1", "x <> 1", "x === 1", "(x) < 1 < 2",
    ],
)
def test_the_fast_path_declines_what_the_grammar_refuses(bad: str) -> None:
    assert fastparse.parse_statements(bad) is None
    assert _reference(bad) is None


@given(programs())
def test_the_fast_path_reads_generated_programs_as_the_grammar_does(source: str) -> None:
    assert_same_as_reference(source)


_COMPARE = ["<", "<=", ">", ">=", "==", "!="]


@st.composite
def compared(draw: st.DrawFn) -> str:
    """Programs with the comparison level: comparisons of generated expressions, in
    calls (if, n-ary max, clip), in parentheses, assigned, and sometimes chained
    (which both parsers must refuse)."""

    def comparison() -> str:
        left, right = draw(programs(max_depth=2)), draw(programs(max_depth=2))
        text = f"{left} {draw(st.sampled_from(_COMPARE))} {right}"
        if draw(st.integers(0, 9)) == 0:  # a chain
            text += f" {draw(st.sampled_from(_COMPARE))} {draw(programs(max_depth=1))}"
        return text

    parts = [comparison() for _ in range(draw(st.integers(1, 3)))]
    shape = draw(st.integers(0, 4))
    if shape == 1:
        return f"if({parts[0]}, {draw(programs(max_depth=2))}, {parts[-1]})"
    if shape == 2:
        return f"max({', '.join(parts)}, 0) * ({parts[0]})"
    if shape == 3:
        return f"q = {parts[0]}\nclip(q, ({parts[-1]}) - 1, 2) - (q {draw(st.sampled_from(_COMPARE))} 1)"
    return "; ".join(parts)


@given(compared())
def test_the_fast_path_reads_comparisons_as_the_grammar_does(source: str) -> None:
    assert_same_as_reference(source)


_TOKENS = ["x", "y", "2", ".5", "1e3", "sin", "max", "(", ")", ",", "+", "-", "*", "/", "^", "**",
           "=", ";", "\n", " ", "#c\n", "θ", "<", "<=", ">", ">=", "==", "!=", "!", "if"]


@given(st.lists(st.sampled_from(_TOKENS), max_size=14))
def test_the_fast_path_reads_token_soup_as_the_grammar_does(tokens: list[str]) -> None:
    assert_same_as_reference("".join(tokens))


@given(st.sampled_from(SEEDS + OVERRIDES), st.integers(0, 4), st.integers(0, 2**32))
def test_the_fast_path_reads_mutated_programs_as_the_grammar_does(seed: str, rounds: int, n: int) -> None:
    assert_same_as_reference(mutate(seed, random.Random(n), rounds))


@given(st.integers(0, 2**32))
def test_the_fast_path_reads_fuzz_inputs_as_the_grammar_does(n: int) -> None:
    assert_same_as_reference(random_input(random.Random(n)))


_SOUP = [*_TOKENS, "2.", "e", "\r", "sin(", "x^", "**-", "q ="]


@pytest.mark.slow
def test_a_seeded_campaign_finds_no_difference_from_the_grammar() -> None:
    """200,000 inputs: fuzz inputs, token soup, mutated chains of programs."""
    for n in range(200_000):
        rng = random.Random(n)
        family = rng.random()
        if family < 0.4:
            source = random_input(rng)
        elif family < 0.8:
            source = "".join(rng.choice(_SOUP) for _ in range(rng.randrange(25)))
        else:
            source = mutate(" ; ".join(rng.choice(SEEDS) for _ in range(3)), rng, rng.randrange(5))
        assert_same_as_reference(source)


# --- the same graph ----------------------------------------------------------------


def _graph_dump(graph: Graph) -> tuple[object, ...]:
    nodes = [(n.id, n.op_name, n.inputs, n.name, n.value, n.names, n.span) for n in graph.nodes]
    return nodes, graph.inputs, graph.names, graph.output_name


def assert_fast_graph_is_the_reference(source: str, output: str | None = None) -> None:
    statements = fastparse.parse_statements(source)
    assert statements is not None, source
    fast = lower(Program(statements, source), output)
    reference = lower(Program(parsing.get_parser().parse(source), source), output)
    assert _graph_dump(fast) == _graph_dump(reference)


@st.composite
def chains(draw: st.DrawFn) -> tuple[str, str | None]:
    """Statements that use the ones before (or not), an unused one, a bare last line
    (or not), and an output chosen among the names (or the default)."""
    count = draw(st.integers(1, 5))
    lines = []
    for i in range(count):
        expr = draw(programs(max_depth=2))
        earlier = draw(st.sets(st.integers(0, i - 1), max_size=2)) if i else set()
        lines.append(f"q{i} = {' * '.join([f'({expr})', *(f'q{k}' for k in sorted(earlier))])}")
    if draw(st.booleans()):
        lines.append(f"q0 + {draw(programs(max_depth=1))}")
    output = draw(st.sampled_from([None, *(f"q{i}" for i in range(count))]))
    return draw(st.sampled_from(["\n", "; ", ";\n\n"])).join(lines), output


@given(chains())
def test_the_fast_path_lowers_to_the_reference_graph(chain: tuple[str, str | None]) -> None:
    assert_fast_graph_is_the_reference(*chain)


def test_the_benchmark_programs_lower_to_the_reference_graph() -> None:
    import sys

    sys.path.insert(0, str(REPO))
    try:
        from bench import programs as bench_programs
    finally:
        sys.path.remove(str(REPO))
    for program in (bench_programs.wide(2000), bench_programs.shared(300), bench_programs.deep_affine(300)):
        assert_fast_graph_is_the_reference(program.source)
    assert_fast_graph_is_the_reference(bench_programs.shared(300).source, output="q7")


@pytest.mark.parametrize(
    ("bad", "output"),
    [
        ("x y", None), ("(x + 1", None), ("x + * 2", None), ("1e999 * x", None), ("sin x", None),
        ("x = 1; x = 2", None), ("a = x + q; q = 1; a", None), ("pi = 3", None), ("sin = 2 * x", None),
        ("q = x; sinn(q)", None), ("max(x)", None), ("q = x; r = q; r", "s"), ("x + 1; q = 2", "x"),
        ("", None), ("q = log(x); q + tan(x, 1)", None), ("q = x\nq + q = 1", None),
        ("p = w*x\nloss = (y - p)^2\n     + lam*w^2\n", None), ("q = x\n- y\nr = q", "r"),
        ("x + 1; q = 2", None), ("q = x\r-y", None), ("q = x\r\n* 2", None), ("q = x\n\n^ 2", None),
        ("q = x\u2028q", None), ("q = x # c\x85q", None), ("q = x\f+ 1", None),
    ],
)
def test_errors_in_long_programs_are_the_reference_errors(bad: str, output: str | None, monkeypatch) -> None:
    source = PAD + bad
    with pytest.raises(GradError) as fast_path:
        gradcli.compile(source, output)
    monkeypatch.setenv("GRADCLI_FAST_PARSE", "0")
    with pytest.raises(GradError) as reference:
        gradcli.compile(source, output)
    assert (fast_path.value.kind, fast_path.value.message, fast_path.value.span) == (
        reference.value.kind, reference.value.message, reference.value.span)


@pytest.mark.parametrize(
    "source", ["a = 2\r\nb = a\rb*x", "q = x; -q", "q = (x\r+ y)\r\nr = -q; r", "q = x\n# c\n(q)"]
)
def test_long_programs_with_every_line_end_give_the_reference_graph(source: str, monkeypatch) -> None:
    fast = gradcli.compile(PAD + source)
    monkeypatch.setenv("GRADCLI_FAST_PARSE", "0")
    assert _graph_dump(fast) == _graph_dump(gradcli.compile(PAD + source))


def test_long_programs_take_the_fast_path_and_short_ones_the_grammar(monkeypatch) -> None:
    fast: list[str] = []
    lark: list[str] = []
    real_fast, real_lark = fastlower.lower_source, parsing.get_parser
    monkeypatch.setattr(fastlower, "lower_source", lambda s, o=None: fast.append(s) or real_fast(s, o))
    monkeypatch.setattr(parsing, "get_parser", lambda: lark.append("lark") or real_lark())
    expected = {"x": -4.0, "y": -4.0, "z": 5.0}
    assert gradcli.evaluate("(x + y) * z", x=2, y=3, z=-4).gradient == expected
    assert (len(fast), len(lark)) == (0, 1)
    assert gradcli.evaluate("(x + y) * z" + PAD, x=2, y=3, z=-4).gradient == expected
    assert (len(fast), len(lark)) == (1, 1)
    monkeypatch.setenv("GRADCLI_FAST_PARSE", "0")
    assert gradcli.evaluate("(x + y) * z" + PAD, x=2, y=3, z=-4).gradient == expected
    assert (len(fast), len(lark)) == (1, 2)
