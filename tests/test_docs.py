"""The README is the front door and docs/ the manual: the README's set-up commands are
what CI runs, the manual covers every command, option and function, and every example
that shows output is re-run here and compared with what the page shows.

A checked example is a ```console block: each ``$ `` line is a shell command and the
lines under it, up to the next ``$ `` line, are what it prints (standard output, then
standard error). A plain ``gradcli ...`` command runs in-process; anything else (a
pipe, a redirection, ``printf``, ``jq``) runs in bash with the installed ``gradcli``
first on ``PATH``. A ```pycon block is run as a doctest. No other block may show a
``$ `` or ``>>> `` prompt, so an example with output cannot escape the check.
"""

from __future__ import annotations

import doctest
import os
import re
import shlex
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

import pytest
from conftest import REPO, gradcli_executable

import gradcli
from gradcli.cli import cli
from gradcli.ops import FUNCTIONS

README = REPO / "README.md"
PAGES = [README, *sorted((REPO / "docs").glob("*.md"))]
CI = (REPO / ".ci" / "run").read_text(encoding="utf-8")
FENCE = re.compile(r"^```([a-z]*)\n(.*?)^```$", flags=re.S | re.M)


@dataclass(frozen=True)
class Block:
    page: Path
    line: int
    lang: str
    text: str


@dataclass(frozen=True)
class Example:
    page: Path
    line: int
    command: str
    expected: str

    @property
    def id(self) -> str:
        return f"{self.page.name}:{self.line}:{self.command[:50]}"


def blocks(page: Path) -> list[Block]:
    text = page.read_text(encoding="utf-8")
    return [
        Block(page, text.count("\n", 0, m.start()) + 1, m.group(1), m.group(2))
        for m in FENCE.finditer(text)
    ]


ALL_BLOCKS = [b for page in PAGES for b in blocks(page)]
MANUAL = "\n".join(p.read_text(encoding="utf-8") for p in PAGES)


def examples() -> list[Example]:
    """Every command of every console block, with the output shown under it."""
    found = []
    for block in ALL_BLOCKS:
        if block.lang != "console":
            continue
        lines = block.text.splitlines()
        assert lines and lines[0].startswith("$ "), f"{block.page.name}:{block.line}"
        for i, line in enumerate(lines):
            if not line.startswith("$ "):
                continue
            out = []
            for follow in lines[i + 1 :]:
                if follow.startswith("$ "):
                    break
                out.append(follow)
            found.append(Example(block.page, block.line + 1 + i, line[2:], "\n".join(out)))
    return found


EXAMPLES = examples()


def normalise(text: str) -> str:
    """Trailing spaces and trailing blank lines are not part of what a reader sees."""
    return "\n".join(line.rstrip() for line in text.rstrip().splitlines())


def needs_shell(command: str) -> bool:
    """True unless the command is one plain ``gradcli`` call (no pipe, redirection,
    second command or substitution)."""
    lexer = shlex.shlex(command, posix=True, punctuation_chars=True)
    lexer.whitespace_split = True
    tokens = list(lexer)
    return (
        tokens[0] != "gradcli"
        or any(set(token) <= set("|&;<>()") for token in tokens)
        or "$" in command
    )


def shell_env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in ("COLUMNS", "LINES")}
    env["PATH"] = f"{Path(gradcli_executable()).parent}{os.pathsep}{env.get('PATH', '')}"
    env["PYTHONUNBUFFERED"] = "1"
    return env


def run_in_shell(command: str, cwd: Path) -> str:
    """The command as a user's bash runs it, output and errors in the order written."""
    proc = subprocess.run(
        ["bash", "-c", command],
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        encoding="utf-8",
        cwd=cwd,
        env=shell_env(),
        timeout=120,
    )
    return proc.stdout


# -- the README: the front door ------------------------------------------------------


def test_the_readme_opens_with_the_two_set_up_commands() -> None:
    first, second = blocks(README)[:2]
    install_and_run, install_and_test = first.text.strip(), second.text.strip()
    assert "pip install" in install_and_run
    assert install_and_run.endswith('gradcli eval "(x+y)*z" -x 2 -y 3 -z -4')
    assert "pip install" in install_and_test and "'.[test]'" in install_and_test
    assert "pytest" in install_and_test


def test_ci_runs_the_readme_test_command_verbatim() -> None:
    assert blocks(README)[1].text.strip() in CI.splitlines()


def test_the_readme_stays_a_front_door() -> None:
    text = README.read_text(encoding="utf-8")
    assert len(text.splitlines()) <= 250
    assert "docs/neuron.svg" in text


