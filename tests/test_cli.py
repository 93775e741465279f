"""The command line: bindings, sources, JSON, tables, help, completion."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path

import pytest
from conftest import REPO, gradcli_executable

import gradcli

SEED = ["(x+y)*z", "-x", "2", "-y", "3", "-z", "-4"]
SEED_JSON = {
    "source": "(x+y)*z", "output": None, "value": -20.0,
    "inputs": {"x": 2.0, "y": 3.0, "z": -4.0},
    "gradient": {"x": -4.0, "y": -4.0, "z": 5.0},
}


@pytest.mark.parametrize(
    "bindings",
    [
        ["-x", "2", "-y", "3", "-z", "-4"],
        ["--x", "2", "--y", "3", "--z", "-4"],
        ["--x=2", "--y=3", "--z=-4"],
        ["-x=2", "-y=3", "-z=-4"],
        ["x=2", "y=3", "z=-4"],
        ["-x", "2", "--y=3", "z=-4"],
        ["-z", "-4", "-y", "3", "-x", "2"],
        ["-x", "4/2", "-y", "3", "-z", "-2^2"],
        ["-x", "2", "-y", "3", "-z", " -4"],
    ],
)
def test_every_binding_form_gives_the_same_answer(run_cli, bindings: list[str]) -> None:
    code, out, err = run_cli("eval", "(x+y)*z", *bindings, "--json")
    assert (code, err) == (0, "")
    assert json.loads(out) == SEED_JSON


def test_bindings_may_come_before_the_source(run_cli) -> None:
    code, out, _ = run_cli("eval", "-x", "2", "-y", "3", "-z", "-4", "(x+y)*z", "--json")
    assert code == 0
    assert json.loads(out) == SEED_JSON


def test_a_binding_may_be_a_constant_expression(run_cli) -> None:
    code, out, _ = run_cli("eval", "sin(x)", "-x", "pi/2", "--json")
    assert code == 0
    assert json.loads(out)["value"] == 1.0


def test_a_program_may_start_with_a_minus_sign(run_cli) -> None:
    code, out, _ = run_cli("eval", "-x^2", "-x", "3", "--json")
    assert code == 0
    assert json.loads(out)["gradient"] == {"x": -6.0}


def test_source_from_standard_input(run_cli) -> None:
    code, out, _ = run_cli("eval", "-", "-x", "2", "-y", "3", "-z", "-4", "--json", stdin="(x+y)*z\n")
    assert code == 0
    assert json.loads(out)["value"] == -20.0


def test_source_from_a_file(run_cli, tmp_path: Path) -> None:
    path = tmp_path / "neuron.grad"
    path.write_text("# a neuron\nq = x + y\nf = q * z\n", encoding="utf-8")
    code, out, _ = run_cli("eval", "--file", str(path), "-x", "2", "y=3", "--z=-4", "--json")
    assert code == 0
    assert json.loads(out)["output"] == "f"
    assert json.loads(out)["source"] == path.read_text(encoding="utf-8")


def test_json_is_exactly_the_spec_shape_in_first_appearance_order(run_cli) -> None:
    code, out, _ = run_cli("eval", *SEED, "--json")
    assert code == 0
    assert out == (
        '{"source": "(x+y)*z", "output": null, "value": -20.0, '
        '"inputs": {"x": 2.0, "y": 3.0, "z": -4.0}, '
        '"gradient": {"x": -4.0, "y": -4.0, "z": 5.0}}\n'
    )


def test_wrt_picks_names_in_the_order_given(run_cli) -> None:
    code, out, _ = run_cli("eval", "q = x + y; f = q * z", "-x", "2", "-y", "3", "-z", "-4",
                           "--wrt", "z,q", "--json")
    assert code == 0
    assert list(json.loads(out)["gradient"].items()) == [("z", 5.0), ("q", -4.0)]


def test_output_picks_a_statement(run_cli) -> None:
    code, out, _ = run_cli("eval", "q = x + y; f = q * z", "-x", "2", "-y", "3", "-z", "-4",
                           "--output", "q", "--json")
    assert code == 0
    data = json.loads(out)
    assert (data["output"], data["value"]) == ("q", 5.0)


def test_trace_json_adds_the_nodes_and_edges(run_cli) -> None:
    code, out, _ = run_cli("trace", "q = x + y; f = q * z", "-x", "2", "-y", "3", "-z", "-4", "--json")
    assert code == 0
    data = json.loads(out)
    assert list(data) == ["source", "output", "value", "inputs", "gradient", "nodes", "edges"]
    assert data["nodes"][2] == {
        "id": 2, "op": "add", "label": "q", "inputs": [0, 1], "value": 5.0,
        "local_grads": [1.0, 1.0], "grad": -4.0,
    }
    assert [n["label"] for n in data["nodes"]] == ["x", "y", "q", "z", "f"]


def test_the_piped_table_is_plain_ascii_with_every_number(run_cli) -> None:
    code, out, _ = run_cli("eval", *SEED)
    assert code == 0
    assert out.isascii() or set(out) - set(map(chr, range(128))) <= {"∂"}
    assert "\x1b[" not in out
    rows = [line for line in out.splitlines() if line.startswith("| ")]
    assert [r.split("|")[1].strip() for r in rows] == ["name", "f (output)", "x", "y", "z"]
    assert [r.split("|")[3].strip() for r in rows[2:]] == ["-4", "-4", "5"]


def test_the_trace_table_has_a_row_per_node(run_cli) -> None:
    code, out, _ = run_cli("trace", "q = x + y; f = q * z", "-x", "2", "-y", "3", "-z", "-4")
    assert code == 0
    rows = [line.split("|") for line in out.splitlines() if line.startswith("| ")]
    assert [r[2].strip() for r in rows[1:]] == ["x", "y", "q", "z", "f"]
    assert rows[3][6].strip() == "1, 1"  # ∂q/∂x, ∂q/∂y
    assert rows[5][7].strip() == "1"  # ∂f/∂f


def test_precision_sets_significant_digits_of_the_table_only(run_cli) -> None:
    _, out, _ = run_cli("eval", "x/3", "-x", "1", "--precision", "3")
    assert "0.333" in out and "0.3333" not in out
    _, out, _ = run_cli("eval", "x/3", "-x", "1", "--precision", "3", "--json")
    assert json.loads(out)["value"] == 1 / 3


def test_a_zero_gradient_is_never_shown_as_minus_zero(run_cli) -> None:
    _, out, _ = run_cli("eval", "-0*x", "-x", "1")
    cells = [c.strip() for line in out.splitlines()[1:] for c in line.split("|")]
    assert "0" in cells
    assert not any(c.startswith("-0") for c in cells)


def test_version_and_help(run_cli) -> None:
    code, out, _ = run_cli("--version")
    assert (code, out) == (0, f"gradcli {gradcli.__version__}\n")
    code, out, _ = run_cli("--help")
    assert code == 0
    for command in ("eval", "trace", "completion"):
        assert command in out
    code, out, _ = run_cli("eval", "--help")
    assert code == 0 and "--json" in out and "--wrt" in out


def test_a_bad_option_value_is_a_usage_error(run_cli) -> None:
    code, _, err = run_cli("eval", "x", "-x", "1", "--precision", "0")
    assert code == 2
    assert err.startswith("error:")


def test_an_unknown_command_is_a_usage_error(run_cli) -> None:
    code, _, err = run_cli("evaluate", "x")
    assert code == 2
    assert err.startswith("error: No such command 'evaluate'")


# --- the installed entry point, as a shell runs it ---------------------------------


def test_the_installed_command_prints_the_seed_answer(run_exe) -> None:
    code, out, err = run_exe("eval", *SEED, "--json")
    assert (code, err) == (0, "")
    assert json.loads(out) == SEED_JSON


@pytest.mark.skipif(shutil.which("jq") is None, reason="jq is not installed")
def test_the_json_pipes_into_jq() -> None:
    exe = gradcli_executable()
    pipeline = f"'{exe}' eval '(x+y)*z' -x 2 -y 3 -z -4 --json | jq .gradient.z"
    out = subprocess.run(["bash", "-c", pipeline], capture_output=True, text=True, check=True).stdout
    # gradcli writes 5.0; jq 1.7 and later print it as written, jq 1.6 as 5.
    assert out in ("5.0\n", "5\n")


def test_the_installed_command_reads_standard_input(run_exe) -> None:
    code, out, _ = run_exe("trace", "-", "-x", "3", "--json", stdin="x*x")
    assert code == 0
    assert json.loads(out)["gradient"] == {"x": 6.0}


def test_the_installed_command_reports_errors_without_a_traceback(run_exe) -> None:
    code, out, err = run_exe("eval", "log(x-3)", "-x", "1")
    assert (code, out) == (1, "")
    assert err == (
        "error: log(-2) is outside the domain of log(x) (x > 0)\n"
        "  log(x-3)\n"
        "  ^^^^^^^^\n"
        "  in the forward pass, at node 3\n"
    )
    assert "Traceback" not in err


def test_python_dash_m_runs_the_cli(run_exe) -> None:
    import sys

    proc = subprocess.run([sys.executable, "-m", "gradcli", "eval", *SEED, "--json"],
                          capture_output=True, text=True)
    assert proc.returncode == 0
    assert json.loads(proc.stdout) == SEED_JSON


# --- completion -------------------------------------------------------------------------


@pytest.mark.parametrize("shell", ["bash", "zsh", "fish"])
def test_completion_scripts_in_the_repo_match_what_the_cli_generates(run_cli, shell: str) -> None:
    code, out, _ = run_cli("completion", shell)
    assert code == 0
    shipped = (REPO / "completions" / f"gradcli.{shell}").read_text(encoding="utf-8")
    assert out == shipped, f"completions/gradcli.{shell} is stale: run gradcli completion {shell}"


def _bash_complete(line: str) -> list[str]:
    """Source the shipped bash script in a real bash and ask it to complete ``line``."""
    exe_dir = str(Path(gradcli_executable()).parent)
    script = REPO / "completions" / "gradcli.bash"
    program = (
        f"source '{script}'\n"
        "COMP_LINE=$1; COMP_POINT=${#COMP_LINE}\n"
        "_gradcli_completion gradcli 2>/dev/null\n"
        'printf "%s\\n" "${COMPREPLY[@]}"\n'
    )
    env = {**os.environ, "PATH": exe_dir + os.pathsep + os.environ.get("PATH", "")}
    proc = subprocess.run(["bash", "-c", program, "bash", line], capture_output=True, text=True,
                          env=env, timeout=60)
    return [reply for reply in proc.stdout.splitlines() if reply]


@pytest.mark.skipif(shutil.which("bash") is None, reason="bash is not installed")
def test_bash_completion_completes_commands_options_and_functions() -> None:
    # More, through a terminal and in zsh and fish: test_completion.py.
    assert "eval" in _bash_complete("gradcli ev")
    assert "trace" in _bash_complete("gradcli tr")
    assert "--json" in _bash_complete("gradcli eval x --js")
    assert _bash_complete("gradcli eval tanh") == ["tanh\\("]  # escaped for the shell
    assert "2*sigmoid\\(" in _bash_complete("gradcli eval 2*sigm")
    assert _bash_complete("gradcli eval 'tanh") == ["tanh(", "tanh( "]  # the quote stays open


def test_a_reader_that_stops_early_is_not_an_error(tmp_path: Path) -> None:
    # `gradcli ... | head -1`: the pipe closes mid-write; no message, exit 0.
    program = tmp_path / "long.grad"
    program.write_text("tanh(" * 20000 + "x" + ")" * 20000, encoding="utf-8")
    exe = gradcli_executable()
    script = f"'{exe}' trace --file '{program}' -x 0.5 | head -1 >/dev/null; echo ${{PIPESTATUS[0]}}"
    proc = subprocess.run(["bash", "-c", script], capture_output=True, text=True, timeout=120)
    assert proc.stdout.strip() == "0"
    assert proc.stderr == ""


def test_a_100000_row_trace_table_prints_in_seconds(run_cli) -> None:
    source = "tanh(" * 100_000 + "x" + ")" * 100_000
    code, out, _ = run_cli("trace", source, "-x", "0.5")
    assert code == 0
    lines = out.splitlines()
    assert len(lines) == 100_001 + 5  # title, top, header, rule, rows, bottom
    assert lines[-2].startswith("| 100000 |")
