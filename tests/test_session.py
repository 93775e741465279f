"""The interactive session as a library: definitions accumulate, replace, order
themselves; bindings; errors point into what was typed."""

from __future__ import annotations

import pytest

from gradcli import Session
from gradcli.errors import GradError, format_error


def _error(call, *args) -> str:
    with pytest.raises(GradError) as info:
        call(*args)
    return format_error(info.value)


def test_definitions_accumulate_into_one_program() -> None:
    s = Session()
    s.enter("q = x + y")
    s.enter("f = q * z")
    s.bind("x=2 y=3 z=-4")
    r = s.evaluate()
    assert (r.value, r.gradient) == (-20.0, {"x": -4.0, "y": -4.0, "z": 5.0})
    assert s.program() == "q = x + y\nf = q * z"


def test_definitions_may_come_in_any_order() -> None:
    s = Session()
    s.enter("f = q * z")
    s.enter("q = x + y")
    s.bind("x=2 y=3 z=-4")
    assert s.evaluate("f").value == -20.0
    assert s.listing() == ["q = x + y", "f = q * z"]


def test_redefining_a_name_replaces_its_definition_in_place() -> None:
    s = Session()
    s.enter("q = x + y")
    s.enter("f = q * z")
    entered = s.enter("q = x * y")
    assert entered.replaced == [("q", "q = x + y")]
    s.bind("x=2 y=3 z=-4")
    assert s.evaluate("f").value == -24.0
    assert s.listing() == ["q = x * y", "f = q * z"]


def test_the_output_is_what_was_entered_last() -> None:
    s = Session()
    s.enter("q = x + y; f = q * z")
    s.bind("x=2 y=3 z=-4")
    assert s.evaluate().output == "f"
    s.enter("q * 2")
    assert s.evaluate().value == 10.0
    s.enter("q = x - y")
    assert s.evaluate().output == "q"


def test_an_expression_is_never_called_by_a_name_the_session_gives_another() -> None:
    s = Session()
    s.enter("q = x + y; f = q * z")
    s.bind("x=2 y=3 z=-4")
    s.enter("q * 2")  # its program does not use f, but the session does: "out", not "f"
    r = s.evaluate()
    assert (r.graph.output_label(), r.value) == ("out", 10.0)
    s.enter("out = 1")
    assert s.evaluate("out").value == 1.0
    s.enter("log(q - 9)")
    assert _error(s.evaluate) == (  # the caret in the line as typed, without the name given
        "error: log(-4) is outside the domain of log(x) (x > 0)\n  log(q - 9)\n  ^^^^^^^^^^\n"
        "  in the forward pass, at node 5"
    )


def test_only_what_the_output_uses_needs_a_value() -> None:
    s = Session()
    s.enter("a = u * v")
    s.enter("b = x ^ 2")
    s.bind("x=3")
    r = s.evaluate("b")
    assert (r.value, r.gradient) == (9.0, {"x": 6.0})
    assert _error(s.evaluate, "a") == "error: missing a value for u, v: bind them with :bind u=VALUE v=VALUE"


@pytest.mark.parametrize(
    ("lines", "expected"),
    [
        (["x = x + 1"], "error: x cannot be defined in terms of itself: a definition is a formula, not a step"
                        " (for another value of an input, use :bind x=...)\n  x = x + 1\n      ^"),
        (["f = q * 2", "q = f + 1"], "error: q would depend on itself (q → f → q): a definition cannot"
                                     " use its own name, even through others\n  q = f + 1\n      ^"),
        (["a = b; b = c; c = a"], "error: a would depend on itself (a → b → c → a): a definition cannot use"
                                  " its own name, even through others\n  a = b\n      ^"),
    ],
)
def test_a_definition_that_depends_on_itself_is_refused(lines: list[str], expected: str) -> None:
    s = Session()
    for line in lines[:-1]:
        s.enter(line)
    before = s.listing()
    assert _error(s.enter, lines[-1]) == expected
    assert s.listing() == before  # all or nothing