def test_the_readme_links_every_page_of_the_manual() -> None:
    text = README.read_text(encoding="utf-8")
    for page in PAGES[1:]:
        assert f"(docs/{page.name}" in text, page.name


def test_every_relative_link_in_the_manual_resolves() -> None:
    for page in PAGES:
        text = page.read_text(encoding="utf-8")
        for target in re.findall(r"\]\(([^)#:\s]+)(?:#[^)]*)?\)", text):
            assert (page.parent / target).exists(), f"{page.name}: {target}"


def test_every_anchor_in_the_manual_exists() -> None:
    anchors: dict[Path, set[str]] = {}
    for page in PAGES:
        text = page.read_text(encoding="utf-8")
        heads = re.findall(r"^#+ (.+)$", FENCE.sub("", text), flags=re.M)
        slugs = {re.sub(r"[^\w\- ]", "", h.strip().lower()).replace(" ", "-") for h in heads}
        anchors[page.resolve()] = slugs | set(re.findall(r'<a id="([^"]+)"', text))
    for page in PAGES:
        text = page.read_text(encoding="utf-8")
        for target, anchor in re.findall(r"\]\(([^)#:\s]*)#([^)\s]+)\)", text):
            where = (page.parent / target).resolve() if target else page.resolve()
            assert anchor in anchors[where], f"{page.name}: {target}#{anchor}"


# -- the manual covers everything -----------------------------------------------------


@pytest.mark.parametrize("command", sorted(cli.commands))
def test_every_command_is_documented(command: str) -> None:
    assert f"gradcli {command}" in (REPO / "docs" / "commands.md").read_text(encoding="utf-8")


@pytest.mark.parametrize(
    ("command", "option"),
    sorted(
        (name, opt)
        for name, cmd in cli.commands.items()
        for param in cmd.params
        if param.param_type_name == "option"
        for opt in param.opts
    ),
)
def test_every_option_is_documented(command: str, option: str) -> None:
    assert re.search(rf"`{re.escape(option)}\b", (REPO / "docs" / "commands.md").read_text(encoding="utf-8"))


@pytest.mark.parametrize("module", sorted(p.name for p in (REPO / "gradcli").glob("*.py")))
def test_every_module_is_in_the_data_flow(module: str) -> None:
    text = (REPO / "docs" / "architecture.md").read_text(encoding="utf-8")
    assert f"`{module}`" in text.split("## The data flow", 1)[1].split("\n## ", 1)[0]


@pytest.mark.parametrize("name", sorted(gradcli.__all__))
def test_every_public_name_is_in_the_api_page(name: str) -> None:
    assert re.search(rf"\b{re.escape(name)}\b", (REPO / "docs" / "api.md").read_text(encoding="utf-8"))


@pytest.mark.parametrize("kind", sorted(gradcli.EXIT_CODES))
def test_every_error_kind_is_in_the_errors_page(kind: str) -> None:
    text = (REPO / "docs" / "errors.md").read_text(encoding="utf-8")
    assert f"| `{kind}` | {gradcli.EXIT_CODES[kind]} |" in text


@pytest.mark.parametrize("name", sorted(FUNCTIONS))
def test_every_function_is_in_the_language_page(name: str) -> None:
    text = (REPO / "docs" / "language.md").read_text(encoding="utf-8")
    assert re.search(rf"\b{name}\b", text.split("## Functions", 1)[1]), name


def test_the_benchmark_figures_are_those_of_the_results_files() -> None:
    text = (REPO / "docs" / "architecture.md").read_text(encoding="utf-8")
    table = text.split("### The figures", 1)[1].split("\n\n", 2)[2].split("\n\n", 1)[0]
    results = "".join((REPO / "bench" / name).read_text(encoding="utf-8")
                      for name in ("RESULTS.md", "RESULTS-batch.md", "RESULTS-memory.md"))
    figures = re.findall(r"(\d[\d,.]*)(?: (?:ms|s|MiB|rows/s)|×|x)(?![\w^])", table)
    assert len(figures) >= 20
    for number in figures:
        assert number in results, (
            f"docs/architecture.md quotes {number}, which bench/RESULTS*.md no longer holds: "
            "copy the new figures into its table"
        )


PRODUCT = [
    path
    for folder in ("gradcli", "tests", "grammar", "bench", "completions", "docs", ".ci")
    for path in sorted((REPO / folder).rglob("*"))
    if path.is_file() and path.suffix in ("", ".py", ".lark", ".md", ".bash", ".zsh", ".fish", ".toml")
] + [README, REPO / "pyproject.toml"]


