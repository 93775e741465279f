"""Ctrl-C, through real processes: exit 130 and one line, never a traceback, whenever it
comes: while Python loads gradcli, while a command parses its options, in the middle
of a long run."""

from __future__ import annotations

import json
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from conftest import gradcli_executable

import gradcli

PACKAGE = str(Path(gradcli.__file__).resolve().parent)

#: A descent that runs for minutes unless interrupted.
LONG = ["descend", "(x-3)^2 + (y+1)^2", "-x", "0", "-y", "0", "--lr", "1e-12", "--steps", "10000000",
        "--tol", "0"]
#: What Ctrl-C prints: one line (a descent names the step it stopped at).
ONE_LINE = re.compile(
    r"error: interrupted( at step [0-9,]+ of 10,000,000: the point shown is the last good one)?\n"
)


def _interrupt(args: list[str], delay: float) -> tuple[int, str]:
    proc = subprocess.Popen([gradcli_executable(), *args], stdin=subprocess.DEVNULL,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    time.sleep(delay)
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=60)
    return proc.returncode, err.decode("utf-8", "replace")


#: The line of gradcli/cli.py that installs the Ctrl-C guard.
GUARD_LINE = next(
    number
    for number, line in enumerate((Path(PACKAGE) / "cli.py").read_text().splitlines(), 1)
    if "signal.signal(signal.SIGINT, _interrupted_while_loading)" in line
)


def _frames_after_the_guard(err: str) -> list[tuple[str, int]]:
    """The traceback's gradcli frames that ran with the guard in place.

    A Ctrl-C that arrives while Python is still starting is raised at the next
    bytecode Python runs, which may be the first lines of gradcli/__init__.py or of
    gradcli/cli.py, before the guard exists: those frames are Python's start-up, not
    a gradcli code path. Any other gradcli frame is a bug."""
    frames = []
    for name, number in re.findall(r'File "([^"]+)", line (\d+)', err):
        path = Path(name).resolve()
        if not str(path).startswith(PACKAGE):
            continue
        if path.name == "__init__.py" and path.parent == Path(PACKAGE):
            continue
        if path.name == "cli.py" and int(number) <= GUARD_LINE:
            continue
        frames.append((name, int(number)))
    return frames


@pytest.mark.parametrize("delay", [0, 0.002, 0.005, 0.01, 0.02, 0.03, 0.05, 0.08, 0.12, 0.2])
@pytest.mark.parametrize(
    "args", [["eval", "(x+y)*z", "-x", "2", "-y", "3", "-z", "-4"], LONG], ids=["eval", "descend"]
)
def test_ctrl_c_at_start_up_never_shows_a_traceback_from_gradcli(args: list[str], delay: float) -> None:
    code, err = _interrupt(args, delay)
    # Once the guard is in place, Ctrl-C is exit 130 and one line. Before that, Python
    # itself is starting (its site module, the entry script's own `import re`, the
    # first lines of gradcli before the guard): a signal there is Python's to report.
    assert not _frames_after_the_guard(err), err
    # Python's own report names KeyboardInterrupt (with a traceback, or alone when the
    # signal comes while it imports its site module); gradcli's is "error: interrupted".
    if "KeyboardInterrupt" not in err:
        assert code in (0, 130, -signal.SIGINT), (code, err)
        if code == 130:
            assert ONE_LINE.fullmatch(err), err


@pytest.mark.parametrize("delay", [0.3, 0.6, 1.0])
def test_ctrl_c_during_a_long_run_exits_130_with_one_line(delay: float) -> None:
    code, err = _interrupt(LONG, delay)
    assert code == 130
    assert ONE_LINE.fullmatch(err), err


def test_the_package_imports_almost_nothing_before_the_guard() -> None:
    # The guard against Ctrl-C is the first statement of gradcli.cli; what runs before it
    # (the package's __init__) must stay cheap: no typing, no submodule.
    code = (
        "import json, sys; before = set(sys.modules); import gradcli; "
        "print(json.dumps(sorted(set(sys.modules) - before)))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    loaded = json.loads(out)
    assert "typing" not in loaded
    assert [m for m in loaded if m.startswith("gradcli.")] == []


def test_dir_shows_every_public_name_though_check_and_descend_load_lazily() -> None:
    code = "import json, sys, gradcli; print(json.dumps([dir(gradcli), 'gradcli.gradcheck' in sys.modules]))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    names, loaded = json.loads(out)
    assert set(gradcli.__all__) <= set(names)
    assert {"check", "descend", "evaluate", "CheckResult"} <= set(names)
    assert not loaded


@pytest.mark.parametrize("where", ["parse_args", "invoke"])
def test_ctrl_c_while_click_reads_the_arguments_is_the_same_one_line(
    where: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    # On a busy machine Ctrl-C can land while click still parses the arguments, where
    # click itself writes a blank line to standard error before raising Abort.
    from gradcli import cli

    def interrupted(*args: object, **kwargs: object) -> None:
        raise KeyboardInterrupt

    monkeypatch.setattr(cli.click.Command if where == "invoke" else cli.click.Group, where, interrupted)
    assert cli.main(["eval", "x*y", "-x", "2", "-y", "3"]) == 130
    assert capsys.readouterr().err == "error: interrupted\n"


def test_a_ctrl_c_that_lands_where_python_ignores_exceptions_still_stops_the_command() -> None:
    # Ctrl-C 80 ms into `descend` landed in a weakref callback of the import system
    # ("Exception ignored in: <function _get_module_lock.<locals>.cb>"): Python printed it
    # and dropped it, and the 10^7 steps ran on. main() raises it again where it counts.
    code = (
        "import sys, time, weakref\n"
        "from gradcli import cli\n"
        "cli.own_ctrl_c()\n"
        "class A: pass\n"
        "def callback(ref): raise KeyboardInterrupt\n"
        "a = A(); r = weakref.ref(a, callback)\n"
        "try:\n"
        "    del a\n"
        "    end = time.monotonic() + 20\n"
        "    while time.monotonic() < end: pass\n"
        "    print('lost')\n"
        "except KeyboardInterrupt:\n"
        "    print('raised')\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert (done.stdout, done.stderr) == ("raised\n", "")