def test_a_line_with_a_mistake_changes_nothing() -> None:
    s = Session()
    s.enter("q = x + y")
    assert "unknown function" in _error(s.enter, "q = x * y; g = foo(x)")
    assert s.listing() == ["q = x + y"]


def test_an_error_points_into_the_definition_it_comes_from() -> None:
    s = Session()
    s.enter("q = log(x - 5)")
    s.enter("f = q * 2")
    s.bind("x=2")
    assert _error(s.evaluate) == (
        "error: log(-3) is outside the domain of log(x) (x > 0)\n"
        "  q = log(x - 5)\n"
        "      ^^^^^^^^^^\n"
        "  in the forward pass, at node 3"
    )


def test_a_syntax_error_points_into_the_line_as_typed() -> None:
    assert _error(Session().enter, "q = x +* y").endswith("  q = x +* y\n         ^")


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("x=2 y=3", {"x": 2.0, "y": 3.0}),
        ("x = pi/2, y=-1", {"x": 1.5707963267948966, "y": -1.0}),
        ("θ=2^0.5", {"θ": 2 ** 0.5}),
        ("a=1e-3 b = 2 * 3", {"a": 0.001, "b": 6.0}),
    ],
)
def test_bind_reads_values_as_the_command_line_does(text: str, expected: dict[str, float]) -> None:
    s = Session()
    assert s.bind(text) == expected
    assert s.bindings == expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("x", "error: give values as name=value, as in :bind x=2 y=pi/4\n  x\n  ^"),
        ("pi=3", "error: pi is a constant and cannot be bound\n  pi=3\n  ^^"),
        ("x=2 sin=1", "error: sin is a function and cannot be bound\n  x=2 sin=1\n      ^^^"),
        ("x=inf", "error: the value of x must be a finite number, not inf"),
        ("x=1 y=2+", "error: the value of y is not a number: unexpected end of the program: expected a"
                     " number, a name or '(' after '+'\n  x=1 y=2+\n          ^"),
        ("x=y", "error: the value of x must be a number or a constant expression, not the name y"
                " (the constants are pi, e, tau)"),
    ],
)
def test_bind_refuses_what_is_not_a_value_and_binds_nothing(text: str, expected: str) -> None:
    s = Session()
    assert _error(s.bind, text) == expected
    assert s.bindings == {}


def test_binding_a_defined_name_is_noted_and_not_used() -> None:
    s = Session()
    s.bind("x=2")
    entered = s.enter("x = 5")
    assert entered.shadowed == ["x"]
    s.enter("x * 2")
    assert s.evaluate().value == 10.0


def test_reset_forgets_everything() -> None:
    s = Session()
    s.enter("q = x + y; q * 2")
    s.bind("x=1")
    s.reset()
    assert (s.listing(), s.bindings, s.names()) == ([], {}, [])
    assert "nothing to evaluate yet" in _error(s.evaluate)


def test_names_are_definitions_inputs_and_bound_names() -> None:
    s = Session()
    s.enter("q = x + y; f = q * z")
    s.bind("w=1")
    assert s.names() == ["q", "f", "x", "y", "z", "w"]


def test_a_long_chain_of_definitions_on_one_line_is_linear() -> None:
    # Each definition checked on its own would lower the program again: 20,000 of them
    # would take minutes. One program checks the whole line.
    s = Session()
    s.enter(";".join(f"a{i} = a{i - 1} * 1.0001" for i in range(1, 20_000)))
    s.bind("a0=1")
    assert s.evaluate().value == pytest.approx(1.0001 ** 19_999)


def test_a_deep_definition_works() -> None:
    s = Session()
    s.enter("d = " + "(" * 50_000 + "x" + ")" * 50_000)
    s.bind("x=3")
    assert s.evaluate().gradient == {"x": 1.0}