def test_the_product_stands_on_its_own_and_cites_no_outside_spec() -> None:
    word = "SP" + "EC"
    for path in PRODUCT:
        text = path.read_text(encoding="utf-8", errors="replace")
        assert not re.search(rf"\b{word}\b", text), path.relative_to(REPO)


def test_every_name_the_text_gives_in_the_op_table_exists() -> None:
    from gradcli import ops

    for path in PRODUCT:
        text = path.read_text(encoding="utf-8", errors="replace")
        for name in re.findall(r"\bops\.([A-Za-z_]\w*)", text):
            assert name == "py" or hasattr(ops, name), f"{path.relative_to(REPO)}: ops.{name}"


# -- every example is real output ----------------------------------------------------


def test_no_prompt_outside_a_checked_block() -> None:
    for block in ALL_BLOCKS:
        if block.lang in ("console", "pycon"):
            continue
        prompts = [line for line in block.text.splitlines() if line.startswith(("$ ", ">>> "))]
        assert not prompts, f"{block.page.name}:{block.line}: mark it console or pycon"


def test_the_manual_has_examples() -> None:
    assert len(EXAMPLES) >= 40
    assert {e.page.name for e in EXAMPLES} >= {
        "README.md", "commands.md", "json.md", "batch.md", "errors.md",
    }


@pytest.mark.parametrize("example", EXAMPLES, ids=[e.id for e in EXAMPLES])
def test_examples_print_what_the_manual_shows(run_cli, tmp_path: Path, example: Example) -> None:
    if needs_shell(example.command):
        if "jq " in example.command and shutil.which("jq") is None:
            pytest.skip("jq is not installed")
        shown = run_in_shell(example.command, tmp_path)
    else:
        _, out, err = run_cli(*shlex.split(example.command)[1:])
        shown = out + err
    if "| jq" in example.command:
        # jq 1.7 writes the float 5.0 as 5.0, jq 1.6 as 5: the pages show jq 1.6.
        shown = re.sub(r"(\d)\.0(?=[,\]}\s]|$)", r"\1", shown)
    assert normalise(shown) == normalise(example.expected)


@pytest.mark.parametrize(
    "page", sorted({b.page for b in ALL_BLOCKS if b.lang == "pycon"}), ids=lambda p: p.name
)
def test_python_examples_run_as_shown(page: Path) -> None:
    """A page's pycon blocks run in order in one namespace, as one session would."""
    parser = doctest.DocTestParser()
    runner = doctest.DocTestRunner(optionflags=doctest.ELLIPSIS)
    namespace: dict[str, object] = {}
    for block in (b for b in ALL_BLOCKS if b.page == page and b.lang == "pycon"):
        name = f"{page.name}:{block.line}"
        test = parser.get_doctest(block.text, namespace, name, str(page), block.line)
        runner.run(test, clear_globs=False)
        namespace = test.globs
    assert runner.failures == 0, runner.summarize()


def run_plain(command: str, cwd: Path) -> str:
    """One plain ``gradcli`` call as the in-process check sees it: output, then errors."""
    proc = subprocess.run(
        shlex.split(command), stdin=subprocess.DEVNULL, capture_output=True, text=True,
        encoding="utf-8", cwd=cwd, env=shell_env(), timeout=120,
    )
    return proc.stdout + proc.stderr


def update(pages: list[Path]) -> int:
    """Rewrite the output under every ``$ `` line of the console blocks of PAGES with
    what the command prints now. Run it after a change of output, then read the diff."""
    import tempfile

    changed = 0
    with tempfile.TemporaryDirectory() as cwd:
        for page in pages:
            text = page.read_text(encoding="utf-8")

            def rerun(match: re.Match[str]) -> str:
                if match.group(1) != "console":
                    return match.group(0)
                out = []
                for line in match.group(2).splitlines():
                    if line.startswith("$ "):
                        command = line[2:]
                        run = run_in_shell if needs_shell(command) else run_plain
                        shown = normalise(run(command, Path(cwd)))
                        out += [line, *([shown] if shown else [])]
                return "```console\n" + "\n".join(out) + "\n```"

            new = FENCE.sub(rerun, text)
            if new != text:
                page.write_text(new, encoding="utf-8")
                changed += 1
                print(f"updated {page.relative_to(REPO)}")
    return changed


if __name__ == "__main__":
    import sys

    # python tests/test_docs.py [PAGE ...]: regenerate the examples' output (all pages by default).
    update([Path(p).resolve() for p in sys.argv[1:]] or PAGES)
