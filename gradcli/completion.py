"""Shell completion: the scripts for bash, zsh and fish, and what TAB offers.

click's own machinery resolves which command, option or argument is being
completed; the scripts and the transport around it are ours, because click's
lose the shell's quoting. Each script passes the command line up to the cursor,
as typed, in ``COMP_LINE``; :func:`split_line` reads it as the shell does, so the
word under the cursor keeps its quote. What TAB offers:

- commands and options, and after SOURCE the program's own inputs as ``-x``;
- inside SOURCE (or a binding's value), function and constant names, with the
  quote left open and no space after, so the formula goes on;
- file names where a file is expected (``--file``, ``--batch``, ``--out``, ``--answers``).

``completions/`` in the repository holds the scripts as generated, and a test
fails when they drift.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from typing import Any

from click.shell_completion import (
    BashComplete,
    CompletionItem,
    FishComplete,
    ZshComplete,
    add_completion_class,
    get_completion_class,
)

from .ops import CONSTANTS, FUNCTIONS

PROG = "gradcli"
COMPLETE_VAR = "_GRADCLI_COMPLETE"
_TRAILING_NAME = re.compile(r"[^\W\d]\w*$")
_NAME = re.compile(r"[^\W\d]\w*")
#: A name, or one character that is not part of one (operators, digits, spaces).
_TOKEN = re.compile(r"#[^\n]*|[^\W\d]\w*|[0-9.]+(?:[eE][+-]?[0-9]+)?|\s+|.", re.DOTALL)
#: Candidates inside a formula: typed on, never followed by a space or a closing quote.
FORMULA = "formula"
#: The largest --file read to find a program's inputs for completion.
_MAX_PEEK = 1 << 20

#: Characters a backslash must protect in an unquoted shell word.
_UNQUOTED_SPECIAL = set(" \t\n\\\"'`$;&|<>()*?[]{}!#~")


def completion_script(shell: str) -> str:
    """The completion script for ``shell`` (bash, zsh or fish), ending in a newline."""
    from .cli import cli

    register_shells()
    cls = get_completion_class(shell)
    if cls is None:  # pragma: no cover - the CLI restricts the choice
        raise ValueError(f"no completion for {shell}")
    script = cls(cli, {}, PROG, COMPLETE_VAR).source()
    return script if script.endswith("\n") else script + "\n"


def complete_source(incomplete: str) -> list[CompletionItem]:
    """Candidates for a formula being typed: a trailing name prefix completed to a
    function (``si`` -> ``sin(``) or a constant (``p`` -> ``pi``)."""
    match = _TRAILING_NAME.search(incomplete)
    if match is None:
        return []
    prefix = match.group()
    head = incomplete[: match.start()]
    out = [head + name + "(" for name in sorted(FUNCTIONS) if name.startswith(prefix)]
    out += [head + name for name in CONSTANTS if name.startswith(prefix)]
    return [CompletionItem(value, type=FORMULA) for value in out]


def complete_file(incomplete: str) -> list[CompletionItem]:
    """Let the shell complete a file name."""
    return [CompletionItem(incomplete, type="file")]


def program_inputs(source: str) -> list[str]:
    """The names a program reads and does not define, in order of first use: what
    ``-x`` completes to. A quick scan, not a parse: it must work on a formula
    still being typed, and it never fails."""
    tokens = [
        ";" if "\n" in tok else tok
        for tok in _TOKEN.findall(source)
        if not (tok.isspace() and "\n" not in tok) and not tok.startswith("#")
    ]
    assigned: set[str] = set()
    used: dict[str, None] = {}
    at_start = True
    for k, tok in enumerate(tokens):
        after = tokens[k + 1] if k + 1 < len(tokens) else ""
        if _NAME.fullmatch(tok):
            if at_start and after == "=":
                assigned.add(tok)
            elif after != "(" and tok not in CONSTANTS and tok not in assigned:
                used.setdefault(tok, None)
        at_start = tok == ";"
    return [name for name in used if name not in assigned]


def complete_bindings(command: Any, words: list[str], incomplete: str) -> list[CompletionItem]:
    """``-x`` for each input of the program given so far that is not bound yet.

    ``command`` is the click command, ``words`` its words before the cursor."""
    if not incomplete.startswith("-") or incomplete.startswith("--"):
        return []
    takes_value: set[str] = set()
    flags: set[str] = set()
    for param in getattr(command, "params", []):
        if getattr(param, "param_type_name", "") == "option":
            (flags if param.is_flag else takes_value).update(param.opts)
    source: str | None = None
    bound: set[str] = set()
    i = 0
    while i < len(words):
        word = words[i]
        i += 1
        name, eq, _ = word.lstrip("-").partition("=")
        if word == "--file" and i < len(words):
            source = _peek(words[i])
            i += 1
        elif word.startswith("--file="):
            source = _peek(word[len("--file="):])
        elif word.split("=", 1)[0] in takes_value:
            i += 0 if "=" in word else 1
        elif word in flags:
            continue
        elif word.startswith("-") and word != "-" and _NAME.fullmatch(name):
            bound.add(name)
            i += 0 if eq else 1
        elif eq and _NAME.fullmatch(name) and source is not None:
            bound.add(name)
        elif source is None:
            source = "" if word == "-" else word
    if not source:
        return []
    return [
        CompletionItem(f"-{name}", help="a variable of the program")
        for name in program_inputs(source)
        if name not in bound and f"-{name}".startswith(incomplete)
    ]


def _peek(path: str) -> str:
    """The start of the program file at ``path``, or nothing: only a regular file is
    read, and opening never waits (a FIFO would wait for a writer, and TAB with it)."""
    import stat

    try:
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK)
    except OSError:
        return ""
    try:
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            return ""
        return os.read(fd, _MAX_PEEK).decode("utf-8", "replace")
    except OSError:
        return ""
    finally:
        os.close(fd)


# --- the command line as the shell sees it ----------------------------------------------


@dataclass
class Line:
    """A command line up to the cursor, read as a POSIX shell reads it."""

    words: list[str]  #: the complete words, quotes removed
    incomplete: str  #: the word under the cursor, quotes removed
    quote: str  #: the quote open at the cursor: '"', "'" or ""
    tail: str  #: the raw text the shell replaces (the word after its last break)


def split_line(line: str, breaks: str = "") -> Line:
    """Split ``line`` into words as a shell does (quotes, backslashes); ``breaks``
    are the characters after which the shell starts the word it replaces (bash's
    COMP_WORDBREAKS, outside quotes)."""
    words: list[str] = []
    current: list[str] = []
    in_word = False
    quote = ""
    tail_start = 0
    i = 0
    while i < len(line):
        char = line[i]
        if quote == "'":
            if char == "'":
                quote = ""
            else:
                current.append(char)
        elif quote == '"':
            if char == '"':
                quote = ""
            elif char == "\\" and i + 1 < len(line) and line[i + 1] in '"\\$`\n':
                i += 1
                if line[i] != "\n":
                    current.append(line[i])
            else:
                current.append(char)
        elif char in " \t\n":
            if in_word:
                words.append("".join(current))
                current, in_word = [], False
            tail_start = i + 1
        else:
            in_word = True
            if char == "\\":
                if i + 1 < len(line):
                    i += 1
                    if line[i] != "\n":
                        current.append(line[i])
            elif char in "\"'":
                quote = char
                if char in breaks:
                    tail_start = i + 1
            else:
                current.append(char)
                if char in breaks:
                    tail_start = i + 1
        i += 1
    return Line(words, "".join(current), quote, line[tail_start:])


def quote_for(text: str, quote: str) -> str:
    """``text`` written to go on a shell word that has ``quote`` open ("" for none)."""
    if quote == "'":
        return text.replace("'", "'\\''")
    if quote == '"':
        return re.sub(r'(["\\$`])', r"\\\1", text)
    return "".join("\\" + c if c in _UNQUOTED_SPECIAL else c for c in text)


def _line_from_env() -> str:
    """COMP_LINE up to COMP_POINT (bash counts bytes)."""
    line = os.environ.get("COMP_LINE", "")
    point = os.environ.get("COMP_POINT", "")
    if point.isdigit():
        raw = os.fsencode(line)
        line = os.fsdecode(raw[: int(point)])
    return line


class _LineMixin:
    """Read COMP_LINE (our scripts) and fall back on click's COMP_WORDS (an older
    script a user may still have installed)."""

    breaks = ""
    line: Line | None = None

    def get_completion_args(self) -> tuple[list[str], str]:
        if "COMP_LINE" not in os.environ:
            return super().get_completion_args()  # type: ignore[misc]
        self.line = split_line(_line_from_env(), os.environ.get("COMP_WORDBREAKS", self.breaks))
        return self.line.words[1:], self.line.incomplete

    def get_completions(self, args: list[str], incomplete: str) -> list[CompletionItem]:
        items = super().get_completions(args, incomplete)  # type: ignore[misc]
        command = getattr(self, "cli").commands.get(args[0]) if args else None  # noqa: B009
        if command is not None:
            items = complete_bindings(command, args[1:], incomplete) + items
        return items


class Bash(_LineMixin, BashComplete):
    """bash: replies are written as the raw text that replaces readline's word."""

    breaks = " \t\n\"'><=;|&(:"
    source_template = r"""_%(prog_name)s_completion() {
    local response kind value
    COMPREPLY=()
    response=$(env COMP_LINE="$COMP_LINE" COMP_POINT="$COMP_POINT" \
COMP_WORDBREAKS="$COMP_WORDBREAKS" %(complete_var)s=bash_complete "$1" 2>/dev/null) || return 0
    while IFS= read -r value; do
        kind=${value%%%%,*}
        value=${value#*,}
        case $kind in
            plain) COMPREPLY+=("$value") ;;
            nospace) compopt -o nospace ;;
            file) COMPREPLY=(); compopt -o default; return 0 ;;
            dir) COMPREPLY=(); compopt -o dirnames; return 0 ;;
        esac
    done <<< "$response"
    return 0
}

complete -o nosort -F _%(prog_name)s_completion %(prog_name)s
"""

    def source(self) -> str:
        return self.source_template % self.source_vars()

    def complete(self) -> str:
        args, incomplete = self.get_completion_args()
        items = self.get_completions(args, incomplete)
        if self.line is None:  # click's protocol: values as they are
            return "\n".join(f"{'plain' if i.type == FORMULA else i.type},{i.value}" for i in items)
        line = self.line
        out: list[str] = []
        formula = False
        for item in items:
            if item.type in ("file", "dir"):
                return f"{item.type},"
            if not item.value.startswith(incomplete) or "\n" in item.value:
                continue
            formula = formula or item.type == FORMULA
            out.append(line.tail + quote_for(item.value[len(incomplete):], line.quote))
        if formula and line.quote and len(out) == 1:
            # Inside a quote, readline closes it after a single match: a second
            # reply that shares the whole first one keeps it open.
            out.append(out[0] + " ")
        return "\n".join(["nospace,"] * formula + [f"plain,{reply}" for reply in out])


