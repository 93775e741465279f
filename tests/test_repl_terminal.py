"""gradcli repl on a real pseudo-terminal, driven with pexpect as a person types:
prompt_toolkit's line editor, history across sessions, TAB, Ctrl-C, Ctrl-D."""

from __future__ import annotations

import os
import random
import re
from pathlib import Path

import pytest
from conftest import gradcli_executable

pexpect = pytest.importorskip("pexpect")
pytest.importorskip("prompt_toolkit")

PROMPT = "gradcli>"
NO_PROMPT_TOOLKIT = str(Path(__file__).resolve().parent / "no_prompt_toolkit")
UP = "\x1b[A"
CTRL_C = "\x03"
CTRL_D = "\x04"
#: What prompt_toolkit sends when a line is accepted (it turns bracketed paste off).
ACCEPTED = "\x1b[?2004l"


def _spawn(state: Path, columns: int = 100, env: dict[str, str] | None = None) -> pexpect.spawn:
    environment = {
        **os.environ,
        "TERM": "xterm-256color",
        "XDG_STATE_HOME": str(state),
        # pexpect is no terminal emulator: it never answers prompt_toolkit's question
        # "where is the cursor?", which prompt_toolkit would wait for before giving up.
        "PROMPT_TOOLKIT_NO_CPR": "1",
        **(env or {}),
    }
    environment.pop("NO_COLOR", None)
    child = pexpect.spawn(
        gradcli_executable(), ["repl"], env=environment, encoding="utf-8", codec_errors="replace",
        dimensions=(30, columns), timeout=30,
    )
    child.expect(PROMPT)
    return child


_ESCAPE = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]|\x1b\][^\x07]*\x07|\r")


def _line(child: pexpect.spawn, text: str) -> str:
    """Type a line and wait for the next prompt: what the terminal showed, escape
    sequences left out (the highlighted echo of the line, then what it printed)."""
    child.send(text + "\r")
    return _printed(child)


def _pasted(text: str) -> str:
    """``text`` as a terminal sends a paste (bracketed: one insertion, not a key each)."""
    return f"\x1b[200~{text}\x1b[201~"


def _printed(child: pexpect.spawn) -> str:
    """What the line just entered printed, up to the next prompt (prompt_toolkit draws
    the prompt again as a line is typed: the end of the line is when it turns
    bracketed paste off)."""
    child.expect_exact(ACCEPTED)
    child.expect(PROMPT)
    return _ESCAPE.sub("", child.before or "")


def _leave(child: pexpect.spawn) -> int:
    child.send(CTRL_D)
    child.expect(pexpect.EOF)
    child.close()
    return child.exitstatus


def test_definitions_accumulate_bind_eval_and_trace(tmp_path: Path) -> None:
    child = _spawn(tmp_path)
    _line(child, "q = x + y")
    _line(child, "f = q * z")
    _line(child, ":bind x=2 y=3 z=-4")
    assert "│ f (output) │   -20 │          │" in _line(child, ":eval")
    assert "│  2 │ q     │ add │ 0, 1   │     5 │         1, 1 │       -4 │" in _line(child, ":trace")
    assert "note: q replaced (was: q = x + y)" in _line(child, "q = x * y")  # f now uses it
    assert "│ f (output) │   -24 │" in _line(child, "f")
    assert _leave(child) == 0


def test_an_error_shows_its_caret_and_the_session_goes_on(tmp_path: Path) -> None:
    child = _spawn(tmp_path)
    assert _line(child, "q = x +* y").endswith(
        "error: unexpected '*': expected a number, a name or '(' after '+'\n  q = x +* y\n         ^\n"
    )
    assert "│ f (output) │    42 │" in _line(child, "6 * 7")
    assert _leave(child) == 0


def test_tab_completes_functions_names_and_commands(tmp_path: Path) -> None:
    child = _spawn(tmp_path)
    _line(child, "velocity = 3")
    child.send("sigm\t")  # -> sigmoid(
    child.send("0) + veloc\t")  # -> velocity
    shown = _line(child, "")
    assert "sigmoid(0)+velocity" in re.sub(r"\s", "", shown)  # the table's title (wrapped)
    assert "│ f (output) │   3.5 │" in shown
    child.send(":li\t")  # -> :list
    assert "velocity = 3" in _line(child, "")
    assert _leave(child) == 0


def test_history_is_kept_across_sessions(tmp_path: Path) -> None:
    child = _spawn(tmp_path)
    _line(child, "answer = 6 * 7")
    assert _leave(child) == 0
    history = tmp_path / "gradcli" / "history"
    assert "+answer = 6 * 7" in history.read_text(encoding="utf-8")

    child = _spawn(tmp_path)
    _line(child, UP)  # the last line of the session before
    assert "│ answer (output) │    42 │" in _line(child, "answer")
    assert _leave(child) == 0


def test_a_history_that_cannot_be_written_is_kept_in_memory_and_said_once(tmp_path: Path) -> None:
    blocked = tmp_path / "a-file"
    blocked.write_text("not a directory")
    child = _spawn(blocked)  # $XDG_STATE_HOME/gradcli cannot be made under a file
    said = _ESCAPE.sub("", child.before or "")
    assert said.count("note: history is kept for this session only: cannot write") == 1
    _line(child, "a = 1")
    _line(child, "b = 2")
    _line(child, UP)  # the history of this session still works: b = 2 again
    shown = _line(child, "b")
    assert "│ b (output) │     2 │" in shown
    assert "history is kept" not in shown
    assert _leave(child) == 0


def test_ctrl_c_cancels_the_line(tmp_path: Path) -> None:
    child = _spawn(tmp_path)
    child.send("1 + (")
    child.send(CTRL_C)
    child.expect_exact(ACCEPTED)  # the line is given up
    child.expect(PROMPT)
    shown = _line(child, "2 * 3")
    assert "│ f (output) │     6 │" in shown
    assert "error" not in shown
    assert _leave(child) == 0


