"""Words that look like bindings but are not: a mistyped option, -h, a program that
starts with a minus sign."""

from __future__ import annotations

import pytest


@pytest.mark.parametrize(
    ("args", "option"),
    [
        (["eval", "x*2", "-x", "3", "--jsn"], "json"),
        (["eval", "x*2", "-x", "3", "--precison", "3"], "precision"),
        (["eval", "x*2", "-x", "3", "--prec", "3"], "precision"),
        (["eval", "x*2", "-x", "3", "--wrtt", "x"], "wrt"),
        (["trace", "x*2", "-x", "3", "--explian"], "explain"),
        (["descend", "x^2", "-x", "1", "--stpes", "3"], "steps"),
        (["check", "x^2", "-x", "1", "--tl", "1e-3"], "tol"),
        (["graph", "x^2", "-x", "1", "--fromat", "tree"], "format"),
    ],
)
def test_a_mistyped_option_says_did_you_mean(run_cli, args: list[str], option: str) -> None:
    code, out, err = run_cli(*args)
    assert code == 2 and out == ""
    assert f"(did you mean --{option}?)" in err.splitlines()[0]


def test_a_long_option_the_program_uses_is_a_binding(run_cli) -> None:
    code, out, _ = run_cli("eval", "jsn*2", "--jsn", "3")
    assert code == 0 and "| jsn " in out


def test_a_word_far_from_every_option_stays_a_binding_error(run_cli) -> None:
    code, _, err = run_cli("eval", "x", "-x", "1", "--foo", "2")
    assert code == 2 and "the program does not use foo" in err and "did you mean" not in err


def test_minus_h_is_help_unless_the_program_uses_h(run_cli) -> None:
    code, out, _ = run_cli("eval", "x*2", "-h")
    assert code == 0 and out.startswith("Usage: gradcli eval")
    code, out, _ = run_cli("eval", "h*2", "-h", "2")
    assert code == 0 and "| h " in out


def test_a_program_read_as_an_option_is_explained(run_cli) -> None:
    code, _, err = run_cli("eval", "-x", "-y", "3")
    assert code == 2
    assert err.startswith("error: -x -y was read as the binding x = -y, but the program does not use x;")
    assert '" -x" or "(-x)"' in err
    code, _, _ = run_cli("eval", " -x", "-x", "3")
    assert code == 0
