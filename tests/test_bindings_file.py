"""--bindings FILE: a JSON object of bindings on every command that takes bindings,
overridden by the command line's, read as the command line reads a value."""

from __future__ import annotations

import json
from pathlib import Path

import pytest


def write(tmp_path: Path, text: str) -> str:
    path = tmp_path / "b.json"
    path.write_text(text, encoding="utf-8")
    return str(path)


@pytest.mark.parametrize("command", ["eval", "trace", "check", "descend"])
def test_every_program_command_reads_bindings_from_a_file(run_cli, tmp_path: Path, command: str) -> None:
    path = write(tmp_path, '{"x": 2, "y": 3}')
    from_file = run_cli(command, "x*y", "--bindings", path, "--json")
    on_line = run_cli(command, "x*y", "-x", "2", "-y", "3", "--json")
    assert from_file[0] == on_line[0] == 0
    assert json.loads(from_file[1]) == json.loads(on_line[1])


def test_graph_reads_bindings_from_a_file(run_cli, tmp_path: Path) -> None:
    path = write(tmp_path, '{"x": 2, "y": 3}')
    assert run_cli("graph", "x*y", "--bindings", path)[1] == run_cli("graph", "x*y", "-x", "2", "-y", "3")[1]


def test_the_command_line_overrides_the_file(run_cli, tmp_path: Path) -> None:
    path = write(tmp_path, '{"x": 2, "y": 3}')
    code, out, _ = run_cli("eval", "x*y", "--bindings", path, "y=10", "--json")
    assert code == 0
    assert json.loads(out)["inputs"] == {"x": 2.0, "y": 10.0}


def test_a_batch_takes_the_file_as_defaults_a_row_overrides(run_cli, tmp_path: Path) -> None:
    path = write(tmp_path, '{"x": 2, "y": 3}')
    code, out, _ = run_cli("eval", "x*y", "--bindings", path, "--batch", "-", stdin='{"x": 5}\n{}\n')
    assert code == 0
    assert [json.loads(line)["value"] for line in out.splitlines()] == [15.0, 6.0]


def test_a_number_is_read_from_its_digits_so_exact_sees_the_decimal(run_cli, tmp_path: Path) -> None:
    path = write(tmp_path, '{"x": 0.1}')
    code, out, _ = run_cli("eval", "x/3", "--bindings", path, "--exact", "--json")
    assert code == 0
    assert json.loads(out)["exact"]["value"] == "1/30"


def test_a_string_value_is_a_constant_expression_as_on_the_command_line(run_cli, tmp_path: Path) -> None:
    path = write(tmp_path, '{"x": "pi/2"}')
    code, out, _ = run_cli("eval", "sin(x)", "--bindings", path, "--json")
    assert code == 0
    assert json.loads(out)["value"] == 1.0


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ('{"x": true}', "the value of x is not a number: true"),
        ('{"x": null}', "the value of x is not a number: null"),
        ('{"x": [1]}', "the value of x is not a number: [1]"),
        ('{"x": NaN}', "NaN is not JSON"),
        ('{"x": 1, "x": 2}', "x is bound twice"),
        ('{"2x": 1}', "'2x' is not a name"),
        ("[1, 2]", "must hold one JSON object of bindings"),
        ("{", "is not JSON"),
        ('{"x": "abc"}', "abc"),
        ('{"x": 1, "z": 2}', "the program does not use z"),
    ],
)
def test_a_bad_file_is_a_usage_error_that_says_why(run_cli, tmp_path: Path, text: str, message: str) -> None:
    path = write(tmp_path, text)
    code, out, err = run_cli("eval", "x*2", "--bindings", path)
    assert code == 2
    assert out == ""
    assert message in err
    assert "Traceback" not in err


def test_a_missing_file_and_a_binary_file_are_refused(run_cli, tmp_path: Path) -> None:
    code, _, err = run_cli("eval", "x", "--bindings", str(tmp_path / "nope.json"))
    assert code == 2 and "no such file" in err
    binary = tmp_path / "bin.json"
    binary.write_bytes(b"\xff\xfe\x00")
    code, _, err = run_cli("eval", "x", "--bindings", str(binary))
    assert code == 2 and "not UTF-8" in err
    code, _, err = run_cli("eval", "x", "--bindings", str(tmp_path))
    assert code == 2 and "directory" in err
