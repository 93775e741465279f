"""The inputs a command works on (hessian --wrt, descend --wrt, fit --params, check
--wrt) are chosen by one check, gradcli.bindings.chosen_inputs: a named statement,
a name the program does not have and a name given twice are refused in the same
words by every command, each a usage error (exit 2) that lists the inputs."""

from __future__ import annotations

from pathlib import Path

import pytest

import gradcli
from gradcli.bindings import chosen_inputs
from gradcli.graph import lower
from gradcli.parse import parse

PROGRAM = "q = x*y; q + x"
COMMANDS = {
    "hessian": ["hessian", PROGRAM, "-x", "1", "-y", "2", "--wrt"],
    "descend": ["descend", PROGRAM, "-x", "1", "-y", "2", "--steps", "1", "--wrt"],
    "check": ["check", PROGRAM, "-x", "1", "-y", "2", "--wrt"],
    "fit": ["fit", "q = x*y; (q - t)^2", "--data", "DATA", "-x", "1", "-y", "2", "--params"],
}
REFUSALS = {
    "computed": ("q", "{option} q: q is computed by the program, not an input; its inputs are x, y"),
    "unknown": ("z", "{option} z: the program has no input z; its inputs are x, y"),
    "twice": ("x,x", "{option} x: x is named twice"),
}


@pytest.mark.parametrize("refusal", REFUSALS)
@pytest.mark.parametrize("command", COMMANDS)
def test_every_command_refuses_the_same_names_in_the_same_words(
    run_cli, tmp_path: Path, command: str, refusal: str
) -> None:
    data = tmp_path / "d.csv"
    data.write_text("t\n1\n2\n", encoding="utf-8")
    args = [str(data) if a == "DATA" else a for a in COMMANDS[command]]
    names, message = REFUSALS[refusal]
    option = args[-1]
    code, out, err = run_cli(*args, names)
    assert (code, out) == (2, "")
    want = message.format(option=option).replace("x, y", "x, y, t" if command == "fit" else "x, y")
    assert err == f"error: {want}\n"


@pytest.mark.parametrize(
    "call",
    [
        lambda wrt: gradcli.hessian(PROGRAM, {"x": 1, "y": 2}, wrt=wrt),
        lambda wrt: gradcli.descend(PROGRAM, x=1, y=2, steps=1, wrt=wrt),
        lambda wrt: gradcli.check(PROGRAM, {"x": 1, "y": 2}, wrt=wrt),
    ],
    ids=["hessian", "descend", "check"],
)
def test_the_python_api_refuses_them_too_and_an_empty_choice(call) -> None:
    for names, message in REFUSALS.values():
        with pytest.raises(gradcli.GradError) as info:
            call(names.split(","))
        assert info.value.kind == "usage" and info.value.message == message.format(option="--wrt")
    with pytest.raises(gradcli.GradError) as info:
        call([])
    assert info.value.message == "--wrt: name at least one input; the program's inputs are x, y"


def test_fit_refuses_no_parameters_in_the_same_words() -> None:
    with pytest.raises(gradcli.GradError) as info:
        gradcli.fit("(w*x - y)^2", {"x": [1.0], "y": [2.0]}, params=[], w=0)
    assert info.value.message == "--params: name at least one input; the program's inputs are w, x, y"


def test_the_default_is_every_input_and_a_program_without_inputs_is_refused() -> None:
    graph = lower(parse("q = b*a; q + c"))
    assert chosen_inputs(graph, None) == ["b", "a", "c"]
    assert chosen_inputs(graph, ["c", "b"]) == ["c", "b"]
    with pytest.raises(gradcli.GradError, match="the program has no inputs"):
        chosen_inputs(lower(parse("2 + 3")), None)


def test_a_huge_name_is_shortened_in_the_message() -> None:
    name = "v" * 5000
    with pytest.raises(gradcli.GradError) as info:
        chosen_inputs(lower(parse("x + 1")), [name])
    assert len(info.value.message) < 200
