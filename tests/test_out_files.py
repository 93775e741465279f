"""Every --out (graph, eval --batch as CSV, JSON Lines, Parquet) follows the same
rules (gradcli.files): whole or not at all, a link followed and kept, an existing
file's permissions kept, a new file's from the umask, a device or a FIFO written in
place, an unwritable path an error of one line with exit 2."""

from __future__ import annotations

import os
import resource
import stat
import subprocess
import threading
from collections.abc import Callable
from pathlib import Path

import pytest
from conftest import gradcli_executable

from gradcli.files import staged_file, write_whole

SEED = ["(x+y)*z", "-x", "2", "-y", "3", "-z", "-4"]
GRID = ["eval", "x", "--grid", "x=0:1:3000"]  # a few tens of kilobytes in every format
WRITERS = {
    "graph": lambda out: ["graph", *SEED, "--format", "dot", "--out", out],
    "csv": lambda out: [*GRID, "--format", "csv", "--out", out],
    "jsonl": lambda out: [*GRID, "--format", "jsonl", "--out", out],
    "parquet": lambda out: [*GRID, "--format", "parquet", "--out", out],
}
MAGIC = {"graph": b"digraph", "csv": b"x,value", "jsonl": b"{", "parquet": b"PAR1"}


def _run(args: list[str], setup: Callable[[], None] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [gradcli_executable(), *args], capture_output=True, text=True, preexec_fn=setup, timeout=120,
        check=False,
    )


def _one_error(proc: subprocess.CompletedProcess[str]) -> None:
    assert (proc.returncode, proc.stdout) == (2, ""), proc.stderr
    assert proc.stderr.startswith("error: cannot write --out ") and "Traceback" not in proc.stderr
    assert len(proc.stderr.splitlines()) == 1, proc.stderr


@pytest.mark.parametrize("writer", WRITERS)
def test_out_replaces_the_file_a_link_names_and_keeps_the_link(tmp_path: Path, writer: str) -> None:
    real, link = tmp_path / "real", tmp_path / "link"
    real.write_bytes(b"old")
    link.symlink_to(real)
    proc = _run(WRITERS[writer](str(link)))
    assert proc.returncode == 0, proc.stderr
    assert link.is_symlink() and os.readlink(link) == str(real)
    assert real.read_bytes().startswith(MAGIC[writer])
    assert sorted(p.name for p in tmp_path.iterdir()) == ["link", "real"]


@pytest.mark.parametrize("writer", WRITERS)
def test_out_keeps_an_existing_files_permissions_and_a_new_one_follows_the_umask(
    tmp_path: Path, writer: str
) -> None:
    old = tmp_path / "old"
    old.write_bytes(b"old")
    old.chmod(0o604)
    assert _run(WRITERS[writer](str(old))).returncode == 0
    assert stat.S_IMODE(old.stat().st_mode) == 0o604 and old.read_bytes().startswith(MAGIC[writer])
    new = tmp_path / "new"
    proc = _run(WRITERS[writer](str(new)), setup=lambda: os.umask(0o027) and None)
    assert proc.returncode == 0, proc.stderr
    assert stat.S_IMODE(new.stat().st_mode) == 0o640  # not the 0600 of a temporary file


@pytest.mark.parametrize("writer", WRITERS)
def test_out_to_the_full_device_is_one_error_line_and_the_device_stays(writer: str) -> None:
    if not (os.path.exists("/dev/full") and stat.S_ISCHR(os.stat("/dev/full").st_mode)):
        pytest.skip("/dev/full is not a character device here")
    _one_error(_run(WRITERS[writer]("/dev/full")))
    assert stat.S_ISCHR(os.stat("/dev/full").st_mode)


@pytest.mark.parametrize("writer", WRITERS)
def test_out_to_a_fifo_writes_through_it(tmp_path: Path, writer: str) -> None:
    fifo = tmp_path / "fifo"
    os.mkfifo(fifo)
    got: list[bytes] = []
    reader = threading.Thread(target=lambda: got.append(fifo.read_bytes()), daemon=True)
    reader.start()
    proc = _run(WRITERS[writer](str(fifo)))
    if not got:  # a writer that failed before opening it: let the reader go
        with open(fifo, "wb", opener=lambda p, f: os.open(p, f | os.O_NONBLOCK)):
            pass
    reader.join(timeout=60)
    if writer == "parquet":  # Parquet's writer must seek back: said in one line
        _one_error(proc)
    else:
        assert proc.returncode == 0, proc.stderr
        assert got and got[0].startswith(MAGIC[writer])
    assert fifo.is_fifo()
    assert [p.name for p in tmp_path.iterdir()] == ["fifo"]


@pytest.mark.parametrize("writer", WRITERS)
@pytest.mark.parametrize("where", ["missing folder", "a folder"])
def test_an_out_that_cannot_be_a_file_is_one_error_line(tmp_path: Path, writer: str, where: str) -> None:
    target = str(tmp_path / "no" / "such" / "out") if where == "missing folder" else str(tmp_path)
    _one_error(_run(WRITERS[writer](target)))
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("writer", WRITERS)
def test_a_write_that_fails_midway_keeps_the_old_file_and_leaves_no_temporary(
    tmp_path: Path, writer: str
) -> None:
    old = tmp_path / "old"
    old.write_bytes(b"the old contents\n")

    def cap() -> None:  # a write past 300 bytes fails (EFBIG), as on a full disk
        resource.setrlimit(resource.RLIMIT_FSIZE, (300, 300))

    proc = _run(WRITERS[writer](str(old)), setup=cap)
    _one_error(proc)
    assert old.read_bytes() == b"the old contents\n"
    assert [p.name for p in tmp_path.iterdir()] == ["old"]


@pytest.mark.parametrize("stop", [KeyboardInterrupt, OSError])
def test_staged_file_leaves_the_old_file_and_no_temporary_when_the_block_fails(
    tmp_path: Path, stop: type[BaseException]
) -> None:
    old = tmp_path / "old"
    old.write_bytes(b"old")
    with pytest.raises(stop), staged_file(str(old)) as name:
        Path(name).write_bytes(b"half")
        raise stop()
    assert old.read_bytes() == b"old" and [p.name for p in tmp_path.iterdir()] == ["old"]
    write_whole(str(old), b"new")
    assert old.read_bytes() == b"new" and [p.name for p in tmp_path.iterdir()] == ["old"]
