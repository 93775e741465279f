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
from typing import IO, Any

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


#: A file an option reads whole (--bindings, --answers) larger than this is refused
#: before it is read: such a file is a few lines, and /dev/zero would otherwise be
#: read until memory runs out.
MAX_OPTION_FILE_BYTES = 16 * 1024 * 1024


def read_option_file(path: str, option: str) -> bytes:
    """All of ``path``, the file ``option`` names, or a usage error that names both:
    it cannot be read, or it holds more than :data:`MAX_OPTION_FILE_BYTES`."""
    shown = shorten(path, 80)
    with open_input(path, option) as handle:
        try:
            data = handle.read(MAX_OPTION_FILE_BYTES + 1)
        except OSError as exc:
            raise GradError("usage", f"cannot read {option} {shown}: {exc.strerror or exc}") from None
    if len(data) > MAX_OPTION_FILE_BYTES:
        raise GradError("usage", f"{option} {shown} is larger than {MAX_OPTION_FILE_BYTES // 2**20} MiB")
    return data


def read_bindings_file(path: str) -> dict[str, str]:
    """``--bindings FILE``: a JSON object of bindings, ``{"w": 0.5, "b": -1}``.

    Each value is kept as the text it is written with (a number's digits, or a
    string, which may be a constant expression such as ``"pi/4"``), so it is read
    exactly as the same binding on the command line would be: ``0.1`` stays the
    decimal 0.1 for ``--exact``. Anything else (true, null, a list) is refused by
    name, as is a key that is not a name or that appears twice."""
    import json

    shown = shorten(path, 80)
    what = f"--bindings {shown}"
    if path == "-":
        raise GradError("usage", "--bindings -: give a file (standard input is the program's or the rows')")
    data = read_option_file(path, "--bindings")
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise GradError("usage", f"{what} is not UTF-8 text (byte {exc.start} cannot be decoded)") from None
    text = text[1:] if text.startswith("\ufeff") else text

    class _Bad(ValueError):
        pass

    def constant(name: str) -> Any:
        raise _Bad(f"{name} is not JSON (JSON has no NaN or Infinity)")

    def pairs(items: list[tuple[str, Any]]) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for key, value in items:
            if key in out:
                raise _Bad(f"{shorten(key)} is bound twice")
            out[key] = value
        return out

    try:
        obj = json.loads(
            text, parse_float=str, parse_int=str, parse_constant=constant, object_pairs_hook=pairs
        )
    except _Bad as exc:
        raise GradError("usage", f"{what}: {exc}") from None
    except RecursionError:
        raise GradError("usage", f"{what} is nested too deeply to be an object of bindings") from None
    except ValueError as exc:
        reason = getattr(exc, "msg", None) or str(exc)
        where = f" (line {exc.lineno}, column {exc.colno})" if hasattr(exc, "lineno") else ""
        raise GradError("usage", f"{what} is not JSON: {reason}{where}") from None
    if not isinstance(obj, dict):
        raise GradError(
            "usage", f'{what} must hold one JSON object of bindings, such as {{"x": 2, "y": -0.5}}'
        )
    bindings: dict[str, str] = {}
    for name, value in obj.items():
        if not _NAME.fullmatch(name):
            raise GradError(
                "binding", f"{what}: {shorten(repr(name))} is not a name (letters, digits and _)"
            )
        if not isinstance(value, str):
            # Shown as JSON spells it (the numbers inside as numbers: read again).
            spelled = shorten(json.dumps(json.loads(text)[name], ensure_ascii=False))
            raise GradError("binding", f"{what}: the value of {shorten(name)} is not a number: {spelled}")
        bindings[name] = value
    return bindings
