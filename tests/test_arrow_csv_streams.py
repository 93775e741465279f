"""A large CSV batch (read and written by Arrow, its records written by a thread of
their own) through real processes: a full or closed standard output, a reader that
stops after a line, and Ctrl-C part-way are each one line and the usual exit code,
and what was written is whole records."""

from __future__ import annotations

import errno
import io
import os
import signal
import subprocess
import time

import pytest
from conftest import gradcli_executable

pytest.importorskip("pyarrow")

NEURON = "1/(1+exp(-(w0*x0+w1*x1+w2)))"
ROWS = 300_000


@pytest.fixture(scope="module")
def points(tmp_path_factory: pytest.TempPathFactory) -> str:
    path = tmp_path_factory.mktemp("large") / "points.csv"
    with open(path, "w") as f:
        f.write("w0,x0,w1,x1,w2\n")
        rows = (f"{i % 7 - 3.5},{i * 1e-6!r},{-i % 11},{i % 5 * 0.25},{i * 3e-9!r}\n" for i in range(ROWS))
        f.writelines(rows)
    return str(path)


def _one_error_line(err: bytes) -> str:
    text = err.decode("utf-8")
    assert "Traceback" not in text and "internal error" not in text, text
    assert text.startswith("error: ") and text.count("\n") == 1, text
    return text


def test_a_full_standard_output_is_one_line_and_exit_2(points: str) -> None:
    with open("/dev/full", "wb") as full:
        proc = subprocess.run([gradcli_executable(), "eval", NEURON, "--batch", points, "--format", "csv"],
                              stdout=full, stderr=subprocess.PIPE, timeout=120)
    assert proc.returncode == 2
    assert "No space left" in _one_error_line(proc.stderr)


def test_out_dev_full_is_one_line_and_exit_2(points: str) -> None:
    proc = subprocess.run(
        [gradcli_executable(), "eval", NEURON, "--batch", points, "--format", "csv", "--out", "/dev/full"],
        capture_output=True, timeout=120,
    )
    assert proc.returncode == 2
    assert "No space left" in _one_error_line(proc.stderr)


def test_a_reader_that_stops_after_one_line_ends_the_run_quietly(points: str) -> None:
    proc = subprocess.Popen([gradcli_executable(), "eval", NEURON, "--batch", points, "--format", "csv"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    assert proc.stdout is not None and proc.stderr is not None
    first = proc.stdout.readline()
    proc.stdout.close()  # as `| head -1` does
    err = proc.stderr.read()
    proc.wait(timeout=120)
    assert first == b"w0,x0,w1,x1,w2,value,grad_w0,grad_x0,grad_w1,grad_x1,grad_w2,error\n"
    assert err == b"" and proc.returncode == 0


def test_ctrl_c_part_way_leaves_whole_records(points: str, tmp_path) -> None:
    out = tmp_path / "out.csv"
    with open(out, "wb") as target:
        proc = subprocess.Popen([gradcli_executable(), "eval", NEURON, "--batch", points, "--format", "csv"],
                                stdout=target, stderr=subprocess.PIPE)
        deadline = time.monotonic() + 60
        while os.path.getsize(out) < 2_000_000 and proc.poll() is None and time.monotonic() < deadline:
            time.sleep(0.01)  # until some records are out, while more are made
        proc.send_signal(signal.SIGINT)
        _, err = proc.communicate(timeout=60)
    if proc.returncode == 0:
        pytest.skip("the run ended before Ctrl-C came")
    assert proc.returncode == 130
    assert _one_error_line(err) == "error: interrupted\n"
    text = out.read_bytes()
    assert text.endswith(b"\n")
    assert {line.count(b",") for line in text.splitlines()} == {11}


def test_writes_from_the_thread_keep_their_order_and_a_failed_write_is_raised_after() -> None:
    from gradcli.records import BackgroundWrites

    class Flaky(io.BytesIO):
        def write(self, data: object) -> int:
            if bytes(data).startswith(b"bad"):  # type: ignore[call-overload]
                raise OSError(errno.ENOSPC, "No space left on device")
            return super().write(data)  # type: ignore[arg-type]

    good = Flaky()
    writes = BackgroundWrites(good)
    for i in range(50):
        writes.put((b"%d," % i, memoryview(b"part\n")))
    writes.finish(ok=True)
    assert good.getvalue() == b"".join(b"%d,part\n" % i for i in range(50))

    stream = Flaky()
    writes = BackgroundWrites(stream)
    writes.put((b"first\n",))
    writes.put((b"bad\n",))
    with pytest.raises(OSError) as caught:
        for _ in range(100):
            writes.put((b"later\n",))
            time.sleep(0.01)
        writes.finish(ok=True)
    assert caught.value.errno == errno.ENOSPC
    writes.finish(ok=False)  # after the run's own error: waits, raises nothing
    assert stream.getvalue() == b"first\n"
