"""docs/tutorial.ipynb, executed by a real Jupyter kernel (ipykernel, driven by nbclient).

The kernel is this test's own Python (a kernel spec written into a temporary
Jupyter path points at ``sys.executable``), so it imports the gradcli under test.
The notebook is committed with its outputs; a fresh run must print the same text,
so the outputs on GitHub are real ones. Regenerate them after a change with
``jupyter execute --inplace docs/tutorial.ipynb`` (from the ``notebook`` extra).
"""

from __future__ import annotations

import json
import shutil
import sys
from pathlib import Path
from typing import Any

import pytest

nbformat = pytest.importorskip("nbformat")
nbclient = pytest.importorskip("nbclient")
pytest.importorskip("ipykernel")

REPO = Path(__file__).resolve().parent.parent
TUTORIAL = REPO / "docs" / "tutorial.ipynb"
KERNEL = "gradcli-test"
REGENERATE = "regenerate it: jupyter execute --inplace docs/tutorial.ipynb"


def run(nb: Any, root: Path, cwd: Path | None = None) -> Any:
    """Execute ``nb`` in a fresh kernel of this Python (a kernel spec under ``root``,
    a Jupyter path of its own), in the folder ``cwd`` (Jupyter's is the notebook's):
    raises CellExecutionError at the first failing cell."""
    spec = root / "kernels" / KERNEL
    spec.mkdir(parents=True, exist_ok=True)
    (spec / "kernel.json").write_text(
        json.dumps({
            "argv": [sys.executable, "-m", "ipykernel_launcher", "-f", "{connection_file}"],
            "display_name": "gradcli tests",
            "language": "python",
        }),
        encoding="utf-8",
    )
    if cwd is None:
        cwd = root / "work"
        cwd.mkdir(exist_ok=True)
    env = {
        "JUPYTER_PATH": str(root),
        "JUPYTER_RUNTIME_DIR": str(root / "runtime"),
        "IPYTHONDIR": str(root / "ipython"),
    }
    with pytest.MonkeyPatch.context() as mp:
        for key, value in env.items():
            mp.setenv(key, value)
        client = nbclient.NotebookClient(
            nb, kernel_name=KERNEL, timeout=120, startup_timeout=120,
            resources={"metadata": {"path": str(cwd)}},
        )
        client.execute()
    return nb


@pytest.fixture(scope="module")
def executed(tmp_path_factory: pytest.TempPathFactory) -> Any:
    """The tutorial as a fresh kernel runs it, plus a last cell that reports the
    kernel's Python and the gradcli it imported."""
    nb = nbformat.read(TUTORIAL, as_version=4)
    nb.cells.append(nbformat.v4.new_code_cell(
        "import sys, gradcli\nprint(sys.executable)\nprint(gradcli.__file__)"
    ))
    before = sorted(TUTORIAL.parent.iterdir())
    done = run(nb, tmp_path_factory.mktemp("jupyter"), TUTORIAL.parent)  # it reads neuron.csv there
    assert sorted(TUTORIAL.parent.iterdir()) == before, "the tutorial left a file in docs/"
    return done


def test_a_cell_that_raises_fails_the_run(tmp_path: Path) -> None:
    nb = nbformat.v4.new_notebook(cells=[
        nbformat.v4.new_code_cell("import gradcli"),
        nbformat.v4.new_code_cell("gradcli.evaluate('log(x)', x=-1)"),
        nbformat.v4.new_code_cell("print('not reached')"),
    ])
    with pytest.raises(nbclient.exceptions.CellExecutionError, match="outside the domain of log"):
        run(nb, tmp_path)


def code_cells(nb: Any) -> list[Any]:
    return [c for c in nb.cells if c.cell_type == "code"]


def merged(outputs: list[Any]) -> list[Any]:
    """The outputs with consecutive stream outputs of one stream joined into one: a
    kernel sends printed text in chunks as it flushes, more of them on a busy machine."""
    out: list[Any] = []
    for o in outputs:
        if o.output_type == "stream" and out and out[-1].output_type == "stream" and out[-1].name == o.name:
            out[-1] = nbformat.v4.new_output("stream", name=o.name, text=out[-1].text + o.text)
        else:
            out.append(o)
    return out


def texts(cell: Any) -> list[str]:
    """A cell's printed text (however it was chunked) and the plain form of its value, in order."""
    out = []
    for o in merged(cell.outputs):
        if o.output_type == "stream":
            out.append(f"{o.name}: {o.text}")
        elif "data" in o:
            out.append(o.data.get("text/plain", ""))
    return out


def cell_after(nb: Any, fragment: str) -> Any:
    return next(c for c in code_cells(nb) if fragment in c.source)


def test_the_tutorial_runs_in_a_kernel_of_this_python_without_an_error(executed: Any) -> None:
    last = code_cells(executed)[-1]
    printed = merged(last.outputs)[0].text.splitlines()
    assert printed[0] == sys.executable
    assert Path(printed[1]).resolve() == (REPO / "gradcli" / "__init__.py").resolve()
    for cell in code_cells(executed):
        for o in cell.outputs:
            assert o.output_type != "error", f"{cell.source!r}: {o.ename}: {o.evalue}"
            assert not (o.output_type == "stream" and o.name == "stderr"), f"{cell.source!r}: {o.text}"


