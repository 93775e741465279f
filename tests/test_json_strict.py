"""Strict JSON: no NaN or Infinity, no -0.0, every float in shortest round-trip form.

Every JSON output these tests produce — eval, trace, check, descend and functions,
at ordinary points and at the numeric edges, successes and failures — is read
with :func:`strict_json.strict_loads`, which refuses what Python's lenient
``json.loads`` would let through.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable

import pytest
from hypothesis import given
from strategies import points, programs
from strict_json import NotStrictJSON, strict_lines, strict_loads

import gradcli
from gradcli.cli import cli
from gradcli.render import dumps

CliResult = tuple[int, str, str]

PROGRAMS = [
    ("(x+y)*z", ["-x", "2", "-y", "3", "-z", "-4"]),
    ("1/(1+exp(-(w0*x0+w1*x1+w2)))", ["--w0", "2", "--x0", "-1", "--w1", "-3", "--x1", "-2", "--w2", "-3"]),
    ("q = x + y; f = q * z", ["-x", "2", "-y", "3", "-z", "-4"]),
    ("x*-0", ["-x", "3"]),
    ("-x*0", ["-x", "3"]),
    ("x^2", ["-x", "-3"]),
    ("exp(x)", ["-x", "-1000"]),
    ("x*2", ["-x", "5e-324"]),
    ("x", ["-x", "1e308"]),
    ("x", ["-x", "1e-320"]),
    ("0^0 + x", ["-x", "0"]),
    ("abs(x) + relu(x) + max(x, 0)", ["-x", "0"]),
    ("0*sqrt(x)", ["-x", "0"]),
    ("x^2", ["-x", "0.1"]),
    ("sin(x)/x", ["-x", "1e-300"]),
    ("tanh(x) + sigmoid(x) + softplus(x)", ["-x", "700"]),
    ("log(x, 2)", ["-x", "0.3"]),
    ("θ^2 + 日本", ["--θ", "0.1", "--日本", "1"]),
    ("x^y", ["-x", "0", "-y", "2"]),
    ("x/3", ["-x", "1"]),
    # failures: nothing on standard output
    ("exp(x)", ["-x", "1000"]),
    ("x*1e308 + 1e308*x", ["-x", "0"]),
    ("log(x)", ["-x", "1e-320"]),
    ("sqrt(x)", ["-x", "0"]),
    ("x+", ["-x", "1"]),
    ("x", ["-x", "nan"]),
]


def _outputs(run: Callable[..., CliResult]) -> list[tuple[list[str], int, str]]:
    """Every JSON-printing command over the programs above: (args, exit code, stdout)."""
    runs = []
    for source, bindings in PROGRAMS:
        for command in ("eval", "trace", "check"):
            if command in cli.commands:
                args = [command, source, *bindings, "--json"]
                code, out, _ = run(*args)
                runs.append((args, code, out))
    if "descend" in cli.commands:
        for args in (
            ["descend", "(x-1)^2 + (y+2)^2", "-x", "3", "-y", "0", "--steps", "50", "--json"],
            ["descend", "exp(x)", "-x", "1", "--lr", "1e300", "--steps", "5", "--json"],
            ["descend", "x^2", "-x", "1e200", "--steps", "3", "--json"],
        ):
            code, out, _ = run(*args)
            runs.append((args, code, out))
    if any(p.name == "grid" for p in cli.commands["eval"].params):
        for args in (
            ["eval", "log(x)*y", "--grid", "x=-1:1:5", "--grid", "y=-0.0:2:3"],
            ["eval", "x*-1 + exp(x)", "--grid", "x=-800:800:9"],
            ["eval", "sqrt(x)", "--grid", "x=0:1e-320:3", "--format", "jsonl"],
        ):
            code, out, _ = run(*args)
            runs.append((args, code, out))
    if "functions" in cli.commands:
        code, out, _ = run("functions", "--json")
        runs.append((["functions", "--json"], code, out))
    return runs


def test_every_json_output_is_strict(run_cli: Callable[..., CliResult]) -> None:
    runs = _outputs(run_cli)
    assert len(runs) > 60
    parsed = 0
    for args, code, out in runs:
        assert code in (0, 1, 2, 3, 4), args
        if code == 2 or (code == 1 and args[0] in ("eval", "trace") and "--grid" not in args):
            assert out == "", args  # an error prints nothing on standard output
            continue
        try:
            strict_lines(out)
        except ValueError as exc:
            pytest.fail(f"gradcli {' '.join(args)}: {exc}\n{out[:500]}")
        parsed += 1
    assert parsed > 40


def test_json_values_are_the_exact_floats_of_the_api(run_cli: Callable[..., CliResult]) -> None:
    for source, bindings in PROGRAMS:
        code, out, _ = run_cli("eval", source, *bindings, "--json")
        if code != 0:
            continue
        doc = strict_loads(out)
        names = [b.lstrip("-") for b in bindings[::2]]
        result = gradcli.evaluate(source, dict(zip(names, bindings[1::2], strict=True)))
        assert doc["value"] == result.value
        assert doc["inputs"] == result.inputs
        assert doc["gradient"] == result.gradient


@given(programs(), points())
def test_random_programs_print_strict_json(source: str, point: dict[str, float]) -> None:
    from gradcli.errors import GradError

    try:
        result = gradcli.evaluate(source, point)
    except GradError:
        return
    for doc in (result.to_json(), result.to_json(nodes=True)):
        text = dumps(doc)
        assert strict_loads(text) == json.loads(text)


def test_dumps_refuses_what_json_forbids_and_writes_zero_without_a_sign() -> None:
    for bad in (math.nan, math.inf, -math.inf):
        with pytest.raises(ValueError):
            dumps({"value": bad})
    assert dumps({"value": -0.0, "grads": [-0.0, None, 1.5]}) == '{"value": 0.0, "grads": [0.0, null, 1.5]}'
    assert dumps({"source": "x-0.0", "value": -1.0}) == '{"source": "x-0.0", "value": -1.0}'


@pytest.mark.parametrize(
    "text", ['{"v": NaN}', '{"v": Infinity}', '{"v": -Infinity}', '{"v": -0.0}', '{"v": 0.10000000000000001}',
             '{"a": 1, "a": 2}']
)
def test_the_strict_reader_refuses_lenient_json(text: str) -> None:
    json.loads(text)  # Python's reader lets each of these through
    with pytest.raises(NotStrictJSON):
        strict_loads(text)
