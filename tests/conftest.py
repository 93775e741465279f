"""Shared fixtures: a Hypothesis profile, and two ways to run the command line.

``run_cli`` calls ``gradcli.cli.main`` in-process (fast; standard output is not a
terminal, so tables are plain). ``run_exe`` runs the installed ``gradcli`` entry
point in a subprocess, as a user's shell does.
"""

from __future__ import annotations

import io
import os
import shutil
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest
from hypothesis import HealthCheck, settings

settings.register_profile(
    "default", max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow]
)
settings.register_profile(
    "thorough", max_examples=2000, deadline=None, suppress_health_check=[HealthCheck.too_slow]
)
# CI (CI=true) draws the same examples every run, so a landing never hinges on luck;
# runs elsewhere draw fresh ones and keep finding new cases.
settings.register_profile(
    "ci", max_examples=60, deadline=None, derandomize=True,
    suppress_health_check=[HealthCheck.too_slow],
)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci" if os.environ.get("CI") else "default"))

REPO = Path(__file__).resolve().parent.parent

CliResult = tuple[int, str, str]

#: Options after which standard output is JSON (or JSON Lines).
JSON_FLAGS = {"--json", "--batch", "--grid"}


def _check_json(args: tuple[str, ...], out: str) -> None:
    """Every JSON output the suite produces goes through a strict RFC 8259 reader."""
    from strict_json import strict_lines

    if JSON_FLAGS & set(args) and "csv" not in args and "--help" not in args and out.strip():
        strict_lines(out)


def gradcli_executable() -> str:
    """The installed entry point: beside this Python first, then on PATH."""
    beside = Path(sys.executable).parent / "gradcli"
    if beside.exists():
        return str(beside)
    found = shutil.which("gradcli")
    if found is None:  # pragma: no cover - the README's install step puts it there
        pytest.fail("the gradcli entry point is not installed (pip install -e '.[test]')")
    return found


@pytest.fixture
def run_cli(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> Callable[..., CliResult]:
    """Run ``gradcli ARGS`` in-process: returns (exit code, stdout, stderr)."""
    from gradcli.cli import main

    def run(*args: str, stdin: str | bytes | None = None) -> CliResult:
        if stdin is not None:
            data = stdin.encode("utf-8") if isinstance(stdin, str) else stdin
            monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(io.BytesIO(data), encoding="utf-8"))
        capsys.readouterr()
        code = main(list(args))
        out, err = capsys.readouterr()
        _check_json(args, out)
        return code, out, err

    return run


#: A folder whose orjson.py fails to import: on PYTHONPATH, it hides the real one.
NO_ORJSON = str(Path(__file__).resolve().parent / "no_orjson")


@pytest.fixture(params=["orjson", "stdlib"])
def json_library(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    """Run a test twice: with orjson, and with it hidden (the standard library's path).
    In-process, ``import orjson`` fails; the dict returned is the environment that
    hides it from a subprocess too (pass it to ``run_exe(..., env=...)``)."""
    if request.param == "stdlib":
        monkeypatch.setitem(sys.modules, "orjson", None)
        return {"PYTHONPATH": NO_ORJSON}
    pytest.importorskip("orjson")
    return {}


@pytest.fixture
def run_exe() -> Callable[..., CliResult]:
    """Run the installed ``gradcli`` in a subprocess: returns (exit code, stdout, stderr)."""
    exe = gradcli_executable()

    def run(*args: str, stdin: str | bytes | None = None, env: dict[str, str] | None = None) -> CliResult:
        data = stdin.encode("utf-8") if isinstance(stdin, str) else stdin
        proc = subprocess.run(
            [exe, *args],
            input=data if data is not None else b"",
            capture_output=True,
            env={**os.environ, **(env or {})},
            timeout=120,
        )
        out = proc.stdout.decode("utf-8")
        _check_json(args, out)
        return proc.returncode, out, proc.stderr.decode("utf-8")

    return run
