"""Numeric options: each value either works quickly or is refused up front with one
`error:` line naming the limit, exit 2, never a traceback and never a run without
end. Ctrl-C in a long descent shows the last good point (exit 130); a huge grid
is a stream the user asked for, in flat memory, that Ctrl-C and `| head` end."""

from __future__ import annotations

import json
import signal
import subprocess
import time
from pathlib import Path

import pytest
from conftest import gradcli_executable

import gradcli
from gradcli.descent import MAX_STEPS, DescentInterrupted, descend

#: Values that once hung, were read as other numbers, or raised an internal error.
AWKWARD = ["999999999999999999999999999999", "9" * 5000, "-1", "0", "nan", "inf", "-inf", "1e400",
           "1_000", "１０", "١٢", "1e3", "", " ", "0x10", "+5", "2.5"]

#: (command with its program and point, option)
OPTIONS = [
    (["descend", "x^2", "-x", "1"], "--steps"),
    (["descend", "x^2", "-x", "1"], "--history"),
    (["descend", "x^2", "-x", "1"], "--lr"),
    (["descend", "x^2", "-x", "1"], "--tol"),
    (["descend", "x^2", "-x", "1", "--method", "momentum"], "--momentum"),
    (["descend", "x^2", "-x", "1", "--method", "adam"], "--beta1"),
    (["descend", "x^2", "-x", "1", "--method", "adam"], "--beta2"),
    (["descend", "x^2", "-x", "1", "--method", "adam"], "--adam-eps"),
    (["descend", "x^2", "-x", "1"], "--precision"),
    (["check", "x^2", "-x", "1"], "--eps"),
    (["check", "x^2", "-x", "1"], "--tol"),
    (["check", "x^2", "-x", "1"], "--precision"),
    (["eval", "x^2", "-x", "1"], "--precision"),
    (["trace", "x^2", "-x", "1"], "--precision"),
    (["graph", "x^2", "-x", "1"], "--precision"),
]


@pytest.mark.parametrize("value", AWKWARD)
@pytest.mark.parametrize(("command", "option"), OPTIONS, ids=lambda v: v if isinstance(v, str) else v[0])
def test_every_numeric_option_works_quickly_or_is_refused_in_one_line(run_cli, command, option, value):
    started = time.perf_counter()
    code, _, err = run_cli(*command, option, value)
    assert time.perf_counter() - started < 10
    assert "Traceback" not in err and "internal error" not in err
    if code == 2:
        assert err.startswith("error: ") and "--" in err.splitlines()[0], err
    else:  # worked: 0, or a check/descend verdict
        assert code in (0, 1, 3, 4), (code, err)
    if value in ("nan", "inf", "-inf", "1e400", "1_000", "１０", "١٢", "0x10", "", " "):
        assert code == 2, (option, value, err)  # never read as some other number


@pytest.mark.parametrize("value", ["999999999999999999999999999999", "9" * 5000, str(MAX_STEPS + 1)])
def test_absurd_steps_are_refused_up_front_naming_the_limit(run_cli, value) -> None:
    started = time.perf_counter()
    code, out, err = run_cli("descend", "x", "-x", "1", "--steps", value)
    assert time.perf_counter() - started < 5
    assert (code, out) == (2, "")
    assert err.startswith("error: --steps ") and "at most 10,000,000 steps (the limit)" in err
    with pytest.raises(gradcli.GradError, match="at most 10,000,000 steps"):
        descend("x", x=1, steps=10**30)
    with pytest.raises(gradcli.GradError, match="at most 10,000,000 steps"):
        descend("x", x=1, steps=10**5000)  # no digits made for the message


def test_the_command_line_refuses_steps_at_the_librarys_limit() -> None:
    from gradcli.commands import descend_command

    (steps,) = [p for p in descend_command.params if p.name == "steps"]
    assert steps.type.maximum == MAX_STEPS


