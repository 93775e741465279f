"""The language: numbers, names, constants, operators and their
precedence, implicit products, calls, statements, comments."""

from __future__ import annotations

import math

import pytest

import gradcli
from gradcli.errors import GradError
from gradcli.syntax import Assign, Binary, Call, Name, Num, Unary


def value(source: str, **bindings: float) -> float:
    return gradcli.evaluate(source, bindings).value


PRECEDENCE = [
    ("2^3^2", {}, 512.0),  # right-associative
    ("2**3**2", {}, 512.0),
    ("-2^2", {}, -4.0),  # unary minus is below ^
    ("-x^2", {"x": 2}, -4.0),
    ("2^-1", {}, 0.5),  # the exponent may carry a sign
    ("2^-x^2", {"x": 1}, 0.5),
    ("2^+1", {}, 2.0),
    ("1/2x", {"x": 4}, 2.0),  # implicit product binds like *, left-associative
    ("2x^2", {"x": 3}, 18.0),
    ("x^2y", {"x": 3, "y": 2}, 18.0),
    ("8/2/2", {}, 2.0),
    ("8-2-2", {}, 4.0),
    ("2+3*4", {}, 14.0),
    ("(2+3)*4", {}, 20.0),
    ("-(2+3)", {}, -5.0),
    ("--2", {}, 2.0),
    ("+-+2", {}, -2.0),
    ("2*-3", {}, -6.0),
    ("2^3*2", {}, 16.0),
    ("-2x", {"x": 3}, -6.0),
    ("2(x+1)", {"x": 1}, 4.0),
    ("(x+1)(x-1)", {"x": 3}, 8.0),
    ("2 sin(x)", {"x": math.pi / 2}, 2.0),
    ("sin(x)cos(x)", {"x": 0.5}, math.sin(0.5) * math.cos(0.5)),
    ("2pi", {}, 2 * math.pi),
    ("3(2)", {}, 6.0),
    ("(2)(3)(4)", {}, 24.0),
]


@pytest.mark.parametrize(("source", "bindings", "expected"), PRECEDENCE)
def test_precedence_and_associativity_follow_the_spec(
    source: str, bindings: dict[str, float], expected: float
) -> None:
    assert value(source, **bindings) == pytest.approx(expected, rel=1e-15)


@pytest.mark.parametrize(
    ("text", "expected"),
    [("2", 2.0), ("2.5", 2.5), (".5", 0.5), ("2.", 2.0), ("1e-3", 1e-3), ("6.02E+23", 6.02e23),
     ("007", 7.0)],
)
def test_numbers_are_floats_in_every_written_form(text: str, expected: float) -> None:
    result = value(text)
    assert isinstance(result, float)
    assert result == expected


@pytest.mark.parametrize("name", ["x", "w0", "x_1", "theta", "θ", "_tmp", "Δx", "xy"])
def test_names_are_letters_digits_and_underscores_in_any_script(name: str) -> None:
    result = gradcli.evaluate(f"{name} * 2", {name: 3})
    assert result.value == 6.0
    assert list(result.gradient) == [name]


def test_xy_is_one_name_not_a_product() -> None:
    assert list(gradcli.evaluate("xy + 1", xy=2).inputs) == ["xy"]


def test_a_number_then_e_is_the_constant_e_unless_it_is_an_exponent() -> None:
    assert value("2e") == pytest.approx(2 * math.e)
    assert value("2e1") == 20.0
    assert value("2e-1") == 0.2


@pytest.mark.parametrize(("name", "expected"), [("pi", math.pi), ("e", math.e), ("tau", math.tau)])
def test_constants_have_their_values(name: str, expected: float) -> None:
    assert value(name) == expected


def test_log_with_two_arguments_is_the_base_b_logarithm() -> None:
    assert value("log(8, 2)") == pytest.approx(3.0)
    r = gradcli.evaluate("log(x, b)", x=8, b=2)
    assert r.gradient["x"] == pytest.approx(1 / (8 * math.log(2)))
    assert r.gradient["b"] == pytest.approx(-3 / (2 * math.log(2)))


def test_pow_function_is_the_operator() -> None:
    r = gradcli.evaluate("pow(x, 3)", x=2)
    assert (r.value, r.gradient["x"]) == (8.0, 12.0)
    assert r.nodes[-1].op == "pow"


