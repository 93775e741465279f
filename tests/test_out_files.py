"""Every --out (graph, eval --batch as CSV, JSON Lines, Parquet) follows the same
rules (gradcli.files): whole or not at all, a link followed and kept, an existing
file's permissions kept, a new file's from the umask, a device or a FIFO written in
place, a descriptor the process holds (/dev/stdout, /dev/fd/N) written through a
copy of it (the shell's >> appends), an unwritable path an error of one line with
exit 2, a pipe whose reader went away (EPIPE) a quiet exit 0."""

from __future__ import annotations

import os
import resource
import shlex
import stat
import subprocess
import threading
from collections.abc import Callable
from pathlib import Path

import pytest
from conftest import gradcli_executable

from gradcli.files import held_descriptor, open_output, staged_folder, write_whole

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
def test_open_output_leaves_the_old_file_and_no_temporary_when_the_block_fails(
    tmp_path: Path, stop: type[BaseException]
) -> None:
    old = tmp_path / "old"
    old.write_bytes(b"old")
    with pytest.raises(stop), open_output(str(old)) as stream:
        stream.write(b"half")
        stream.flush()
        raise stop()
    assert old.read_bytes() == b"old" and [p.name for p in tmp_path.iterdir()] == ["old"]
    write_whole(str(old), b"new")
    assert old.read_bytes() == b"new" and [p.name for p in tmp_path.iterdir()] == ["old"]


# A descriptor the shell opened: written through a copy of it, never opened again.

FIT = ["fit", "w*x + b", "--data", "d.csv", "--params", "w,b", "-w", "0", "-b", "0", "--epochs", "2"]
FIT_DATA = "x,y\n1,2\n2,4\n"
STREAM_WRITERS = {
    **WRITERS,
    "fit --save": lambda out: [*FIT, "--save", out],
}
STREAM_MAGIC = {**MAGIC, "fit --save": b'{"w": '}


def _shell(script: str, tmp_path: Path) -> subprocess.CompletedProcess[str]:
    """``script`` run by a real shell in ``tmp_path``, with $G the gradcli entry point
    and the fit's data in d.csv (removed after)."""
    (tmp_path / "d.csv").write_text(FIT_DATA, encoding="utf-8")
    try:
        return subprocess.run(
            ["sh", "-c", script], cwd=tmp_path, capture_output=True, text=True, timeout=120,
            check=False, env={**os.environ, "G": gradcli_executable()},
        )
    finally:
        (tmp_path / "d.csv").unlink()


def _command(writer: str, out: str) -> str:
    return "$G " + shlex.join(STREAM_WRITERS[writer](out))


@pytest.mark.parametrize("writer", STREAM_WRITERS)
@pytest.mark.parametrize("name", ["/dev/stdout", "/dev/fd/3", "/proc/self/fd/3", "link"])
def test_out_to_a_descriptor_the_shell_opened_for_appending_appends(
    tmp_path: Path, writer: str, name: str
) -> None:
    (tmp_path / "link").symlink_to("/dev/stdout")
    (tmp_path / "f").write_bytes(b"what the file held\n")
    fd = "3" if name.endswith("/3") else ""
    once = f"{_command(writer, name)} {fd}>> f"
    proc = _shell(f"{once} && {once}", tmp_path)
    assert proc.returncode == 0, proc.stderr
    held = (tmp_path / "f").read_bytes()
    assert held.startswith(b"what the file held\n")
    assert held.count(STREAM_MAGIC[writer]) >= 2, held[:300]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["f", "link"]
    assert (tmp_path / "link").is_symlink()