def test_counts_take_the_digits_0_to_9_only_and_say_how_to_write_them(run_cli) -> None:
    assert run_cli("descend", "x^2", "-x", "1", "--steps", "1_000")[2] == (
        "error: --steps 1_000: not a whole number written with the digits 0-9 (write 1000)\n"
    )
    assert run_cli("eval", "x", "-x", "1", "--precision", "１０")[2] == (
        "error: --precision １０: not a whole number written with the digits 0-9 (write 10)\n"
    )
    assert run_cli("eval", "x", "-x", "1", "--precision", "18")[2] == (
        "error: --precision 18: at most 17 (the limit)\n"
    )


def test_real_options_read_as_bindings_do(run_cli) -> None:
    assert run_cli("check", "x^2", "-x", "1", "--eps", "1_0")[2] == (
        "error: the value of --eps is not a number: 1_0 (write 10, without '_')\n"
    )
    assert run_cli("descend", "x^2", "-x", "1", "--lr", "nan")[2] == (
        "error: the value of --lr must be a finite number, not nan\n"
    )
    code, out, _ = run_cli("descend", "x^2", "-x", "1", "--lr", "1/4", "--json")
    assert code == 0 and json.loads(out)["lr"] == 0.25


def test_ctrl_c_in_the_python_api_is_a_keyboard_interrupt_carrying_the_last_good_point() -> None:
    calls = 0

    def progress(step: int, value: float, norm: float) -> None:
        nonlocal calls
        calls += 1
        if calls == 500:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt) as info:
        descend("x", x=1, steps=MAX_STEPS, progress=progress)
    assert isinstance(info.value, DescentInterrupted)
    result = info.value.result
    assert result.steps == 499 and result.inputs["x"] == pytest.approx(1 - 499 * 0.01)
    assert result.value == result.inputs["x"] and result.history[-1].step == 499
    assert result.error is not None and result.error.kind == "interrupted"
    assert result.error.exit_code == 130


def _interrupt_after(args: list[str], seconds: float) -> tuple[int, str, str]:
    proc = subprocess.Popen([gradcli_executable(), *args], stdin=subprocess.DEVNULL,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        time.sleep(seconds)
        proc.send_signal(signal.SIGINT)
        out, err = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    return proc.returncode, out.decode(), err.decode()


@pytest.mark.parametrize("as_json", [False, True], ids=["table", "json"])
def test_ctrl_c_during_a_descent_prints_the_last_good_point_and_exits_130(as_json: bool) -> None:
    args = ["descend", "x", "-x", "1", "--steps", str(MAX_STEPS), *(["--json"] if as_json else [])]
    code, out, err = _interrupt_after(args, 2.0)
    assert code == 130, err
    assert err.startswith("error: interrupted at step ") and err.count("\n") == 1, err
    if as_json:
        data = json.loads(out)
        assert data["error"]["kind"] == "interrupted" and data["steps"] > 0
        assert data["value"] == data["inputs"]["x"] == data["history"][-1]["value"]
    else:
        assert out.startswith("interrupted at step ") and "the last good point:" in out.splitlines()[0]


def _rss_kib(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    return 0


@pytest.mark.skipif(not Path("/proc/self/status").exists(), reason="reads /proc")
def test_a_grid_of_a_hundred_million_points_streams_in_flat_memory_and_ctrl_c_ends_it() -> None:
    pytest.importorskip("numpy")
    proc = subprocess.Popen([gradcli_executable(), "eval", "x^2", "--grid", "x=1:1:100000000"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        assert proc.stdout is not None
        read = 0
        samples = []
        started = time.monotonic()
        while time.monotonic() - started < 6:
            read += len(proc.stdout.read1(1 << 20))
            if read > 1 << 20 and len(samples) < 20:
                samples.append(_rss_kib(proc.pid))
        proc.send_signal(signal.SIGINT)
        _, err = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert read > 4 << 20  # it streamed megabytes of records
    assert proc.returncode == 130 and err.decode() == "error: interrupted\n"
    assert max(samples) < min(samples) + 64 * 1024, samples  # flat: no growth with the points