def test_statements_are_separated_by_semicolons_and_new_lines() -> None:
    source = "q = x + y\n\nf = q * z; g = f + 1\n"
    r = gradcli.evaluate(source, x=2, y=3, z=-4)
    assert (r.output, r.value) == ("g", -19.0)


def test_comments_run_to_the_end_of_the_line() -> None:
    source = "# the seed example\nq = x + y  # an add node\nq * z # the output"
    assert gradcli.evaluate(source, x=2, y=3, z=-4).value == -20.0


def test_a_line_break_inside_parentheses_does_not_end_the_statement() -> None:
    assert value("(1 +\n 2\n) * 3") == 9.0


def test_blank_statements_are_allowed_around_the_program() -> None:
    assert value(";\n; 1 + 1 ;\n\n") == 2.0


def test_the_last_statement_is_the_output_unless_output_names_one() -> None:
    source = "q = x + y; f = q * z"
    assert gradcli.evaluate(source, x=2, y=3, z=-4).output == "f"
    r = gradcli.evaluate(source, x=2, y=3, z=-4, output="q")
    assert (r.output, r.value) == ("q", 5.0)
    assert r.gradient == {"x": 1.0, "y": 1.0, "z": 0.0}


def test_a_bare_expression_output_has_no_name() -> None:
    assert gradcli.evaluate("q = x; q + 1", x=1).output is None


def test_the_parser_builds_the_ast_with_spans() -> None:
    program = gradcli.parse_program("q = log(x, 2) * -y")
    (stmt,) = program.statements
    assert isinstance(stmt, Assign) and stmt.name == "q"
    mul = stmt.expr
    assert isinstance(mul, Binary) and mul.op == "mul"
    assert isinstance(mul.left, Call) and mul.left.name == "log"
    assert [type(a) for a in mul.left.args] == [Name, Num]
    assert isinstance(mul.right, Unary) and mul.right.op == "neg"
    assert program.source[mul.left.span.start : mul.left.span.end] == "log(x, 2)"
    assert program.source[mul.right.span.start : mul.right.span.end] == "-y"


def test_parentheses_belong_to_the_span_of_what_they_enclose() -> None:
    program = gradcli.parse_program("(x + y) * z")
    (mul,) = program.statements
    assert isinstance(mul, Binary)
    assert mul.left.span == (0, 7)


@pytest.mark.parametrize("source", ["x y", "2 3", "(x)2", "x ** * 2", "2 = x", "x +", "(x", "x)"])
def test_malformed_programs_are_syntax_errors(source: str) -> None:
    with pytest.raises(GradError) as info:
        gradcli.parse_program(source)
    assert info.value.kind == "syntax"


# --- a line never silently continues, and a value is never silently thrown away -------

CONTINUES = "a line cannot continue the one before it"


@pytest.mark.parametrize("op", ["+", "-", "*", "/", "^", "**"])
@pytest.mark.parametrize("last", [True, False], ids=["last-line", "middle-line"])
def test_a_line_that_starts_with_an_operator_does_not_continue_the_line_before(op: str, last: bool) -> None:
    source = f"p = w*x\nloss = (y - p)^2\n     {op} lam*w^2\n" + ("" if last else "z = loss\n")
    with pytest.raises(GradError) as info:
        gradcli.parse_program(source)
    err = info.value
    assert err.kind == "syntax" and err.exit_code == 2
    assert err.message.startswith(CONTINUES) and f"starting with '{op}'" in err.message
    assert "parentheses let an expression span lines" in err.message
    assert err.span is not None and source[err.span.start : err.span.end] == op


@pytest.mark.parametrize(
    "gap", ["\n", "\n\n", "\n# a comment; with a semicolon\n", "\r", "\r\n", "  # c\n  "]
)
def test_blank_lines_and_comments_do_not_hide_a_line_that_starts_with_a_sign(gap: str) -> None:
    with pytest.raises(GradError, match=CONTINUES):
        gradcli.parse_program(f"q = x{gap}- y")


def test_parentheses_let_an_expression_span_lines() -> None:
    source = "p = w*x\nloss = ((y - p)^2\n     + lam*w^2)\n"
    assert gradcli.evaluate(source, w=2, x=1, y=3, lam=0.5).value == 3.0