def test_the_tutorial_shows_the_circuit_s_gradients(executed: Any) -> None:
    assert texts(cell_after(executed, "r.gradient")) == ["{'x': -4.0, 'y': -4.0, 'z': 5.0}"]
    table = cell_after(executed, 'r = gradcli.evaluate("q = x + y').outputs[0].data["text/html"]
    assert '<table class="gradcli"' in table and ">z<" in table and 'title="5.0">5<' in table
    trace = cell_after(executed, "t = r.trace()").outputs[0].data["text/html"]
    assert "∂node/∂input" in trace and ">-4, 5<" in trace
    explained = "".join(texts(cell_after(executed, "t.explanation()")))
    assert "∂f/∂z = (5) = 5" in explained and "∂f/∂x = ∂f/∂q · ∂q/∂x = (-4)·(1) = -4" in explained
    marked = "".join(texts(cell_after(executed, "mark_answers")))
    assert "df/dz = 3: wrong (it is 5)" in marked


def test_the_tutorial_s_neuron_and_descent_agree_with_the_tutorials(executed: Any) -> None:
    neuron = cell_after(executed, "n = gradcli.evaluate(neuron, point)").outputs[0].data["text/plain"]
    assert "'w0': -0.19661193324148188" in neuron and "'x1': -0.5898357997244457" in neuron
    sigmoid = "".join(texts(cell_after(executed, "f = sigmoid(dot)")))
    assert "local gradient of the sigmoid gate: [0.19661193324148188]" in sigmoid
    assert "same gradient as gate by gate: True" in sigmoid
    descent = cell_after(executed, "gradcli.descend(loss")
    assert "same weights as by hand: True" in "".join(texts(descent))
    assert "not converged after 200 steps" in descent.outputs[-1].data["text/html"]


def test_the_tutorial_s_fit_learns_the_line_that_labelled_the_data(executed: Any) -> None:
    fitted = cell_after(executed, "trained = gradcli.fit(").outputs[-1].data["text/html"]
    assert "<b>not converged after 30 epochs (390 steps)</b>" in fitted and "over 400 rows" in fitted
    assert "w0 = 6.54876, w1 = -3.40149, w2 = 1.43191" in fitted  # as the README's gradcli fit prints
    classified = "".join(texts(cell_after(executed, "classified right")))
    assert "400 of 400 points classified right" in classified


def test_the_tutorial_s_pictures_are_svg_with_graphviz_and_a_tree_without(executed: Any) -> None:
    pictures = [
        c for c in code_cells(executed) if c.source.strip().endswith(("picture()", "picture(precision=2)"))
    ]
    assert len(pictures) == 3
    for cell in pictures:
        data = cell.outputs[-1].data
        if shutil.which("dot") is not None:
            assert str(data["image/svg+xml"]).startswith("<svg")
        else:
            assert '<pre class="gradcli-tree"' in data["text/html"]


def test_the_committed_outputs_are_what_a_fresh_run_prints(executed: Any) -> None:
    committed = code_cells(nbformat.read(TUTORIAL, as_version=4))
    fresh = code_cells(executed)[: len(committed)]
    assert sum(len(c.outputs) for c in committed) >= 15, f"committed without its outputs: {REGENERATE}"
    for ours, theirs in zip(committed, fresh, strict=True):
        assert ours.source == theirs.source
        stale = f"the committed outputs of {ours.source!r} are stale: {REGENERATE}"
        assert texts(ours) == texts(theirs), stale
        # the tables too (a picture is SVG here and may be the tree where Graphviz is missing)
        for a, b in zip(merged(ours.outputs), merged(theirs.outputs), strict=True):
            if "text/html" in a.get("data", {}) and "text/html" in b.get("data", {}):
                assert a.data["text/html"] == b.data["text/html"], stale


def test_printed_text_is_compared_whole_however_the_kernel_chunked_it() -> None:
    def cell(*chunks: str) -> Any:
        outputs = [nbformat.v4.new_output("stream", name="stdout", text=t) for t in chunks]
        outputs.append(nbformat.v4.new_output("execute_result", data={"text/plain": "1"}, execution_count=1))
        return nbformat.v4.new_code_cell("print(a); print(b); 1", outputs=outputs)

    assert texts(cell("a\nb\n")) == texts(cell("a\n", "b\n")) == ["stdout: a\nb\n", "1"]
    assert texts(cell("a\n")) != texts(cell("a\n", "b\n"))


def test_the_committed_notebook_is_valid_and_runs_in_order() -> None:
    nb = nbformat.read(TUTORIAL, as_version=4)
    nbformat.validate(nb)
    counts = [c.execution_count for c in code_cells(nb)]
    assert counts == list(range(1, len(counts) + 1)), REGENERATE
    assert nb.metadata.kernelspec.name == "python3"
