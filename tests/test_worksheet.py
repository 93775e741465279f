"""Worksheets: trace --blank, and check --answers marking a student's gradients."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from gradcli.worksheet import is_right

NEURON = "1/(1+exp(-(w0*x0 + w1*x1 + w2)))"
NEURON_POINT = ("--w0", "2", "--x0", "-1", "--w1", "-3", "--x1", "-2", "--w2", "-3")
TUTORIAL = ("(x+y)*z", "-x", "2", "-y", "3", "-z", "-4")


def _write(tmp_path: Path, name: str, text: str) -> str:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return str(path)


def test_a_blank_trace_has_values_and_no_gradients(run_cli) -> None:
    code, out, _ = run_cli("trace", "q = x + y; f = q * z", "-x", "2", "-y", "3", "-z", "-4", "--blank")
    assert code == 0
    for line in out.splitlines():
        if line.startswith("|  4 |"):
            cells = [c.strip() for c in line.strip("|").split("|")]
            assert cells[4] == "-20" and cells[5] == "" and cells[6] == ""


def test_a_blank_trace_will_not_give_the_answers_away(run_cli) -> None:
    code, _, err = run_cli("trace", "x*y", "-x", "1", "-y", "2", "--blank", "--json")
    assert code == 2 and "--blank" in err


@pytest.mark.parametrize(
    ("answer", "true", "right"),
    [
        ("-0.20", -0.196612, True),
        ("-0.19", -0.196612, False),
        ("-0.2", -0.196612, True),
        ("0.39", 0.393224, True),
        ("3", 5.0, False),
        ("5", 5.0, True),
        ("5.0", 4.96, True),
        ("5.00", 4.96, False),
        ("1e-3", 0.0012, True),
        ("1/3", 1 / 3, True),
        ("1/3", 0.3333, False),
        ("1e-999999999", 0.5, False),  # an exponent past the default decimal context
        ("0.0000", 0.00004, True),
        ("1e999999", 0.5, False),
        ("2e3", 2400.0, True),  # one significant digit: within 500
        # a zero claims no digit past the ones place, whatever its exponent: "0e99" was
        # within 5e98 of every answer, so right for every gradient of every worksheet
        ("0e99", 0.7, False),
        ("0e999999999999", -4.0, False),
        ("0.0000e5", 0.7, False),
        ("0e5", 0.4, True),
        ("-0E+2", -0.3, True),
        ("0e-3", 0.0004, True),
    ],
)
def test_an_answer_is_right_to_the_decimals_written(answer: str, true: float, right: bool) -> None:
    assert is_right(answer, true, None) is right


def test_a_tolerance_overrides_the_decimals() -> None:
    assert is_right("-0.2", -0.196612, 1e-3) is False
    assert is_right("-0.19661", -0.196612, 1e-3) is True


def test_the_tutorials_wrong_claim_is_marked_wrong(run_cli, tmp_path: Path) -> None:
    # The tutorial writes ∂f/∂z = q = 3 at x = 2, y = 3, z = -4; q is 5.
    path = _write(tmp_path, "answers.json", '{"x": -4, "y": -4, "z": 3}')
    code, out, err = run_cli("check", *TUTORIAL, "--answers", path)
    assert code == 3
    assert "wrong" in out and "1 of 3 answers are wrong (z)" in err
    z = next(line for line in out.splitlines() if line.startswith("| z"))
    assert "3" in z and "5" in z and "wrong" in z


def test_the_neurons_rounded_answers_are_right(run_cli, tmp_path: Path) -> None:
    path = _write(tmp_path, "a.json", '{"w0": -0.20, "x0": 0.39, "w1": -0.39, "x1": -0.59, "w2": 0.20}')
    code, out, _ = run_cli("check", NEURON, *NEURON_POINT, "--answers", path, "--json")
    assert code == 0
    obj = json.loads(out)
    assert [m["verdict"] for m in obj["marks"]] == ["right"] * 5
    assert [m["answer"] for m in obj["marks"]] == ["-0.20", "0.39", "-0.39", "-0.59", "0.20"]


def test_a_filled_trace_csv_is_marked_and_gaps_are_not_answered(run_cli, tmp_path: Path) -> None:
    path = _write(tmp_path, "t.csv", "label,grad\nx,-4\ny,\nq,-4\nz,5\n")
    code, out, _ = run_cli("check", "q = x + y; f = q * z", "-x", "2", "-y", "3", "-z", "-4",
                           "--answers", path, "--json")
    assert code == 0  # nothing wrong: y and f are not answered, not wrong
    marks = {m["name"]: m["verdict"] for m in json.loads(out)["marks"]}
    assert marks == {"x": "right", "y": "not answered", "q": "right", "z": "right", "f": "not answered"}


def test_missing_answers_are_listed_as_not_answered(run_cli, tmp_path: Path) -> None:
    path = _write(tmp_path, "a.json", '{"x": -4}')
    code, out, _ = run_cli("check", *TUTORIAL, "--answers", path)
    assert code == 0
    assert "2 not answered" in out


@pytest.mark.parametrize(
    ("name", "text", "says"),
    [
        ("a.txt", "x is -4\n", "label and grad"),
        ("a.json", '{"x": -4, "w": 1}', "no w"),
        ("a.json", '{"x": "minus four"}', "is not a number"),
        ("a.json", '{"x": true}', "is not a number"),
        ("a.json", '{"x": NaN}', "is not a number"),
        ("a.json", '{"x": -4,', "not valid JSON"),
        ("a.json", "[1, 2]", "not a JSON object"),
        ("a.csv", "label,grad\nx,abc\n", "line 2"),
        ("a.csv", "label,grad\nq9,1\n", "no q9"),
        ("a.csv", "name,value\nx,1\n", "label and grad"),
        ("a.json", "", "not a JSON object"),
    ],
)
def test_a_bad_answers_file_is_a_clear_usage_error(
    run_cli, tmp_path: Path, name: str, text: str, says: str
) -> None:
    path = _write(tmp_path, name, text)
    code, _, err = run_cli("check", *TUTORIAL, "--answers", path)
    assert code == 2, err
    assert err.startswith("error: --answers") and says in err
    assert "Traceback" not in err


def test_an_answers_file_that_is_not_there(run_cli, tmp_path: Path) -> None:
    code, _, err = run_cli("check", *TUTORIAL, "--answers", str(tmp_path / "nope.json"))
    assert code == 2 and "no such file" in err


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.text(max_size=80) | st.builds(lambda a, b: f"label,grad\n{a},{b}\n", st.text(max_size=10),
                                         st.text(max_size=10)))
def test_any_answers_file_is_marked_or_refused_never_a_traceback(tmp_path: Path, text: str) -> None:
    import gradcli

    path = tmp_path / "answers"
    path.write_text(text, encoding="utf-8")
    result = gradcli.evaluate("q = x + y; f = q * z", x=2, y=3, z=-4)
    try:
        marking = gradcli.mark_answers(result, str(path))
    except gradcli.GradError as err:
        assert err.exit_code == 2
    else:
        assert all(m.verdict in ("right", "wrong", "not answered") for m in marking.marks)


@pytest.mark.parametrize("option", ["--blank", "--exact"])
def test_a_worksheet_lists_an_unused_input_as_trace_does(run_cli, option: str) -> None:
    point = ["-x", "2", "-y", "3", "-z", "1"]
    code, out, _ = run_cli("trace", "q = x*y; f = q + z", *point, "--output", "q", option)
    assert code == 0
    assert "z (unused)" in out


#: Two sines of long sums: trace cuts their labels to the same 40 characters.
_LONG = "+".join(f"a{k}" for k in range(16))
LONG_SOURCE = f"2*sin({_LONG} + w) + sin({_LONG} + 2*w)"
LONG_POINT = [f"a{k}=0.1" for k in range(16)] + ["w=0.3"]


def test_a_label_that_names_several_nodes_is_refused_and_an_id_column_picks_one(
    run_cli, tmp_path: Path
) -> None:
    # once marked against the first node of that label, the others left out of the marks
    code, out, _ = run_cli("trace", LONG_SOURCE, *LONG_POINT, "--json")
    nodes = json.loads(out)["nodes"]
    sines = [n for n in nodes if n["op"] == "sin"]
    assert len(sines) == 2 and sines[0]["label"] == sines[1]["label"]
    assert sines[0]["grad"] != sines[1]["grad"]
    label = sines[0]["label"]
    sheet = tmp_path / "sheet.csv"
    sheet.write_text(f'label,grad\n"{label}",1\n', encoding="utf-8")
    code, _, err = run_cli("check", LONG_SOURCE, *LONG_POINT, "--answers", str(sheet))
    assert code == 2
    assert f"names the nodes {sines[0]['id']}, {sines[1]['id']}" in err and "id column" in err
    sheet.write_text(f'id,label,grad\n{sines[0]["id"]},"{label}",1\n{sines[1]["id"]},,{sines[1]["grad"]:.6f}\n',
                     encoding="utf-8")
    code, out, _ = run_cli("check", LONG_SOURCE, *LONG_POINT, "--answers", str(sheet), "--json")
    marks = {m["name"]: m for m in json.loads(out)["marks"]}
    first, second = (marks[f"{label} (id {n['id']})"] for n in sines)
    assert first["true"] == sines[0]["grad"] and first["answer"] == "1"
    assert second["true"] == sines[1]["grad"] and second["verdict"] == "right"
    assert len(marks) == sum(1 for n in nodes if n["grad"] is not None)  # every node is listed
    sheet.write_text(f'id,label,grad\n{sines[0]["id"]},w,1\n', encoding="utf-8")
    code, _, err = run_cli("check", LONG_SOURCE, *LONG_POINT, "--answers", str(sheet))
    assert code == 2 and f"node {sines[0]['id']} is labelled" in err


@pytest.mark.parametrize(
    ("name", "text", "message"),
    [
        ("a.json", '{"x": -4, "x": -3}', "x is answered twice"),  # JSON kept the last one
        ("a.csv", "label,grad\nz,5\nz,3\n", "line 3: z is answered twice (also line 2)"),
        ("b.csv", "id,label,grad\n3,,5\n,z,3\n", "line 3: z is answered twice (also line 2)"),
        ("c.csv", "id,label,grad\nthree,,5\n", "the id 'three' is not a node number"),
        ("d.csv", "id,label,grad\n99,,5\n", "no node 99 of the trace has a gradient"),
    ],
)
def test_an_answer_given_twice_or_to_no_node_is_refused(
    run_cli, tmp_path: Path, name: str, text: str, message: str
) -> None:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    code, out, err = run_cli("check", *TUTORIAL, "--answers", str(path))
    assert code == 2 and out == ""
    assert message in err and len(err.splitlines()) == 1


def test_an_endless_answers_file_is_refused_by_its_size(run_cli) -> None:
    # read whole before: /dev/zero until memory ran out
    code, _, err = run_cli("check", *TUTORIAL, "--answers", "/dev/zero")
    assert code == 2 and "larger than 16 MiB" in err


@pytest.mark.parametrize("empty", ["", "—"])
def test_a_filled_trace_may_copy_the_rows_that_have_no_gradient(run_cli, tmp_path: Path, empty: str) -> None:
    # a constant and a branch not taken are rows of the trace (its gradient shown as —):
    # once "the program has no 2", though trace --blank had just printed that row
    source, point = "if(x > 0, log(x), 0) + 2*x", ["-x", "-1"]
    sheet = tmp_path / "sheet.csv"
    sheet.write_text(f"label,grad\nx,2\n0,{empty}\nlog(x),{empty}\n2,{empty}\n", encoding="utf-8")
    code, out, err = run_cli("check", source, *point, "--answers", str(sheet), "--json")
    assert code == 0, err
    marks = json.loads(out)["marks"]
    assert [m["name"] for m in marks if m["verdict"] != "not answered"] == ["x"]
    assert all(m["name"] not in ("0", "2", "log(x)") for m in marks)
    sheet.write_text("label,grad\nx,2\n2,0\n", encoding="utf-8")
    code, _, err = run_cli("check", source, *point, "--answers", str(sheet))
    assert code == 2 and "line 3: 2 has no gradient to answer" in err
    sheet.write_text("id,label,grad\n3,,0\n", encoding="utf-8")  # log(x), by its id
    code, _, err = run_cli("check", source, *point, "--answers", str(sheet))
    assert code == 2 and "log(x) has no gradient to answer" in err


def test_a_negative_tolerance_is_refused_as_for_finite_differences(run_cli, tmp_path: Path) -> None:
    # every answer was marked wrong, the right ones too ("0 right ... within tol -1")
    path = tmp_path / "a.json"
    path.write_text('{"x": -4, "y": -4, "z": 5}', encoding="utf-8")
    code, out, err = run_cli("check", *TUTORIAL, "--answers", str(path), "--tol", "-1")
    assert (code, out) == (2, "")
    assert err == "error: --tol -1.0: the tolerance must be a number ≥ 0\n"
    _, _, fd_err = run_cli("check", *TUTORIAL, "--tol", "-1")
    assert err == fd_err


def test_answers_nested_too_deeply_are_one_error_line_not_an_internal_error(run_cli, tmp_path) -> None:
    # JSON's parser recursed past Python's limit: exit 70, "internal error"
    path = tmp_path / "answers.json"
    path.write_text('{"x": ' + "[" * 100_000 + "]" * 100_000 + "}", encoding="utf-8")
    code, out, err = run_cli("check", *TUTORIAL, "--answers", str(path))
    assert (code, out) == (2, "")
    assert err.startswith("error: --answers ") and err.endswith(" is nested too deeply to be answers\n")
    assert err.count("\n") == 1
