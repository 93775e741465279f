"""``gradcli repl`` on a terminal: prompt_toolkit's line editor around :class:`~gradcli.repl.Repl`.

History is kept across sessions in the user's state directory
(``$XDG_STATE_HOME/gradcli/history``, else ``~/.local/state/gradcli/history``);
when it cannot be written the session keeps its history in memory and says so
once. TAB completes functions, constants, the session's names and the
``:commands``; the line is highlighted by a lexer made of the language's own
tokens (:mod:`gradcli.fastparse`'s patterns, the grammar's terminals). This is the
one module that imports prompt_toolkit, and only ``gradcli repl`` imports it.
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path

from prompt_toolkit import PromptSession
from prompt_toolkit.completion import CompleteEvent, Completer, Completion
from prompt_toolkit.document import Document
from prompt_toolkit.formatted_text import StyleAndTextTuples
from prompt_toolkit.history import FileHistory, History, InMemoryHistory
from prompt_toolkit.lexers import Lexer
from prompt_toolkit.styles import Style

from .errors import shorten
from .fastparse import COMMENT, NAME, NUMBER
from .ops import CONSTANTS, FUNCTIONS
from .options import write_stderr
from .repl import ALIASES, COMMANDS, GRAPH_FORMATS, Repl
from .session import Session

PROMPT = "gradcli> "

#: Past this many characters a line is shown plain: lexing it at every key would lag.
MAX_HIGHLIGHT = 10_000

#: Entries of the history file loaded at most (the newest): the file only grows.
MAX_HISTORY = 10_000

#: The language's tokens: what the grammar ignores, then a comment, a number, a name,
#: an operator; anything else is a character the language does not know.
_TOKEN = re.compile(
    rf"(?P<space>\s+)|(?P<comment>{COMMENT})|(?P<number>{NUMBER})|(?P<name>{NAME})"
    r"|(?P<operator>\*\*|[<>=!]=|[-+*/^<>=])|(?P<punct>[(),;])|(?P<other>.)",
    re.DOTALL,
)
_COMMAND = re.compile(r"\s*:\S*")
_TRAILING_WORD = re.compile(rf"(?:{NAME})$")

STYLE = Style.from_dict({
    "number": "#5f87d7",
    "function": "#af5fd7 bold",
    "constant": "#5f87d7 italic",
    "defined": "#008700 bold",
    "input": "",
    "operator": "#875f00",
    "comment": "#808080 italic",
    "command": "#0087af bold",
    "error": "bg:#d70000 #ffffff",
    "note": "#808080",
})


def state_home() -> Path:
    """The user's state directory: ``$XDG_STATE_HOME``, when set to an absolute path
    (the XDG rule: a relative one is ignored), else ``~/.local/state``."""
    configured = os.environ.get("XDG_STATE_HOME", "")
    if configured and os.path.isabs(configured):
        return Path(configured)
    return Path.home() / ".local" / "state"


def history_path() -> Path:
    return state_home() / "gradcli" / "history"


class _KeptHistory(FileHistory):
    """prompt_toolkit's history file, read at most MAX_HISTORY entries back; a
    failure to read or write it is said once, and the session goes on with what it
    has in memory."""

    def __init__(self, path: Path, say: Callable[[str], None]) -> None:
        super().__init__(str(path))
        self._say = say
        self._broken = False

    def load_history_strings(self) -> Iterable[str]:
        try:
            return list(super().load_history_strings())[:MAX_HISTORY]
        except (OSError, ValueError) as exc:
            self._give_up(f"cannot read {self.filename}: {_reason(exc)}")
            return []

    def store_string(self, string: str) -> None:
        if self._broken:
            return
        try:
            super().store_string(string)
        except (OSError, ValueError) as exc:
            self._give_up(f"cannot write {self.filename}: {_reason(exc)}")

    def _give_up(self, why: str) -> None:
        if not self._broken:
            self._broken = True
            self._say(f"note: history is kept for this session only: {why}")


def _reason(exc: Exception) -> str:
    return getattr(exc, "strerror", None) or str(exc) or type(exc).__name__


def open_history(say: Callable[[str], None] = write_stderr) -> History:
    """The history file, made (with its directory) if need be; in memory when it cannot
    be written, said once."""
    try:
        path = history_path()
    except (RuntimeError, KeyError) as exc:  # no home directory to be found
        say(f"note: history is kept for this session only: no state directory ({_reason(exc)})")
        return InMemoryHistory()
    try:
        path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        with open(path, "ab"):
            pass
    except OSError as exc:
        say(f"note: history is kept for this session only: cannot write {shorten(str(path), 80)}:"
            f" {_reason(exc)}")
        return InMemoryHistory()
    return _KeptHistory(path, say)


class GradLexer(Lexer):
    """Highlights the line by the language's tokens: numbers, functions, constants,
    defined names, operators, comments, a ``:command``, and in red what is no token."""

    def __init__(self, session: Session) -> None:
        self.session = session

    def lex_document(self, document: Document) -> Callable[[int], StyleAndTextTuples]:
        lines = document.lines

        def line(number: int) -> StyleAndTextTuples:
            try:
                return self.fragments(lines[number])
            except IndexError:
                return []

        return line

    def fragments(self, text: str) -> StyleAndTextTuples:
        if len(text) > MAX_HIGHLIGHT:
            return [("", text)]
        out: StyleAndTextTuples = []
        start = 0
        command = _COMMAND.match(text)
        if command:
            known = ALIASES.get(command.group().strip(), command.group().strip()) in COMMANDS
            out.append(("class:command" if known else "class:error", command.group()))
            start = command.end()
            if command.group().strip() in (":bind", ":eval", ":trace", ":diff", ":graph"):
                pass  # names and constant expressions follow: lexed as the language
            else:
                out.append(("", text[start:]))
                return out
        defined = self.session.definitions
        for match in _TOKEN.finditer(text, start):
            kind = match.lastgroup
            word = match.group()
            style = ""
            if kind == "name":
                follows_paren = text[match.end() : match.end() + 1] == "("
                if word in FUNCTIONS and follows_paren:
                    style = "class:function"
                elif word in CONSTANTS:
                    style = "class:constant"
                elif word in defined:
                    style = "class:defined"
                elif follows_paren:
                    style = "class:error"  # a call of a function that does not exist
                else:
                    style = "class:input"
            elif kind in ("number", "operator", "comment"):
                style = f"class:{kind}"
            elif kind == "other":
                style = "class:error"
            out.append((style, word))
        return out


class GradCompleter(Completer):
    """TAB: ``:commands`` at the start of a line; after ``:graph`` its formats; names
    and functions (``si`` -> ``sin(``) anywhere else."""

    def __init__(self, session: Session) -> None:
        self.session = session

    def get_completions(self, document: Document, complete_event: CompleteEvent) -> Iterator[Completion]:
        before = document.text_before_cursor
        if len(before) > MAX_HIGHLIGHT:
            return
        stripped = before.lstrip()
        if stripped.startswith(":") and not any(c.isspace() for c in stripped):
            for name in [*COMMANDS, *ALIASES]:
                if name.startswith(stripped) and name != stripped:
                    yield Completion(name, start_position=-len(stripped), display_meta=_meta(name))
            return
        match = _TRAILING_WORD.search(before)
        prefix = match.group() if match else ""
        if not prefix and not before.endswith((" ", "(", ",", "=", "+", "-", "*", "/", "^")):
            return
        command = stripped.split(maxsplit=1)[0] if stripped.startswith(":") else None
        candidates: list[tuple[str, str]] = []
        if command == ":graph":
            candidates += [(fmt, "picture") for fmt in GRAPH_FORMATS]
        if command in (":eval", ":trace", ":graph", ":diff"):
            candidates += [(name, "defined") for name in self.session.definitions]
        elif command == ":bind":
            at_value = bool(re.search(r"=\s*[^\s=]*$", before))
            if at_value:
                candidates += [(name, "constant") for name in CONSTANTS]
                candidates += [(f"{name}(", "function") for name in sorted(FUNCTIONS)]
            else:
                names = [n for n in self.session.names() if n not in self.session.definitions]
                candidates += [(f"{name}=", "input") for name in names]
        elif command is None:
            defined = self.session.definitions
            candidates += [(name, "defined") for name in defined]
            candidates += [(name, "input") for name in self.session.names() if name not in defined]
            candidates += [(f"{name}(", "function") for name in sorted(FUNCTIONS)]
            candidates += [(name, "constant") for name in CONSTANTS]
        seen: set[str] = set()
        for text, meta in candidates:
            if text.startswith(prefix) and text != prefix and text not in seen:
                seen.add(text)
                yield Completion(text, start_position=-len(prefix), display_meta=meta)


def _meta(command: str) -> str:
    name = ALIASES.get(command, command)
    return COMMANDS[name][1].split(";")[0] if name in COMMANDS else ""


def run_terminal(repl: Repl) -> int:
    """The session on a terminal, until Ctrl-D or :quit (exit 0). Ctrl-C cancels the
    line being typed, or the evaluation under way."""
    history = open_history()
    prompt: PromptSession[str] = PromptSession(
        history=history,
        completer=GradCompleter(repl.session),
        lexer=GradLexer(repl.session),
        style=STYLE,
        complete_while_typing=False,
        include_default_pygments_style=False,
    )
    write_stderr("gradcli repl: a line is a definition (q = x + y), an expression or a :command;"
                 " :help lists them, Ctrl-D leaves")
    while True:
        try:
            line = prompt.prompt(PROMPT)
        except KeyboardInterrupt:  # Ctrl-C: the line is dropped, a new prompt
            continue
        except EOFError:  # Ctrl-D on an empty line
            break
        if not repl.handle(line):
            break
    return 0
