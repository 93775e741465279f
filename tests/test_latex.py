"""LaTeX hand-outs: every output compiles with pdflatex in a minimal document."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

from gradcli.latex import PREAMBLE, name, number, text

PDFLATEX = shutil.which("pdflatex")
needs_tex = pytest.mark.skipif(
    PDFLATEX is None, reason="pdflatex is not installed (apt-get install texlive-latex-base)"
)

NEURON = ("1/(1+exp(-(w0*x0 + w1*x1 + w2)))", "--w0", "2", "--x0", "-1", "--w1", "-3", "--x1", "-2",
          "--w2", "-3")
TUTORIAL = ("q = x + y; f = q * z", "-x", "2", "-y", "3", "-z", "-4")
AWKWARD = ("θ_1 = w_0*x^2 + café*中; out = if(θ_1 >= 0, θ_1, -θ_1) # a comment",
           "-w_0", "2", "-x", "-1", "--café", "0.5", "--中", "1e-30")


def compile_latex(body: str, tmp_path: Path) -> subprocess.CompletedProcess[str]:
    doc = tmp_path / "doc.tex"
    doc.write_text(PREAMBLE + body + "\n\\end{document}\n", encoding="utf-8")
    return subprocess.run(
        [PDFLATEX, "-interaction=nonstopmode", "-halt-on-error", "doc.tex"],  # type: ignore[list-item]
        cwd=tmp_path, capture_output=True, text=True, timeout=120, stdin=subprocess.DEVNULL,
    )


@needs_tex
@pytest.mark.parametrize(
    "args",
    [
        ("trace", *TUTORIAL, "--format", "latex"),
        ("trace", *TUTORIAL, "--format", "latex", "--blank"),
        ("trace", *TUTORIAL, "--format", "latex", "--explain"),
        ("trace", *NEURON, "--format", "latex", "--explain"),
        ("eval", *NEURON, "--format", "latex", "--explain"),
        ("eval", *TUTORIAL, "--format", "latex"),
        ("trace", *AWKWARD, "--format", "latex", "--explain"),
        ("eval", *AWKWARD, "--format", "latex", "--explain"),
        ("eval", "x^-2 + tau*y/1e-7 + max(x, y, 3)", "-x", "1e-5", "-y", "2",
         "--format", "latex", "--explain"),
    ],
    ids=["trace", "trace-blank", "trace-explain", "neuron-trace", "neuron-eval", "eval", "awkward-trace",
         "awkward-eval", "numbers"],
)
def test_the_latex_compiles(run_cli, tmp_path: Path, args: tuple[str, ...]) -> None:
    code, out, err = run_cli(*args)
    assert code == 0, err
    proc = compile_latex(out, tmp_path)
    assert proc.returncode == 0, proc.stdout[-3000:]
    assert (tmp_path / "doc.pdf").stat().st_size > 0


def test_the_chain_rule_is_an_align(run_cli) -> None:
    code, out, _ = run_cli("eval", *TUTORIAL, "--explain", "--format", "latex")
    assert code == 0
    assert r"\begin{tabular}" in out and r"\begin{align*}" in out and r"\end{align*}" in out
    assert (r"\frac{\partial f}{\partial x} &= \frac{\partial f}{\partial q}\cdot"
            r"\frac{\partial q}{\partial x} = (-4)\cdot(1) = -4") in out


def test_a_blank_latex_sheet_has_no_gradients(run_cli) -> None:
    code, out, _ = run_cli("trace", *TUTORIAL, "--format", "latex", "--blank")
    assert code == 0
    rows = [line for line in out.splitlines() if (line.endswith(r"\\") and "var" in line) or "mul" in line]
    assert rows and all(line.rstrip(" \\").endswith("&  &") for line in rows)


def test_user_text_is_escaped() -> None:
    assert text("w_0 # $ % & ~ ^ { } \\") == (
        r"w\_0 \# \$ \% \& \textasciitilde{} \textasciicircum{} \{ \} \textbackslash{}"
    )
    assert text("θ") == r"\ensuremath{\theta}"
    assert text("café") == r"caf\'{e}"
    assert text("中") == r"\ensuremath{\langle}U+4E2D\ensuremath{\rangle}"
    assert name("θ") == r"\theta" and name("x") == "x" and name("w_0") == r"\textit{w\_0}"


def test_numbers_in_math() -> None:
    assert number(2.5e43, 6) == r"2.5\times10^{43}"
    assert number(-0.196612, 6) == "-0.196612"
    assert number(None, 6) == r"\text{---}"


@pytest.mark.parametrize(
    "args",
    [
        ("trace", *TUTORIAL, "--format", "latex", "--json"),
        ("trace", *TUTORIAL, "--format", "latex", "--exact"),
        ("eval", *TUTORIAL, "--format", "latex", "--json"),
        ("eval", "x", "--grid", "x=0:1:3", "--format", "latex"),
    ],
)
def test_latex_refuses_what_it_cannot_show(run_cli, args: tuple[str, ...]) -> None:
    code, _, err = run_cli(*args)
    assert code == 2 and "latex" in err


def test_the_handout_in_the_docs_is_what_the_commands_print(run_cli) -> None:
    page = (Path(__file__).resolve().parents[1] / "docs" / "handout.tex").read_text(encoding="utf-8")
    for extra in (("--blank",), ("--explain",)):
        code, out, _ = run_cli("trace", *TUTORIAL, *extra, "--format", "latex")
        assert code == 0 and out in page, extra


@needs_tex
def test_the_handout_in_the_docs_compiles(tmp_path: Path) -> None:
    page = (Path(__file__).resolve().parents[1] / "docs" / "handout.tex").read_text(encoding="utf-8")
    body = page.split("\\begin{document}\n", 1)[1].rsplit("\\end{document}", 1)[0]
    proc = compile_latex(body, tmp_path)
    assert proc.returncode == 0, proc.stdout[-3000:]
