"""The interactive session's lines: statements and ``:commands`` in, tables and pictures out.

:class:`Repl` reads one line at a time against a :class:`~gradcli.session.Session`
(the library keeps the definitions and bindings) and prints what the commands
print: the same tables (:mod:`gradcli.render`), pictures (:mod:`gradcli.pictures`)
and ``error:`` lines with a caret (:func:`gradcli.errors.format_error`). An error
ends the line, never the session. :func:`run_lines` feeds it the lines of a stream
that is not a terminal (a pipe, a file), with no prompt and no prompt_toolkit;
:mod:`gradcli.repl_terminal` feeds it a terminal's lines, with history,
completion and highlighting.
"""

from __future__ import annotations

import sys
from typing import IO, Any

from .errors import ExitStatus, GradError, format_error, shorten
from .options import write_stderr
from .session import Session, is_name

#: Every command, with its arguments and what it does (``:help`` prints this).
COMMANDS = {
    ":bind": ("x=2 y=pi/4", "values for inputs (alone: list them)"),
    ":eval": ("[NAME]", "value and gradient (of the last entry)"),
    ":trace": ("[NAME]", "every node's value and gradients"),
    ":diff": ("[NAME]", "the derivatives as formulas"),
    ":graph": ("[FORMAT] [NAME]", "the graph: tree, mermaid or dot"),
    ":list": ("", "definitions, expression, bindings"),
    ":reset": ("", "forget everything"),
    ":help": ("", "this text"),
    ":quit": ("", "leave (Ctrl-D too)"),
}
#: Other spellings of a command.
ALIASES = {":q": ":quit", ":exit": ":quit", ":h": ":help", ":?": ":help", ":ls": ":list"}
#: The pictures ``:graph`` draws (those of ``gradcli graph`` that are text).
GRAPH_FORMATS = ("tree", "mermaid", "dot")

#: Bytes of one line read from a pipe at most (as a batch line): a longer one stops the reading.
MAX_LINE = 1 << 20

HELP = """\
A line is a definition (q = x + y), an expression (q * z), or a command;
';' separates statements on one line. Definitions accumulate: defining a
name again replaces its definition, and they may come in any order.
An expression is evaluated at once when its inputs have values.
{commands}
TAB completes functions, names and commands; Ctrl-C cancels the line."""


def help_text() -> str:
    width = max(len(f"{name} {args}".rstrip()) for name, (args, _) in COMMANDS.items())
    rows = [f"  {f'{name} {args}'.rstrip():<{width}}  {what}" for name, (args, what) in COMMANDS.items()]
    return HELP.format(commands="\n".join(rows))