class Zsh(_LineMixin, ZshComplete):
    """zsh: values as they are; zsh quotes them for the word being completed."""

    source_template = r"""#compdef %(prog_name)s

%(complete_func)s() {
    local -a response formula plain described
    local kind value help
    (( ! $+commands[%(prog_name)s] )) && return 1
    response=("${(@f)$(env COMP_LINE="${(j: :)${(@)words[1,CURRENT]}}" \
%(complete_var)s=zsh_complete %(prog_name)s 2>/dev/null)}")
    for kind value help in "${response[@]}"; do
        case $kind in
            formula) formula+=("$value") ;;
            plain)
                if [[ $help == _ ]]; then plain+=("$value")
                else described+=("${value//:/\\:}:$help"); fi ;;
            file) _path_files -f ;;
            dir) _path_files -/ ;;
        esac
    done
    (( $#described )) && _describe -V unsorted described -U
    (( $#plain )) && compadd -U -V unsorted -a plain
    (( $#formula )) && compadd -U -V unsorted -S '' -a formula
    return 0
}

if [[ $zsh_eval_context[-1] == loadautofunc ]]; then
    %(complete_func)s "$@"
else
    compdef %(complete_func)s %(prog_name)s
fi
"""

    def source(self) -> str:
        return self.source_template % self.source_vars()

    def format_completion(self, item: CompletionItem) -> str:
        return f"{item.type}\n{item.value}\n{item.help or '_'}"


