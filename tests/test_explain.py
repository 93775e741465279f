"""`--explain` on eval and trace: the forward pass and the chain rule with the numbers,
after the table on standard output, or as the "explain" key of the JSON object.

Set GRADCLI_UPDATE_GOLDEN=1 to rewrite the golden files after a deliberate change."""

from __future__ import annotations

import json
import math

import pytest
from test_pictures import SEEDS, check_golden

import gradcli
from gradcli.explain import explain, explanation_lines

HEADER = "forward pass, inputs first:"


def _explanation(out: str) -> str:
    """The part of human output that --explain adds: from its header to the end."""
    assert HEADER in out
    return out[out.index(HEADER) :]


@pytest.mark.parametrize("seed", sorted(SEEDS))
def test_explanations_of_the_seed_examples_match_their_golden_files(run_cli, seed: str) -> None:
    code, out, err = run_cli("eval", *SEEDS[seed], "--explain")
    assert (code, err) == (0, "")
    check_golden(f"{seed}.explain.txt", _explanation(out))


def test_the_chain_rule_reads_as_in_the_spec(run_cli) -> None:
    code, out, _ = run_cli("trace", *SEEDS["named"], "--explain")
    assert code == 0
    lines = [line.strip() for line in out.splitlines()]
    # the output's own factor ∂f/∂f = 1 is implicit; each step names the local rule it uses
    assert "∂f/∂q = (-4) = -4   using ∂(u * v)/∂u = v" in lines
    assert "∂f/∂x = ∂f/∂q · ∂q/∂x = (-4)·(1) = -4   using ∂(u + v)/∂u = 1" in lines
    assert not any("∂f/∂f ·" in line for line in lines)
    assert "q = x + y = 5" in lines


def test_the_explanation_follows_the_table(run_cli) -> None:
    code, plain, _ = run_cli("eval", *SEEDS["seed"])
    code, out, _ = run_cli("eval", *SEEDS["seed"], "--explain")
    assert code == 0
    assert out.startswith(plain + "\n" + HEADER)


def test_a_node_with_several_uses_sums_their_contributions(run_cli) -> None:
    code, out, _ = run_cli("eval", "x*x + 2*x", "-x", "3", "--explain")
    assert code == 0
    # x's two uses by n1 are two visibly different terms, each with its own rule
    assert out.rstrip().splitlines()[-1].strip() == (
        "∂f/∂x = ∂f/∂n1 · ∂n1/∂x (as u) + ∂f/∂n1 · ∂n1/∂x (as v) + ∂f/∂n3 · ∂n3/∂x"
        " = (1)·(3) + (1)·(3) + (1)·(2) = 8   using ∂(u * v)/∂u = v; ∂(u * v)/∂v = u"
    )


def test_a_function_step_names_its_rule_and_the_output_factor_stays_implicit(run_cli) -> None:
    code, out, _ = run_cli("eval", "q = exp(x); q + q*x", "-x", "0", "--explain")
    assert code == 0
    lines = [line.strip() for line in out.splitlines()]
    assert any(line.startswith("∂f/∂x = ∂f/∂q · ∂q/∂x") and "∂exp(u)/∂u = exp(u)" in line for line in lines)
    assert not any("∂f/∂f ·" in line for line in lines)


@pytest.mark.parametrize(
    ("op", "position", "count", "rule"),
    [
        ("exp", 0, 1, "∂exp(u)/∂u = exp(u)"),
        ("div", 1, 2, "∂(u / v)/∂v = −u/v²"),
        ("pow", 1, 2, "∂(u ^ v)/∂v = u^v·ln u"),
        ("neg", 0, 1, "∂(-u)/∂u = −1"),
    ],
)
def test_local_rules_are_written_over_u_and_v(op: str, position: int, count: int, rule: str) -> None:
    from gradcli.explain import local_rule
    from gradcli.ops import FUNCTIONS, OPERATORS

    table = OPERATORS.get(op) or FUNCTIONS[op][count]
    assert local_rule(table, position, count) == rule


def test_json_explain_keeps_standard_output_one_json_object(run_cli) -> None:
    for command in ("eval", "trace"):
        code, out, err = run_cli(command, *SEEDS["named"], "--json", "--explain")
        assert (code, err) == (0, "")
        data = json.loads(out)  # one object, nothing after it
        assert data["gradient"] == {"x": -4.0, "y": -4.0, "z": 5.0}
        human = run_cli(command, *SEEDS["named"], "--explain")[1]
        assert data["explain"]["text"] == _explanation(human).rstrip()
        steps = {step["name"]: step for step in data["explain"]["steps"]}
        assert steps["x"] == {
            "node": 0, "name": "x", "grad": -4.0,
            "terms": [{"consumer": 2, "position": 0, "upstream": -4.0, "local": 1.0,
                       "rule": "∂(u + v)/∂u = 1"}],
        }


def test_json_without_explain_has_no_explain_key(run_cli) -> None:
    _, out, _ = run_cli("eval", *SEEDS["seed"], "--json")
    assert "explain" not in json.loads(out)


@pytest.mark.parametrize(
    ("source", "point"),
    [
        ("x*x + 2*x", {"x": 3}),
        ("a = sin(x)*y; b = a*a + exp(-y); b / (1 + x^2)", {"x": 0.7, "y": -1.3}),
        ("max(x, y) * min(x, y) + hypot(x, y)", {"x": 2, "y": 2}),
        ("0*sqrt(x) + x", {"x": 0}),
    ],
)
def test_each_step_adds_up_to_the_reported_gradient(source: str, point: dict[str, float]) -> None:
    result = gradcli.evaluate(source, point)
    ex = explain(result)
    for step in ex.steps:
        if not step.terms:  # the output's own step
            assert step.grad == 1.0
            continue
        total = sum(t.upstream * t.local for t in step.terms if t.upstream)  # type: ignore[operator]
        assert math.isclose(total, step.grad, rel_tol=1e-12, abs_tol=1e-15), step.name
    assert {s.name: s.grad for s in ex.steps if s.name in result.gradient} == result.gradient


def test_unnamed_nodes_avoid_names_the_program_uses() -> None:
    result = gradcli.evaluate("n2 * (n2 + 1)", n2=3)
    lines = explanation_lines(result)
    assert "  t2 = n2 + 1 = 4" in lines


def test_a_program_that_is_one_name_is_explained(run_cli) -> None:
    code, out, _ = run_cli("eval", "x", "-x", "2", "--explain")
    assert code == 0
    assert _explanation(out).splitlines()[1:] == [
        "  f = x = 2",
        "backward pass, the chain rule from f back to the inputs:",
        "  ∂f/∂f = 1",
    ]


@pytest.mark.slow
def test_explain_goes_through_a_100000_deep_chain(run_cli) -> None:
    depth = 100_000
    source = "(" * depth + "x" + " + 1)" * depth
    code, out, _ = run_cli("eval", source, "-x", "1", "--explain")
    assert code == 0
    last = "∂f/∂x = ∂f/∂n2 · ∂n2/∂x = (1)·(1) = 1   using ∂(u + v)/∂u = 1"  # as for a chain of two
    assert out.rstrip().splitlines()[-1].strip() == last
