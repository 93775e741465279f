"""Dask: gradcli.dask.evaluate on a real distributed.LocalCluster (2 worker
processes), and `eval --engine dask` on a local cluster and on a real `dask
scheduler` + `dask worker` pair on 127.0.0.1, started and stopped by the fixtures.

The tests that start a cluster are slow (marked so); CI runs them in a run of
their own (`pytest -m slow -k dask`, in .ci/run)."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

import gradcli

pd = pytest.importorskip("pandas")
pa = pytest.importorskip("pyarrow")
pq = pytest.importorskip("pyarrow.parquet")
dd = pytest.importorskip("dask.dataframe")
distributed = pytest.importorskip("distributed")

SOURCE = "log(x)*y + sqrt(x)"


def _data(folder: Path, files: int = 3, rows: int = 2_000, seed: int = 0) -> str:
    rng = np.random.default_rng(seed)
    folder.mkdir(parents=True, exist_ok=True)
    for i in range(files):
        x = rng.uniform(-1, 3, rows)
        x[::97] = np.nan  # missing values: errors (no default)
        pq.write_table(
            pa.table({"id": np.arange(i * rows, (i + 1) * rows), "x": x, "y": rng.normal(size=rows)}),
            folder / f"part{i:02d}.parquet",
        )
    return str(folder / "*.parquet")


def _same_bits(a: pd.DataFrame, b: pd.DataFrame) -> None:
    """Equal column by column; floats bit for bit (NaN where a row failed)."""
    a, b = a.reset_index(drop=True), b.reset_index(drop=True)
    assert list(a.columns) == list(b.columns) and len(a) == len(b)
    for name in a.columns:
        x, y = a[name].to_numpy(), b[name].to_numpy()
        if x.dtype.kind == "f":
            assert np.array_equal(x.view(np.int64), y.view(np.int64)), name
        else:
            assert pd.Series(x).fillna("-").tolist() == pd.Series(y).fillna("-").tolist(), name


def _executable(name: str) -> str:
    beside = Path(sys.executable).parent / name
    return str(beside) if beside.exists() else name


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _gradcli(*args: str, timeout: float = 300) -> subprocess.CompletedProcess[str]:
    return subprocess.run([_executable("gradcli"), *args], capture_output=True, text=True, timeout=timeout)


# --- without a cluster: what is refused before one starts -----------------------------------------


def test_the_program_and_the_columns_are_checked_at_once(tmp_path) -> None:
    ddf = dd.from_pandas(pd.DataFrame({"x": [1.0, 2.0]}), npartitions=1)
    with pytest.raises(gradcli.GradError, match="the input has no column y"):
        gradcli.dask.evaluate(ddf, "x*y")
    with pytest.raises(gradcli.GradError) as info:
        gradcli.dask.evaluate(ddf, "x*")
    assert info.value.kind == "syntax"
    lazy = gradcli.dask.evaluate(ddf, "x*y", y=2)
    assert list(lazy.columns) == ["x", "y", "value", "grad_x", "grad_y", "error"]


@pytest.mark.parametrize(
    "args, message",
    [
        (["--batch", "NOWHERE/*.parquet"], "nowhere/*.parquet: no file matches"),
        (["--batch", "DATA", "-y", "1", "--out", "OUT", "--format", "csv"],
         "--engine dask writes Parquet only"),
        (["--batch", "DATA"], "--engine dask writes a Parquet dataset: give --out DIR"),
        (["--grid", "x=0:1:3"], "--engine dask runs a --batch of Parquet files, without --grid"),
        (["--batch", "MISSING"], "the input has no column y, z and there is no default"),
        (["--batch", "BOOL"], "the column x of the Parquet input holds bool, not numbers"),
    ],
)
def test_bad_input_is_refused_before_a_cluster_starts(tmp_path, args: list[str], message: str) -> None:
    data = _data(tmp_path / "d", files=1, rows=10)
    pq.write_table(pa.table({"x": [1.0]}), tmp_path / "missing.parquet")
    pq.write_table(pa.table({"x": [True], "z": [1.0], "y": [1.0]}), tmp_path / "bool.parquet")
    swap = {"DATA": data, "NOWHERE": str(tmp_path / "nowhere"), "OUT": str(tmp_path / "out"),
            "MISSING": str(tmp_path / "missing.parquet"), "BOOL": str(tmp_path / "bool.parquet")}
    words = [swap.get(w, w) for w in args]
    words = [w.replace("NOWHERE", str(tmp_path / "nowhere")) for w in words]
    if "--out" not in words and "give --out" not in message:
        words += ["--out", str(tmp_path / "out")]
    started = time.monotonic()
    proc = _gradcli("eval", "log(x)*y*z" if "MISSING" in args or "BOOL" in args else SOURCE,
                    "--engine", "dask", *words)
    assert proc.returncode == 2, proc.stderr
    assert message in proc.stderr and "Traceback" not in proc.stderr
    assert time.monotonic() - started < 30
    assert not (tmp_path / "out").exists()


def test_out_that_exists_is_never_written_into(tmp_path) -> None:
    data = _data(tmp_path / "d", files=1, rows=10)
    (tmp_path / "out").mkdir()
    (tmp_path / "out" / "keep.txt").write_text("mine")
    proc = _gradcli("eval", SOURCE, "--batch", data, "--engine", "dask", "--out", str(tmp_path / "out"))
    assert proc.returncode == 2 and "exists: remove it or name another folder" in proc.stderr
    assert os.listdir(tmp_path / "out") == ["keep.txt"]


def test_a_scheduler_that_does_not_answer_is_a_usage_error_within_seconds(tmp_path) -> None:
    data = _data(tmp_path / "d", files=1, rows=10)
    port = _free_port()  # nobody listens there
    started = time.monotonic()
    proc = _gradcli("eval", SOURCE, "--batch", data, "--engine", "dask", "--scheduler",
                    f"tcp://127.0.0.1:{port}", "--out", str(tmp_path / "out"))
    took = time.monotonic() - started
    assert proc.returncode == 2, proc.stderr
    expected = f"error: cannot reach the Dask scheduler at tcp://127.0.0.1:{port} within 5 s"
    assert proc.stderr.startswith(expected)
    assert "Traceback" not in proc.stderr and len(proc.stderr.splitlines()) == 1
    assert took < 25, took  # 5 s to connect, and Python's and Dask's start-up on a busy machine
    assert not (tmp_path / "out").exists() and os.listdir(tmp_path) == ["d"]


# --- a LocalCluster of 2 worker processes ------------------------------------------------------------


@pytest.fixture(scope="module")
def client():
    cluster = distributed.LocalCluster(
        n_workers=2, threads_per_worker=1, processes=True, host="127.0.0.1", dashboard_address=None,
    )
    with distributed.Client(cluster) as c:
        yield c
    cluster.close()


@pytest.mark.slow
def test_evaluate_on_a_local_cluster_equals_one_process_bit_for_bit(client, tmp_path) -> None:
    pattern = _data(tmp_path / "d", files=4, rows=5_000)
    ddf = dd.read_parquet(sorted(Path(tmp_path / "d").glob("*.parquet")))
    lazy = gradcli.dask.evaluate(ddf, SOURCE, y=1)
    assert len(client.scheduler_info()["workers"]) == 2
    got = client.compute(lazy).result()
    whole = pd.concat([pq.read_table(p).to_pandas() for p in sorted(Path(tmp_path / "d").glob("*.parquet"))])
    want = gradcli.compile(SOURCE).evaluate_frame(whole, y=1)
    _same_bits(got, want)
    assert got["id"].tolist() == list(range(20_000))  # rows in input order
    assert got["error"].notna().sum() == want["error"].notna().sum() > 0  # error rows kept
    assert pattern


@pytest.mark.slow
def test_each_worker_compiles_the_program_once(client, tmp_path) -> None:
    _data(tmp_path / "d", files=6, rows=100)
    ddf = dd.read_parquet(sorted(Path(tmp_path / "d").glob("*.parquet")))
    client.compute(gradcli.dask.evaluate(ddf, "x*y*3")).result()

    def compiled() -> int:
        from gradcli.dask import _program

        return _program.cache_info().misses

    counts = client.run(compiled)
    assert len(counts) == 2 and all(count <= 2 for count in counts.values()), counts  # (the meta's, once)


# --- eval --engine dask ------------------------------------------------------------------------------


def _single(tmp_path: Path, data: str, *bindings: str) -> pd.DataFrame:
    out = tmp_path / "single.parquet"
    proc = _gradcli("eval", SOURCE, *bindings, "--batch", data, "--format", "parquet", "--out", str(out))
    assert proc.returncode in (0, 1), proc.stderr
    return pq.read_table(out).to_pandas()


@pytest.mark.slow
def test_engine_dask_on_a_local_cluster_writes_the_single_process_result(tmp_path) -> None:
    data = _data(tmp_path / "d", files=3, rows=3_000)
    out = tmp_path / "result"
    proc = _gradcli("eval", SOURCE, "--batch", data, "--engine", "dask", "--out", str(out))
    assert proc.returncode == 1, proc.stderr  # rows without x fail, as in one process
    assert proc.stderr.startswith("error: "), proc.stderr
    failed = int(proc.stderr.split()[1])
    assert proc.stderr == f"error: {failed} of 9000 rows failed; their records say why\n"
    assert sorted(os.listdir(out)) == ["_SUCCESS", "part.0.parquet", "part.1.parquet", "part.2.parquet"]
    got = pq.read_table(out).to_pandas()
    _same_bits(got, _single(tmp_path, data))
    assert int(got["error"].notna().sum()) == failed
    assert [p for p in os.listdir(tmp_path) if p.startswith(".")] == []  # no temporary folder left


@pytest.fixture
def scheduler_pair(tmp_path):
    """A real `dask scheduler` and one `dask worker` (no nanny) on 127.0.0.1."""
    port = _free_port()
    address = f"tcp://127.0.0.1:{port}"
    logs = open(tmp_path / "dask.log", "w")  # closed below
    scheduler = subprocess.Popen(
        [_executable("dask"), "scheduler", "--host", "127.0.0.1", "--port", str(port), "--no-dashboard"],
        stdout=logs, stderr=subprocess.STDOUT, start_new_session=True,
    )
    worker = subprocess.Popen(
        [_executable("dask"), "worker", address, "--nworkers", "1", "--nthreads", "1", "--no-nanny",
         "--no-dashboard", "--host", "127.0.0.1"],
        stdout=logs, stderr=subprocess.STDOUT, start_new_session=True,
    )
    try:
        with distributed.Client(address, timeout=60) as c:
            c.wait_for_workers(1, timeout=60)
        yield address, worker
    finally:
        for proc in (worker, scheduler):
            if proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
        for proc in (worker, scheduler):
            try:
                proc.wait(timeout=5)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
        logs.close()


@pytest.mark.slow
def test_engine_dask_on_a_scheduler_and_worker_writes_the_single_process_result(
    tmp_path, scheduler_pair
) -> None:
    address, _ = scheduler_pair
    data = _data(tmp_path / "d", files=2, rows=2_000, seed=4)
    out = tmp_path / "result"
    proc = _gradcli("eval", SOURCE, "-y", "2", "--batch", data, "--engine", "dask", "--scheduler", address,
                    "--out", str(out))
    assert proc.returncode == 1, proc.stderr
    _same_bits(pq.read_table(out).to_pandas(), _single(tmp_path, data, "-y", "2"))
    # The folder it wrote is a dataset that a batch reads again.
    again = _gradcli("eval", "value*2", "--batch", str(out / "part.0.parquet"))
    assert again.returncode == 2 and "would clash with the output's own 'error'" in again.stderr
    again = _gradcli("eval", "value*2", "--batch", str(out / "part.0.parquet"), "--format", "csv")
    assert again.returncode == 2 and "the input value would clash with the output's own column 'value'" \
        in again.stderr


@pytest.mark.slow
def test_a_worker_that_dies_mid_run_fails_the_run_and_leaves_no_output(tmp_path, scheduler_pair) -> None:
    address, worker = scheduler_pair
    data = _data(tmp_path / "d", files=40, rows=100_000, seed=9)
    out = tmp_path / "result"
    run = subprocess.Popen(
        [_executable("gradcli"), "eval", SOURCE, "--batch", data, "--engine", "dask", "--scheduler", address,
         "--out", str(out)],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )
    deadline = time.monotonic() + 120
    partial: list[Path] = []
    while time.monotonic() < deadline and run.poll() is None:  # until the first part is written
        partial = [p for p in tmp_path.iterdir() if p.name.startswith(".result.")]
        if partial and any(partial[0].glob("part.*.parquet")):
            break
        time.sleep(0.05)
    assert run.poll() is None, run.communicate()
    worker.kill()  # mid-run: some parts written, most not
    _, err = run.communicate(timeout=120)
    assert run.returncode == 2, err
    assert err.startswith("error: ") and "Traceback" not in err
    assert "no worker" in err or "died" in err or "failed" in err, err
    assert not out.exists()
    assert [p for p in tmp_path.iterdir() if p.name.startswith(".")] == []