class Repl:
    """Reads lines into a session and prints what each asks for. ``status`` is the exit
    code of the first line that failed (0 while none has)."""

    def __init__(self, session: Session | None = None, *, interactive: bool = False) -> None:
        self.session = session if session is not None else Session()
        self.interactive = interactive
        self.status = ExitStatus.OK
        self.line_no = 0

    # --- one line -----------------------------------------------------------------------

    def handle(self, line: str) -> bool:
        """Do what ``line`` says; False when it asks to leave. An error is printed and
        the session goes on; Ctrl-C cancels the line on a terminal (in a pipe it ends
        the session, as in any command)."""
        self.line_no += 1
        try:
            return self._handle(line)
        except GradError as err:
            self.fail(err)
        except KeyboardInterrupt:
            if not self.interactive:
                raise
            write_stderr("error: interrupted")
        except MemoryError:
            self.fail(GradError("overflow", "out of memory: the line or its program is too large"))
        except OSError:
            raise  # a standard stream failed: the command says so and leaves
        except Exception as exc:  # a bug: said, and the session goes on
            write_stderr(f"error: internal error: {type(exc).__name__}: {shorten(str(exc), 200)}"
                         " (please report this)")
            self._failed(ExitStatus.INTERNAL)
        return True

    def fail(self, err: GradError) -> None:
        text = format_error(err)
        if not self.interactive:  # in a script, say which line
            text = text.replace("error: ", f"error: line {self.line_no}: ", 1)
        write_stderr(text)
        self._failed(err.exit_code)

    def _failed(self, code: int) -> None:
        if self.status == ExitStatus.OK:
            self.status = ExitStatus(code)

    def note(self, text: str) -> None:
        write_stderr(text)

    def _handle(self, line: str) -> bool:
        text = line.strip()
        if not text:
            return True
        if text.startswith(":"):
            command, _, rest = text.partition(" ")
            if "\t" in command:
                command, _, more = command.partition("\t")
                rest = f"{more} {rest}"
            return self.command(command, rest.strip())
        self.enter(line)
        return True

    def enter(self, line: str) -> None:
        from .parse import EMPTY_PROGRAM

        try:
            entered = self.session.enter(line)
        except GradError as err:
            if err.message == EMPTY_PROGRAM:  # a comment, or ';' alone: nothing to do
                return
            raise
        for name, old in entered.replaced:
            self.note(f"note: {shorten(name)} replaced (was: {shorten(old, 60)})")
        for name in entered.shadowed:
            self.note(f"note: {shorten(name)} is now defined, so its binding is not used")
        if not entered.show:
            return
        graph = self.session.compile()
        missing = self.session.missing(graph)
        if missing:
            listed = ", ".join(shorten(n) for n in missing)
            example = " ".join(f"{shorten(n)}=…" for n in missing[:5])
            self.note(f"note: bind {listed} to evaluate it (:bind {example}); :eval then shows it")
            return
        self.show_eval(None)

    # --- the commands ---------------------------------------------------------------------

    def command(self, command: str, rest: str) -> bool:
        name = ALIASES.get(command, command)
        if name == ":quit":
            return False
        if name == ":help":
            print(help_text())
        elif name == ":bind":
            self.bind(rest)
        elif name == ":eval":
            self.show_eval(self._name(rest, name))
        elif name == ":trace":
            from .render import print_trace

            print_trace(self.session.evaluate(self._name(rest, name)))
        elif name == ":graph":
            self.graph(rest)
        elif name == ":diff":
            self.diff(self._name(rest, name))
        elif name == ":list":
            self.listing()
        elif name == ":reset":
            self.session.reset()
        else:
            from .graph import suggest

            raise GradError(
                "usage",
                f"unknown command {shorten(command)}{suggest(command, COMMANDS)};"
                f" the commands are {', '.join(COMMANDS)}",
            )
        return True

    def _name(self, rest: str, command: str) -> str | None:
        words = rest.split()
        if not words:
            return None
        if len(words) > 1 or not is_name(words[0]):
            raise GradError(
                "usage", f"{command} takes one name at most, as in {command} q; got {shorten(rest)}"
            )
        return words[0]

    def show_eval(self, name: str | None) -> None:
        from .render import print_eval

        print_eval(self.session.evaluate(name))

    def bind(self, rest: str) -> None:
        if rest:
            definitions = self.session.definitions
            for name in self.session.bind(rest):
                if name in definitions:  # as when a bound name is defined later
                    was = shorten(definitions[name].text, 60)
                    self.note(f"note: {shorten(name)} is defined ({was}), so its binding is not used")
            return
        self._print_bindings()

    def _print_bindings(self) -> None:
        from .render import format_number

        bindings = self.session.bindings
        if not bindings:
            print("no bindings yet: :bind x=2 y=3")
            return
        print("bindings: " + " ".join(f"{n}={format_number(v, None)}" for n, v in bindings.items()))

    def listing(self) -> None:
        lines = self.session.listing()
        print("\n".join(lines) if lines else "no definitions yet")
        self._print_bindings()

    def graph(self, rest: str) -> None:
        from .pictures import draw, write

        words = rest.split()
        fmt = "tree"
        if words and words[0] in GRAPH_FORMATS:
            fmt = words.pop(0)
        elif words and words[0] in ("svg", "png", "pdf"):
            raise GradError(
                "usage",
                f":graph draws {', '.join(GRAPH_FORMATS)}; for {words[0]}, use gradcli graph --out FILE",
            )
        name = self._name(" ".join(words), ":graph")
        graph = self.session.compile(name)
        # Without a value for every input, the structure alone (as `gradcli graph`).
        subject: Any = graph if self.session.missing(graph) else self.session.evaluate(name)
        drawing = draw(subject, fmt=fmt)
        write(drawing)
        if isinstance(drawing.text, str) and not drawing.text.endswith("\n"):
            sys.stdout.write("\n")

    def diff(self, name: str | None) -> None:
        text = self.session.diff(name).text
        sys.stdout.write(text if text.endswith("\n") else text + "\n")


def run_lines(repl: Repl, stream: IO[bytes] | None) -> int:
    """Read ``stream`` line by line into ``repl`` (no prompt): the exit status is that of
    the first line that failed, 0 when none did. A line that is not UTF-8 is an error of
    its own and is skipped; one longer than MAX_LINE bytes stops the reading."""
    if stream is None:  # standard input closed: nothing to read
        return repl.status
    while True:
        try:
            raw = stream.readline(MAX_LINE + 1)
        except OSError as exc:
            raise GradError("usage", f"cannot read standard input: {exc.strerror or exc}") from None
        if not raw:
            break
        if len(raw) > MAX_LINE and not raw.endswith(b"\n"):
            # As a batch does: what has no line end in a megabyte is not lines of text
            # (`< /dev/zero` would never end).
            repl.line_no += 1
            repl.fail(GradError(
                "usage", f"the line is longer than {MAX_LINE:,} bytes: stopped reading (is the input text?)"
            ))
            break
        try:
            line = raw.decode("utf-8")
        except UnicodeDecodeError as exc:
            repl.line_no += 1
            repl.fail(GradError("usage", f"the line is not UTF-8 text (byte {exc.start + 1}): skipped"))
            continue
        if line.endswith("\n"):
            line = line[:-1]
        if line.endswith("\r"):
            line = line[:-1]
        if not repl.handle(line):
            break
        sys.stdout.flush()  # in order with standard error, line by line
    return repl.status
