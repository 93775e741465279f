"""The fast path for large programs (gradcli/fastparse.py) reads exactly the language
of the grammar: on every input it either builds the AST the reference parser builds,
spans included, or declines, and it declines exactly when the reference parser fails.
Its token patterns are the grammar's terminals."""

from __future__ import annotations

import random

import pytest
from fuzzing import OVERRIDES, SEEDS, mutate, random_input
from hypothesis import given
from hypothesis import strategies as st
from strategies import programs

import gradcli
from gradcli import fastparse
from gradcli import parse as parsing
from gradcli.errors import GradError

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
        return _dump(parsing._get_parser().parse(source))
    except Exception:  # a syntax error, or the overflow of a huge number
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
    lark = parsing._get_parser()
    terminals = {t.name: t.pattern.to_regexp() for t in lark.terminals}
    # A terminal added to the grammar must be taught to the fast path too.
    assert set(terminals) == {
        "NUMBER", "NAME", "POW", "MINUS", "PLUS", "LPAR", "RPAR", "STAR", "SLASH", "COMMA",
        "EQUAL", "_SEP", "COMMENT", "__IGNORE_1",
    }
    assert terminals["NUMBER"] == fastparse.NUMBER
    assert terminals["NAME"] == fastparse.NAME
    assert set(lark.lexer_conf.ignore) == {"COMMENT", "__IGNORE_1"}
    assert terminals["COMMENT"] == "#[^\n]*"
    assert terminals["__IGNORE_1"] == "[ \t\x0c\r]+"
    assert fastparse.IGNORED == r"[ \t\f\r]*(?:#[^\n]*(?=\n|\Z))?"


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
        "x\r\ny\f+\t1",
        "(" * 300 + "x" + ")" * 300,
        "sin(" * 300 + "x" + ")" * 300,
        "-" * 300 + "x",
        "x^" * 300 + "x",
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
    ],
)
def test_the_fast_path_declines_what_the_grammar_refuses(bad: str) -> None:
    assert fastparse.parse_statements(bad) is None
    assert _reference(bad) is None


@given(programs())
def test_the_fast_path_reads_generated_programs_as_the_grammar_does(source: str) -> None:
    assert_same_as_reference(source)


_TOKENS = ["x", "y", "2", ".5", "1e3", "sin", "max", "(", ")", ",", "+", "-", "*", "/", "^", "**",
           "=", ";", "\n", " ", "#c\n", "θ"]


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


@pytest.mark.parametrize("bad", ["x y", "(x + 1", "x + * 2", "1e999 * x", "x = 1; x = 2", "sin x"])
def test_errors_in_long_programs_are_the_reference_parsers_errors(bad: str, monkeypatch) -> None:
    source = PAD + bad
    with pytest.raises(GradError) as fast_path:
        gradcli.compile(source)
    monkeypatch.setenv("GRADCLI_FAST_PARSE", "0")
    with pytest.raises(GradError) as reference:
        gradcli.compile(source)
    assert (fast_path.value.kind, fast_path.value.message, fast_path.value.span) == (
        reference.value.kind, reference.value.message, reference.value.span)


def test_long_programs_take_the_fast_path_and_short_ones_the_grammar(monkeypatch) -> None:
    taken: list[str] = []
    real = fastparse.parse_statements
    monkeypatch.setattr(fastparse, "parse_statements", lambda s: taken.append(s) or real(s))
    assert gradcli.evaluate("(x + y) * z", x=2, y=3, z=-4).gradient == {"x": -4.0, "y": -4.0, "z": 5.0}
    assert taken == []
    result = gradcli.evaluate("(x + y) * z" + PAD, x=2, y=3, z=-4)
    assert result.gradient == {"x": -4.0, "y": -4.0, "z": 5.0}
    assert len(taken) == 1
    monkeypatch.setenv("GRADCLI_FAST_PARSE", "0")
    assert gradcli.evaluate("(x + y) * z" + PAD, x=2, y=3, z=-4).value == -20.0
    assert len(taken) == 1