@pytest.mark.parametrize("source", ["-x", "q = x; -q", "q = x;\n-q", "q = x; +q", "# note\n-x"])
def test_a_sign_starts_a_statement_after_a_semicolon_or_at_the_start(source: str) -> None:
    assert gradcli.evaluate(source, x=2).value in (-2.0, 2.0)


@pytest.mark.parametrize(
    ("source", "thrown_away"),
    [("x + 1\nq = 2*x", "x + 1"), ("q = x; q*2; q*3", "q*2"), ("(x\n+ 1); x", "(x\n+ 1)"), ("x;x", "x")],
)
def test_a_bare_expression_before_the_last_statement_is_an_error(source: str, thrown_away: str) -> None:
    with pytest.raises(GradError) as info:
        gradcli.evaluate(source, x=1)
    err = info.value
    assert (err.kind, err.exit_code) == ("syntax", 2)
    assert "not the last statement" in err.message and "thrown away" in err.message
    assert err.span is not None and source[err.span.start : err.span.end] == thrown_away


def test_a_bare_expression_before_the_output_named_by_output_is_still_an_error() -> None:
    with pytest.raises(GradError, match="not the last statement"):
        gradcli.evaluate("x + 1\nq = 2*x", x=1, output="q")


# --- line ends: "\n", "\r\n" and a lone "\r"; other separators are refused --------------


@pytest.mark.parametrize("end", ["\n", "\r\n", "\r"], ids=["LF", "CRLF", "CR"])
def test_every_common_line_end_separates_statements(end: str) -> None:
    source = end.join(["q = x + y", "", "f = q * z  # comment", "g = f + 1", ""])
    r = gradcli.evaluate(source, x=2, y=3, z=-4)
    assert (r.output, r.value) == ("g", -19.0)
    assert value(f"(1 +{end} 2{end}) * 3") == 9.0


def test_a_lone_carriage_return_is_never_nothing() -> None:
    # Once read as `a = 2-x`: the "\r" ended nothing.
    with pytest.raises(GradError, match=CONTINUES):
        gradcli.parse_program("a = 2\r-x")
    assert [type(s) for s in gradcli.parse_program("a = 2\rb = a*x\rb").statements] == [Assign, Assign, Name]


@pytest.mark.parametrize(
    "sep", ["\v", "\f", "\x1c", "\x1d", "\x1e", "\x85", "\u2028", "\u2029"],
    ids=["VT", "FF", "FS", "GS", "RS", "NEL", "LS", "PS"],
)
@pytest.mark.parametrize("where", ["between statements", "in a comment", "in an expression"])
def test_other_line_separators_are_refused_with_their_name(sep: str, where: str) -> None:
    source = {
        "between statements": f"q = x{sep}q * 2",
        "in a comment": f"q = x # note{sep}q = 2\nq * 2",
        "in an expression": f"q = x +{sep}2",
    }[where]
    with pytest.raises(GradError) as info:
        gradcli.parse_program(source)
    err = info.value
    assert err.kind == "syntax" and err.message.startswith("unexpected line separator (U+")
    assert err.span is not None and source[err.span.start] == sep


@pytest.mark.parametrize("value", ["2\n-3", "1;2", "q = 3", "q = 3; q", "2\r-3", "1\n\n-2"])
def test_a_binding_value_is_one_expression_never_the_last_of_several(value: str) -> None:
    # `-x $'2\n-3'` once bound x to -3: the last of two statements.
    with pytest.raises(GradError) as info:
        gradcli.evaluate("x", x=value)
    assert info.value.kind == "binding" and info.value.message.startswith("the value of x ")


@pytest.mark.parametrize("value", ["2\n", "2;", "\n2", "(2\n+ 1)", "pi/4 # a comment"])
def test_a_binding_value_may_carry_blank_statements_and_comments(value: str) -> None:
    assert gradcli.evaluate("x", x=value).value in (2.0, 3.0, math.pi / 4)


def test_a_comment_ends_at_a_carriage_return() -> None:
    # Once the comment ran on past the "\r" and swallowed the next line.
    assert gradcli.evaluate("q = 1 # note\rq * x", x=2).value == 2.0
