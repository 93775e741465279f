"""`graph --format html` without a browser: the page is one self-contained file whose
policy allows only its own script and style, what it says is --explain's text, and
the refusals (no Graphviz, a graph too large, an --out that cannot be written) leave
nothing behind. tests/test_webpage_browser.py drives the page in Chromium."""

from __future__ import annotations

import base64
import hashlib
import json
import os
import re
import resource
import shutil
import stat
import subprocess
import time
from pathlib import Path

import pytest
from conftest import gradcli_executable

import gradcli
from gradcli import pictures
from gradcli.explain import explanation_lines
from gradcli.webpage import page_data

needs_dot = pytest.mark.skipif(
    shutil.which("dot") is None, reason="Graphviz's dot is not installed (apt-get install graphviz)"
)
SEED = ["(x+y)*z", "-x", "2", "-y", "3", "-z", "-4"]


def _scripts(page: str) -> list[str]:
    return re.findall(r"<script>(.*?)</script>", page, re.S)


def _policy(page: str) -> str:
    found = re.search(r'<meta http-equiv="Content-Security-Policy" content="([^"]*)">', page)
    assert found, "no Content-Security-Policy"
    return found.group(1)


def _sha(text: str) -> str:
    return "'sha256-" + base64.b64encode(hashlib.sha256(text.encode("utf-8")).digest()).decode() + "'"


@needs_dot
def test_the_page_is_one_file_that_allows_only_its_own_script_and_style(run_cli) -> None:
    code, page, err = run_cli("graph", *SEED, "--format", "html")
    assert (code, err) == (0, "")
    assert page.startswith("<!DOCTYPE html>")
    policy = _policy(page)
    assert policy.startswith("default-src 'none';")
    scripts = _scripts(page)
    styles = re.findall(r"<style>(.*?)</style>", page, re.S)
    assert len(scripts) == 1 and len(styles) == 1
    assert f"script-src {_sha(scripts[0])};" in policy
    assert f"style-src {_sha(styles[0])};" in policy
    assert "unsafe-inline" not in policy and "unsafe-eval" not in policy
    # Nothing to fetch: no src attribute, no link but the empty data: icon, no URL but
    # the SVG's XML namespaces.
    assert " src=" not in page
    assert re.findall(r"<link [^>]*>", page) == ['<link rel="icon" href="data:,">']
    urls = set(re.findall(r"https?://[^\s\"'<>)]+", page))
    assert urls <= {"http://www.w3.org/2000/svg", "http://www.w3.org/1999/xlink"}
    assert "<?xml" not in page and "<!DOCTYPE svg" not in page and "<!--" not in page


@needs_dot
def test_the_page_says_what_explain_says(run_cli) -> None:
    result = gradcli.evaluate("(x+y)*z", x=2, y=3, z=-4)
    data = page_data(result)
    lines = explanation_lines(result)
    backward = lines.index("backward pass, the chain rule from f back to the inputs:")
    assert [text for _, text in data["forward"]] == [line.strip() for line in lines[1:backward]]
    assert [text for _, text in data["backward"]] == [line.strip() for line in lines[backward + 1:]]
    assert data["backward"][1] == [3, "∂f/∂z = (5) = 5   using ∂(u * v)/∂v = u"]
    # the page carries exactly this data
    _, page, _ = run_cli("graph", *SEED, "--format", "html")
    blob = re.search(r'<script type="application/json" id="gradcli-data">(.*?)</script>', page, re.S)
    assert blob and json.loads(blob.group(1)) == json.loads(json.dumps(data))


def test_a_node_lists_its_local_gradients_and_its_consumers() -> None:
    data = page_data(gradcli.evaluate("q = x + y; f = q * z", x=2, y=3, z=-4))
    names = [row[0] for row in data["nodes"]]
    q = names.index("q")
    assert data["nodes"][q] == ["q", "q = x + y", "5", "-4", "add"]
    assert data["inputs"][q] == [[0, "1", "∂(u + v)/∂u = 1"], [1, "1", "∂(u + v)/∂v = 1"]]
    assert data["uses"][q] == [[names.index("f"), "-4"]]
    x = names.index("x")
    assert data["uses"][x] == [[q, "-4"]]


def test_without_bindings_the_page_has_the_structure_and_no_steps() -> None:
    from gradcli.api import compile

    data = page_data(compile("(x+y)*z", None))
    assert data["numbers"] is False
    assert data["forward"] == [] and data["backward"] == []
    assert data["nodes"][2] == ["n2", "n2 = x + y", None, None, "add"]


def test_a_branch_not_taken_is_said_so() -> None:
    data = page_data(gradcli.evaluate("if(x > 0, log(x), 0)", x=-1))
    lines = [text for _, text in data["forward"]]
    assert any("not evaluated (a branch of if not taken)" in line for line in lines)


@needs_dot
@pytest.mark.parametrize(
    "source",
    [
        "x # </script><script>alert(1)</script>",
        "x # <!-- <script> --> ]]> &amp; \"'",
        "x # </svg><img src=x onerror=alert(1)>",
    ],
)
def test_the_program_text_cannot_add_markup_or_scripts(run_cli, source: str) -> None:
    code, page, err = run_cli("graph", source, "-x", "2", "--format", "html")
    assert (code, err) == (0, "")
    assert page.count("<script") == 2  # the data and the page's own script
    assert "<img" not in page and "alert(1)</script>" not in page
    assert len(_scripts(page)) == 1
    blob = re.search(r'id="gradcli-data">(.*?)</script>', page, re.S)
    assert blob and json.loads(blob.group(1))["source"] == source


