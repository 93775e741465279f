"""graph --out: the format comes from the file name (or is refused), Graphviz renders
svg, png and pdf within bounds, and its dot never outlives gradcli."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import time
from pathlib import Path

import pytest
from conftest import gradcli_executable

from gradcli import pictures

needs_dot = pytest.mark.skipif(not shutil.which("dot"), reason="Graphviz's dot is not installed")

MAGIC = {"png": b"\x89PNG", "pdf": b"%PDF", "svg": b"<?xml", "dot": b"digraph", "mermaid": b"flowchart"}


@needs_dot
@pytest.mark.parametrize(
    ("name", "fmt"),
    [("g.png", "png"), ("g.PDF", "pdf"), ("g.svg", "svg"), ("g.dot", "dot"), ("g.gv", "dot"),
     ("g.mmd", "mermaid")],
)
def test_the_format_comes_from_the_extension(run_cli, tmp_path: Path, name: str, fmt: str) -> None:
    target = tmp_path / name
    code, _, err = run_cli("graph", "(x+y)*z", "-x", "2", "-y", "3", "-z", "-4", "--out", str(target))
    assert code == 0, err
    assert target.read_bytes().startswith(MAGIC[fmt])


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--out", "g.xyz"], "cannot tell the picture's format from --out g.xyz"),
        (["--out", "g"], "cannot tell the picture's format from --out g"),
        (["--out", "g.png", "--format", "dot"], "--format dot disagrees with --out g.png, a png file name"),
        (["--out", "g.dot", "--format", "svg"], "--format svg disagrees with --out g.dot, a dot file name"),
    ],
)
def test_an_unknown_or_contradicting_file_name_is_refused(run_cli, tmp_path: Path, args, message) -> None:
    os.chdir(tmp_path)
    code, _, err = run_cli("graph", "x*y", *args)
    assert code == 2 and err.startswith(f"error: {message}")
    assert list(tmp_path.iterdir()) == []  # nothing written


def test_an_explicit_format_names_any_file(run_cli, tmp_path: Path) -> None:
    target = tmp_path / "picture.txt"
    assert run_cli("graph", "x*y", "--format", "mermaid", "--out", str(target))[0] == 0
    assert target.read_text().startswith("flowchart")


def test_a_graph_too_large_to_render_is_refused_up_front(run_cli) -> None:
    source = "+".join(f"sin(x*{i})" for i in range(pictures.MAX_RENDER_NODES))
    start = time.monotonic()
    code, _, err = run_cli("graph", source, "-x", "1", "--format", "svg")
    assert code == 2
    assert f"at most {pictures.MAX_RENDER_NODES:,} nodes" in err
    assert time.monotonic() - start < 10


def _children(pid: int) -> list[int]:
    found = []
    for task in Path(f"/proc/{pid}/task").iterdir():
        found += [int(c) for c in (task / "children").read_text().split()]
    return found


@needs_dot
@pytest.mark.skipif(not Path("/proc/self/task").exists(), reason="needs Linux /proc")
@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT])
def test_dot_is_stopped_when_gradcli_is_terminated(tmp_path: Path, sig: int) -> None:
    # 60 terms of a sum keep dot busy for many seconds (see pictures.MAX_RENDER_NODES).
    source = "+".join(f"sin(x*{i})" for i in range(60))
    proc = subprocess.Popen([gradcli_executable(), "graph", source, "-x", "1", "--format", "svg"],
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    dot = []
    deadline = time.monotonic() + 30
    while not dot and time.monotonic() < deadline:
        time.sleep(0.05)
        dot = _children(proc.pid)
    assert dot, "dot did not start"
    proc.send_signal(sig)
    _, err = proc.communicate(timeout=30)
    assert proc.returncode == (143 if sig == signal.SIGTERM else 130)
    assert b"Traceback" not in err
    time.sleep(0.2)
    for pid in dot:
        assert not Path(f"/proc/{pid}").exists() or "Z" in Path(f"/proc/{pid}/stat").read_text().split()[2]