class Fish(_LineMixin, FishComplete):
    """fish: values as they are; fish quotes them for the token being completed."""

    source_template = r"""function %(complete_func)s
    set -l response (env %(complete_var)s=fish_complete \
COMP_LINE=(commandline -cp | string collect) %(prog_name)s 2>/dev/null)
    for completion in $response
        set -l metadata (string split \t -- $completion)
        switch $metadata[1]
            case formula plain
                if test "$metadata[3]" != _
                    printf '%%s\t%%s\n' $metadata[2] $metadata[3]
                else
                    printf '%%s\n' $metadata[2]
                end
            case file
                __fish_complete_path (commandline -ct)
            case dir
                __fish_complete_directories (commandline -ct)
        end
    end
end

complete --no-files --command %(prog_name)s --arguments "(%(complete_func)s)"
"""

    def source(self) -> str:
        return self.source_template % self.source_vars()

    def get_completions(self, args: list[str], incomplete: str) -> list[CompletionItem]:
        items = super().get_completions(args, incomplete)
        formula = [item for item in items if item.type == FORMULA]
        if len(items) == 1 and formula:
            # fish closes the quote and adds a space after a single match, unless
            # the match ends in one of /=@:.,- : a second match that shares the
            # whole first one keeps the formula open.
            items.append(CompletionItem(formula[0].value + " ", type=FORMULA))
        return items

    def format_completion(self, item: CompletionItem) -> str:
        value = item.value.replace("\n", " ").replace("\t", " ")
        return f"{item.type}\t{value}\t{(item.help or '_').replace(chr(10), ' ')}"


def register_shells() -> None:
    """Make click use these shells' classes (before it reads the completion request)."""
    for cls in (Bash, Zsh, Fish):
        add_completion_class(cls, cls.name)