def test_html_without_graphviz_says_how_to_install_it(run_cli, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PATH", "")
    code, out, err = run_cli("graph", *SEED, "--format", "html")
    assert (code, out) == (2, "")
    assert err.startswith("error: --format html needs Graphviz's dot program, which is not on PATH")
    assert "apt-get install graphviz" in err and "Traceback" not in err


def test_a_graph_larger_than_the_page_holds_is_refused_up_front(run_cli, tmp_path: Path) -> None:
    source = "+".join(f"sin(x*{i})" for i in range(pictures.MAX_RENDER_NODES))
    target = tmp_path / "big.html"
    start = time.monotonic()
    code, out, err = run_cli("graph", source, "-x", "1", "--out", str(target))
    assert (code, out) == (2, "")
    assert err.startswith(f"error: --format html renders at most {pictures.MAX_RENDER_NODES:,} nodes")
    assert time.monotonic() - start < 10
    assert not target.exists()


@needs_dot
@pytest.mark.parametrize(("name", "fmt"), [("c.html", "html"), ("c.HTM", "html")])
def test_the_html_extension_implies_the_format(run_cli, tmp_path: Path, name: str, fmt: str) -> None:
    target = tmp_path / name
    assert run_cli("graph", *SEED, "--out", str(target))[0] == 0
    assert target.read_text(encoding="utf-8").startswith("<!DOCTYPE html>")


def test_a_format_that_contradicts_an_html_name_is_refused(run_cli, tmp_path: Path) -> None:
    code, _, err = run_cli("graph", *SEED, "--format", "svg", "--out", str(tmp_path / "c.html"))
    assert code == 2 and err.startswith("error: --format svg disagrees with --out")
    assert list(tmp_path.iterdir()) == []


# --- --out that cannot be written: an error, exit 2, and never a part of a file ----------


@needs_dot
@pytest.mark.parametrize("where", ["missing folder", "a folder", "/dev/full"])
def test_an_unwritable_out_is_a_usage_error(run_exe, tmp_path: Path, where: str) -> None:
    device = os.path.exists("/dev/full") and stat.S_ISCHR(os.stat("/dev/full").st_mode)
    if where == "/dev/full" and not device:
        pytest.skip("/dev/full is not the full device on this machine")
    target = {
        "missing folder": str(tmp_path / "no" / "such" / "c.html"),
        "a folder": str(tmp_path),
        "/dev/full": "/dev/full",
    }[where]
    code, out, err = run_exe("graph", *SEED, "--format", "html", "--out", target)
    assert (code, out) == (2, "")
    assert err.startswith("error: cannot write --out ") and "Traceback" not in err
    assert len(err.splitlines()) == 1
    assert [p for p in tmp_path.iterdir()] == []


@needs_dot
@pytest.mark.skipif(os.geteuid() == 0, reason="root writes into a read-only folder anyway")
def test_a_read_only_folder_is_a_usage_error(run_exe, tmp_path: Path) -> None:
    folder = tmp_path / "ro"
    folder.mkdir()
    folder.chmod(0o500)
    try:
        code, _, err = run_exe("graph", *SEED, "--format", "html", "--out", str(folder / "c.html"))
        assert code == 2 and "Permission denied" in err
        assert list(folder.iterdir()) == []
    finally:
        folder.chmod(0o700)


def _limited(args: list[str], limit: int) -> subprocess.CompletedProcess[bytes]:
    """Run gradcli with files capped at ``limit`` bytes: a write past it fails (EFBIG)
    halfway through, as on a full disk."""

    def cap() -> None:
        resource.setrlimit(resource.RLIMIT_FSIZE, (limit, limit))

    return subprocess.run(
        [gradcli_executable(), *args], capture_output=True, preexec_fn=cap, timeout=120, check=False
    )


@pytest.mark.parametrize("fmt", ["html", "svg", "dot", "mermaid"])
def test_a_write_that_fails_midway_leaves_no_part_of_a_file(tmp_path: Path, fmt: str) -> None:
    if fmt in ("html", "svg") and shutil.which("dot") is None:
        pytest.skip("Graphviz's dot is not installed")
    target = tmp_path / "c.out"
    proc = _limited(["graph", *SEED, "--format", fmt, "--out", str(target)], 200)
    assert proc.returncode == 2, proc.stderr
    assert proc.stderr.decode().startswith("error: cannot write --out ")
    assert list(tmp_path.iterdir()) == []  # neither the file nor a temporary one


def test_a_write_that_fails_midway_keeps_the_old_file(tmp_path: Path) -> None:
    target = tmp_path / "c.dot"
    target.write_text("the old picture\n")
    proc = _limited(["graph", *SEED, "--out", str(target)], 200)
    assert proc.returncode == 2
    assert target.read_text() == "the old picture\n"
    assert [p.name for p in tmp_path.iterdir()] == ["c.dot"]


def test_out_replaces_a_file_keeping_its_permissions_and_links(run_cli, tmp_path: Path) -> None:
    real = tmp_path / "real.dot"
    real.write_text("old\n")
    real.chmod(0o640)
    link = tmp_path / "link.dot"
    link.symlink_to(real)
    assert run_cli("graph", *SEED, "--out", str(link))[0] == 0
    assert link.is_symlink() and real.read_text().startswith("digraph")
    assert stat.S_IMODE(real.stat().st_mode) == 0o640
    fresh = tmp_path / "new.dot"
    umask = os.umask(0o022)
    try:
        assert run_cli("graph", *SEED, "--out", str(fresh))[0] == 0
    finally:
        os.umask(umask)
    assert stat.S_IMODE(fresh.stat().st_mode) == 0o644
    assert sorted(p.name for p in tmp_path.iterdir()) == ["link.dot", "new.dot", "real.dot"]