@pytest.mark.parametrize("writer", WRITERS)
def test_out_to_a_descriptor_the_shell_truncated_is_the_file_it_would_write(
    tmp_path: Path, writer: str
) -> None:
    (tmp_path / "f").write_bytes(b"old contents, longer than any of the outputs " * 2000)
    proc = _shell(f"{_command(writer, '/dev/stdout')} > f && {_command(writer, 'g')}", tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert (tmp_path / "f").read_bytes() == (tmp_path / "g").read_bytes()


def test_what_a_command_prints_before_its_out_comes_first(tmp_path: Path) -> None:
    proc = _shell(f"{_command('fit --save', '/dev/stdout')} > f", tmp_path)
    assert proc.returncode == 0, proc.stderr
    lines = (tmp_path / "f").read_text(encoding="utf-8").splitlines()
    assert lines[-1].startswith('{"w": ') and len(lines) > 1  # the fit's report, then the parameters


@pytest.mark.parametrize("writer", STREAM_WRITERS)
@pytest.mark.parametrize("how", [">&-", "3>&-", "3< f"])
def test_out_to_a_closed_or_read_only_descriptor_is_one_error_line(
    tmp_path: Path, writer: str, how: str
) -> None:
    (tmp_path / "f").write_bytes(b"kept")
    name = "/dev/stdout" if how == ">&-" else "/dev/fd/3"
    proc = _shell(f"{_command(writer, name)} {how}", tmp_path)
    option = "--save" if writer == "fit --save" else "--out"
    assert proc.returncode == 2, proc.stderr
    assert proc.stderr == f"error: cannot write {option} {name}: Bad file descriptor\n"
    assert (tmp_path / "f").read_bytes() == b"kept"


@pytest.mark.parametrize("writer", STREAM_WRITERS)
def test_out_to_a_standard_output_on_the_full_device_is_one_error_line(tmp_path: Path, writer: str) -> None:
    if not (os.path.exists("/dev/full") and stat.S_ISCHR(os.stat("/dev/full").st_mode)):
        pytest.skip("/dev/full is not a character device here")
    proc = _shell(f"{_command(writer, '/dev/fd/3')} 3> /dev/full", tmp_path)
    option = "--save" if writer == "fit --save" else "--out"
    assert proc.returncode == 2, proc.stderr
    assert proc.stderr.startswith(f"error: cannot write {option} /dev/fd/3: ")
    assert proc.stderr.count("\n") == 1 and "Traceback" not in proc.stderr
    assert stat.S_ISCHR(os.stat("/dev/full").st_mode)


def test_held_descriptor_names_only_this_processs_own_descriptors(tmp_path: Path) -> None:
    (tmp_path / "link").symlink_to("/dev/fd/7")
    names = ["/dev/stdout", "/dev/stderr", "/dev/fd/0", str(tmp_path / "link")]
    assert [held_descriptor(p) for p in names] == [1, 2, 0, 7]
    assert held_descriptor(f"/proc/{os.getpid()}/fd/5") == held_descriptor("/proc/thread-self/fd/5") == 5
    assert held_descriptor("/dev/fd/../fd/4") == 4
    others = ["/proc/1/fd/1", "/dev/fd/01", "/dev/fd/1/x", "/dev/fd/99999999999", "/dev/null", str(tmp_path)]
    assert [held_descriptor(p) for p in others] == [None] * len(others)


@pytest.mark.parametrize("target", ["/dev/stdout", "a file"])
def test_a_folder_output_to_something_not_a_folder_is_refused_before_any_work(
    tmp_path: Path, target: str
) -> None:
    path = str(tmp_path / "file") if target == "a file" else target
    Path(tmp_path / "file").write_bytes(b"kept")
    with pytest.raises(NotADirectoryError), staged_folder(path):
        pytest.fail("the block ran")
    assert [p.name for p in tmp_path.iterdir()] == ["file"]


@pytest.mark.parametrize("writer", STREAM_WRITERS)
def test_out_to_a_closed_standard_error_fails_though_no_message_can_say_so(
    tmp_path: Path, writer: str
) -> None:
    proc = _shell(f"{_command(writer, '/dev/stderr')} 2>&-", tmp_path)
    assert proc.returncode == 2  # not written into the file that took descriptor 2's number
    assert sorted(p.name for p in tmp_path.iterdir()) == []


# A reader that goes away (`--out /dev/stdout | head -c 1`): as when the same output
# goes to standard output itself, the run ends at once with 0 and says nothing.

ROWS = "x,y\n" + "".join(f"{i},{i + 1}\n" for i in range(100_000))  # far past a pipe's buffer
LONG = "tanh(" * 3000 + "x" + ")" * 3000  # a Graphviz source of about 0.5 MB
BIG_WRITERS = {
    "graph": lambda out: ["graph", "--file", "long.grad", "-x", "0.5", "--format", "dot", "--out", out],
    "csv": lambda out: ["eval", "x*y", "--batch", "rows.csv", "--format", "csv", "--out", out],
    "jsonl": lambda out: ["eval", "x*y", "--batch", "rows.csv", "--format", "jsonl", "--out", out],
    "parquet": lambda out: ["eval", "x*y", "--batch", "rows.csv", "--format", "parquet", "--out", out],
}


@pytest.mark.parametrize("writer", BIG_WRITERS)
@pytest.mark.parametrize("name", ["/dev/stdout", "/dev/fd/3", "/proc/self/fd/3", "fifo"])
def test_out_to_a_pipe_whose_reader_stops_early_ends_quietly_with_0(
    tmp_path: Path, writer: str, name: str
) -> None:
    (tmp_path / "rows.csv").write_text(ROWS, encoding="utf-8")
    (tmp_path / "long.grad").write_text(LONG, encoding="utf-8")
    command = "$G " + shlex.join(BIG_WRITERS[writer](name))
    if name == "fifo":  # a named pipe, written in place
        os.mkfifo(tmp_path / "fifo")
        script = f'{command} & head -c 1 fifo >/dev/null; wait $!; echo "$?" > status'
    else:
        into = "3>&1 >/dev/null" if name.endswith("/3") else ""
        script = f'{command} {into} | head -c 1 >/dev/null; echo "${{PIPESTATUS[0]}}" > status'
    proc = subprocess.run(
        ["bash", "-c", script], cwd=tmp_path, capture_output=True, text=True, timeout=120, check=False,
        env={**os.environ, "G": gradcli_executable()},
    )
    assert (tmp_path / "status").read_text(encoding="utf-8") == "0\n", proc.stderr
    assert proc.stderr == ""
    left = sorted(p.name for p in tmp_path.iterdir() if p.name != "fifo")
    assert left == ["long.grad", "rows.csv", "status"]  # no temporary file


@pytest.mark.parametrize("writer", STREAM_WRITERS)
def test_out_to_a_pipe_whose_reader_is_gone_ends_quietly_with_0(tmp_path: Path, writer: str) -> None:
    # The reader closed its end before anything was written: the first write fails
    # (EPIPE), however short the output (fit --save writes one line).
    (tmp_path / "d.csv").write_text(FIT_DATA, encoding="utf-8")
    read, write = os.pipe()
    os.close(read)
    try:
        proc = subprocess.run(
            [gradcli_executable(), *STREAM_WRITERS[writer](f"/dev/fd/{write}")], cwd=tmp_path,
            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True, pass_fds=(write,), timeout=120,
            check=False,
        )
    finally:
        os.close(write)
    assert (proc.returncode, proc.stderr) == (0, "")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["d.csv"]
