"""Command-line words -> a source text and bindings.

Every binding form is equivalent: ``-x 2``, ``--x 2``, ``--x=2``, ``-x=2`` and
``x=2``. A value may be negative (``-z -4``) and may be a constant expression
(``-x pi/4``). SOURCE is the first other word (``-`` reads standard input), or
absent when ``--file PATH`` is given. Built-in options are long-only, so every
short ``-a`` … ``-z`` is free for variables.
"""

from __future__ import annotations

import re
import sys
from collections.abc import Sequence
from typing import IO

from .errors import GradError, shorten

_NAME = re.compile(r"[^\W\d]\w*")

#: A program larger than this is refused before it is parsed: each MiB of source
#: took about 6 s and 250 MB to parse when this was written, so a 100 MB file
#: would take minutes and tens of gigabytes. 16 MiB is about 2 million operations.
MAX_SOURCE_BYTES = 16 * 1024 * 1024


def split_words(words: Sequence[str], *, has_file: bool) -> tuple[str | None, dict[str, str]]:
    """Split the free words of a command into SOURCE (or None) and bindings."""
    source: str | None = None
    bindings: dict[str, str] = {}

    def bind(name: str, value: str, word: str) -> None:
        if not _NAME.fullmatch(name):
            raise GradError(
                "binding", f"{shorten(repr(word))} is not a binding: a name must be letters, digits and _"
            )
        if name in bindings:
            raise GradError("binding", f"{shorten(name)} is bound twice")
        bindings[name] = value

    i = 0
    while i < len(words):
        word = words[i]
        i += 1
        if word.startswith("-") and word != "-":
            body = word.lstrip("-")
            name, eq, value = body.partition("=")
            if (word.startswith("---") or not _NAME.fullmatch(name)) and source is None and not has_file:
                source = word  # a program that starts with a minus sign: `-x^2`, `---x`
                continue
            if word.startswith("---") or not body:
                raise GradError("usage", f"{shorten(repr(word))} is not an option or a binding")
            if not eq:
                if i >= len(words):
                    raise GradError("binding", f"missing a value for {shorten(name)} after {shorten(word)}")
                value = words[i]
                i += 1
            bind(name, value, word)
        elif source is None and not has_file:
            source = word
        elif "=" in word:
            name, _, value = word.partition("=")
            bind(name.strip(), value, word)
        else:
            what = "a SOURCE (--file gives the program)" if has_file else "a second SOURCE"
            raise GradError(
                "usage",
                f"unexpected {shorten(repr(word))}: {what}; bindings are written -x 2, --x 2, --x=2 or x=2",
            )
    return source, bindings


def read_source(source: str | None, file: str | None) -> str:
    """The program text: the SOURCE word, standard input for ``-``, or ``--file``."""
    if file is not None:
        if source is not None:  # pragma: no cover - split_words never returns both
            raise GradError("usage", "give the program as SOURCE or with --file, not both")
        return _read_file(file)
    if source is None:
        raise GradError(
            "usage",
            'missing SOURCE: give the program as an argument ("(x+y)*z"), - for standard input,'
            " or --file PATH",
        )
    if source == "-":
        try:
            data = sys.stdin.buffer.read(MAX_SOURCE_BYTES + 1)
        except (AttributeError, OSError, ValueError) as exc:  # closed, or not a byte stream
            reason = getattr(exc, "strerror", None) or "it is closed or not readable"
            raise GradError("usage", f"cannot read the program from standard input: {reason}") from None
        return _decode(data, "standard input")
    return source


def open_input(path: str, option: str) -> IO[bytes]:
    """Open ``path`` to read bytes, or a usage error that names ``option`` and says why not."""
    shown = shorten(path, 80)
    try:
        return open(path, "rb")
    except FileNotFoundError:
        raise GradError("usage", f"cannot read {option} {shown}: no such file") from None
    except IsADirectoryError:
        raise GradError("usage", f"cannot read {option} {shown}: it is a directory") from None
    except PermissionError:
        raise GradError("usage", f"cannot read {option} {shown}: permission denied") from None
    except OSError as exc:
        raise GradError("usage", f"cannot read {option} {shown}: {exc.strerror or exc}") from None


def _read_file(path: str) -> str:
    with open_input(path, "--file") as handle:
        try:
            data = handle.read(MAX_SOURCE_BYTES + 1)
        except OSError as exc:
            raise GradError(
                "usage", f"cannot read --file {shorten(path, 80)}: {exc.strerror or exc}"
            ) from None
    return _decode(data, f"--file {shorten(path, 80)}")


def _decode(data: bytes, what: str) -> str:
    if len(data) > MAX_SOURCE_BYTES:
        raise GradError(
            "usage", f"{what} is larger than {MAX_SOURCE_BYTES // 2**20} MiB, the most a program may be"
        )
    if b"\0" in data:
        raise GradError("usage", f"{what} is not a text file (it contains NUL bytes)")
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise GradError(
            "usage", f"{what} is not UTF-8 text (byte {exc.start} cannot be decoded)"
        ) from None
    return text[1:] if text.startswith("\ufeff") else text  # a BOM is not part of the program
