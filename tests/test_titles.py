"""User text echoed back (a program's comments in table titles and pictures) never
drives the terminal and never breaks a picture's syntax; a multi-line program's title
shows where its lines end."""

from __future__ import annotations

import shutil
import subprocess
import xml.etree.ElementTree as ET

import pytest

#: Comments a user (or an attacker) may write: terminal escapes, control characters,
#: characters special to HTML, DOT and Mermaid, and a right-to-left override.
NASTY = [
    "\x1b]0;pwned\x07",
    "\x1b[2J\x1b[H",
    "\x01\x08\x7f\x9b",
    '<b>&amp;"quoted"\'single\' \\ \\" \\\\',
    "\u202eevil",
    "</text><script>alert(1)</script>",
]

POINT = ["-x", "2", "-y", "3"]


def _program(comment: str) -> str:
    return f"q = x * y  # {comment}\nq + 1"


def _no_control(text: str) -> None:
    bad = [c for c in text if (c < " " and c != "\n") or "\x7f" <= c <= "\x9f" or c in "\u2028\u2029\u202e"]
    assert not bad, repr(text[:200])


@pytest.mark.parametrize("comment", NASTY, ids=range(len(NASTY)))
@pytest.mark.parametrize("command", ["eval", "trace", "check", "descend"])
def test_tables_never_echo_control_characters(run_cli, command: str, comment: str) -> None:
    extra = ["--steps", "2"] if command == "descend" else []
    code, out, _ = run_cli(command, _program(comment), *POINT, *extra)
    assert code == 0
    _no_control(out)


@pytest.mark.parametrize("comment", NASTY, ids=range(len(NASTY)))
@pytest.mark.parametrize("fmt", ["dot", "mermaid", "tree"])
def test_pictures_never_echo_control_characters(run_cli, fmt: str, comment: str) -> None:
    code, out, _ = run_cli("graph", _program(comment), *POINT, "--format", fmt)
    assert code == 0
    _no_control(out)


@pytest.mark.skipif(not shutil.which("dot"), reason="Graphviz's dot is not installed")
@pytest.mark.parametrize("comment", NASTY, ids=range(len(NASTY)))
def test_dot_and_svg_stay_valid_for_any_comment(run_cli, comment: str) -> None:
    code, dot, _ = run_cli("graph", _program(comment), *POINT)
    assert code == 0
    proc = subprocess.run(["dot", "-Tsvg"], input=dot.encode(), capture_output=True, check=False)
    assert proc.returncode == 0 and not proc.stderr, proc.stderr
    code, svg, _ = run_cli("graph", _program(comment), *POINT, "--format", "svg")
    assert code == 0
    ET.fromstring(svg.encode("utf-8"))  # well-formed XML


def test_a_multi_line_title_shows_its_line_ends(run_cli) -> None:
    code, out, _ = run_cli("eval", "a = x*2  # the scale\nb = a + y\n\nb^2", *POINT)
    assert code == 0
    assert out.splitlines()[0].rstrip() == "a = x*2 # the scale ↵ b = a + y ↵ b^2"


@pytest.mark.parametrize("text", NASTY, ids=range(len(NASTY)))
@pytest.mark.parametrize(
    "args",
    [
        # an option's value echoed by a message
        lambda t: ["eval", "a = x\nb = a*2", "x=1", "--output", t],
        # a binding's name, and a binding's value
        lambda t: ["eval", "x", f"--{t}=3"],
        lambda t: ["eval", "x", "-x", f"2{t}"],
        # a name in the program, at the caret
        lambda t: ["eval", f"q{t} = x\nq", "x=1"],
        # a click option error
        lambda t: ["descend", "x^2", "-x", "1", "--lr", t],
    ],
    ids=["output", "binding-name", "binding-value", "caret", "option-value"],
)
def test_error_messages_never_echo_control_characters(run_cli, args, text: str) -> None:
    code, _, err = run_cli(*args(text))
    assert code == 2 and err.startswith("error:"), err
    _no_control(err)


def test_the_caret_stays_under_a_character_shown_in_its_place() -> None:
    from gradcli.errors import GradError, Span, format_error

    source = "q\u202e = x + $"
    err = GradError("syntax", "unexpected character", Span(9, 10), source)
    line, caret = format_error(err).splitlines()[1:]
    assert line == "  q\ufffd = x + $"
    assert caret.index("^") == line.index("$")