def test_ctrl_c_during_an_evaluation_cancels_it(tmp_path: Path) -> None:
    child = _spawn(tmp_path)
    # Pasted, as a terminal sends a paste; it takes seconds to evaluate.
    child.send(_pasted("f = " + "+".join(["x"] * 200_000) + "; f * 2") + "\r")
    child.expect_exact(ACCEPTED, timeout=120)
    child.send(CTRL_C)
    child.expect("error: interrupted", timeout=120)
    child.expect(PROMPT)
    assert re.search(r"│ (f|out) \(output\) │ +7 │", _line(child, "7"))
    assert _leave(child) == 0


def test_ctrl_d_leaves_with_exit_0_even_after_errors(tmp_path: Path) -> None:
    child = _spawn(tmp_path)
    assert "error: log(-1) is outside the domain" in _line(child, "log(-1)")
    assert _leave(child) == 0


def test_quit_leaves(tmp_path: Path) -> None:
    child = _spawn(tmp_path)
    child.send(":quit\r")
    child.expect(pexpect.EOF)
    child.close()
    assert child.exitstatus == 0


def test_a_40_column_terminal_keeps_every_number_whole(tmp_path: Path) -> None:
    child = _spawn(tmp_path, columns=40)
    _line(child, "f = 1/(1+exp(-(w0*x0+w1*x1+w2)))")
    _line(child, ":bind w0=2 x0=-1 w1=-3 x1=-2 w2=-3")
    shown = _line(child, ":eval")
    for number in ("0.731059", "-0.196612", "0.393224", "-0.589836"):
        assert number in shown
    table = shown.split("\n", 1)[1]  # after the echo of the line
    assert all(len(line) <= 40 for line in table.splitlines()), table
    assert "│ out (output) │     2 │" in _line(child, "1+1")  # f is taken
    assert _leave(child) == 0


def test_a_huge_line_is_read(tmp_path: Path) -> None:
    child = _spawn(tmp_path)
    child.send(_pasted("f = " + "+".join(["x"] * 50_000)) + "\r")  # 100 kB
    child.expect_exact(ACCEPTED, timeout=120)
    child.expect(PROMPT, timeout=120)
    _line(child, ":bind x=2")
    assert "100000" in _line(child, ":eval")
    # Typed key by key, a line of a few thousand characters is read as well.
    assert "501" in _line(child, "+".join(["1"] * 501))
    assert _leave(child) == 0


def test_binary_bytes_and_escape_sequences_typed_leave_the_session_working(tmp_path: Path) -> None:
    child = _spawn(tmp_path)
    child.send(b"\x00\x01\xff\xfe\x1b[2J\x1b]0;pwned\x07\x9b\x7f garbage".decode("latin-1"))
    _line(child, "")
    assert "│ f (output) │     4 │" in _line(child, "2 + 2")
    assert _leave(child) == 0


def test_without_prompt_toolkit_a_terminal_is_told_how_to_install_it(tmp_path: Path) -> None:
    child = pexpect.spawn(
        gradcli_executable(), ["repl"], encoding="utf-8", timeout=30,
        env={**os.environ, "PYTHONPATH": NO_PROMPT_TOOLKIT, "XDG_STATE_HOME": str(tmp_path)},
    )
    child.expect(re.escape(
        "error: gradcli repl on a terminal needs prompt_toolkit: pip install 'gradcli[repl]'"
    ))
    child.expect(pexpect.EOF)
    child.close()
    assert child.exitstatus == 2


def test_fuzz_lines_typed_at_the_terminal_leave_it_alive(tmp_path: Path) -> None:
    from fuzz_repl import repl_lines

    child = _spawn(tmp_path)
    rng = random.Random(19)
    typed = 0
    for _ in range(12):
        for line in repl_lines(rng):
            # Each fuzz line typed as one line (a line end typed is Enter), control
            # characters left out: typed at a terminal they are keys (Ctrl-C, Ctrl-D...).
            line = "".join(c if c.isprintable() else " " for c in line)[:2000]
            shown = _line(child, line)
            assert "Traceback" not in shown and "internal error" not in shown, shown
            typed += 1
    assert typed > 12
    _line(child, ":reset")
    _line(child, "alive = 6 * 7")
    assert "│ alive (output) │    42 │" in _line(child, "alive")
    assert _leave(child) == 0


def test_the_history_lives_in_the_xdg_state_directory(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    from gradcli.repl_terminal import history_path

    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path))
    assert history_path() == tmp_path / "gradcli" / "history"
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    for unset in ("", "relative/state"):  # a relative path is ignored, as the XDG rules say
        monkeypatch.setenv("XDG_STATE_HOME", unset)
        assert history_path() == tmp_path / "home" / ".local" / "state" / "gradcli" / "history"


def test_the_lexer_colours_the_languages_tokens() -> None:
    from gradcli.repl_terminal import GradLexer
    from gradcli.session import Session

    session = Session()
    session.enter("q = x + 1")
    styles = {text: style for style, text in GradLexer(session).fragments("f = sin(q) * pi + nope(2) # c ?")}
    assert styles["sin"] == "class:function"
    assert styles["q"] == "class:defined"
    assert styles["pi"] == "class:constant"
    assert styles["nope"] == "class:error"  # no such function
    assert styles["2"] == "class:number"
    assert styles["# c ?"] == "class:comment"
    assert styles["*"] == "class:operator"
    assert GradLexer(session).fragments(":eval q")[0] == ("class:command", ":eval")
    assert GradLexer(session).fragments(":nope")[0] == ("class:error", ":nope")
