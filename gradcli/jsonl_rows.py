"""JSON Lines rows in: each line a JSON object of bindings, read a chunk at a time.

A chunk whose lines are all plain (an object with exactly the inputs as keys) is
read in one go, by orjson where it is installed; any other chunk line by line, each
row with its own error (a line that is not JSON, not an object, not UTF-8), its
keys beyond the inputs passed through to the output. The rows and their messages
are the same with orjson and without it (the standard library's reading is held to
RFC 8259 as orjson is).
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterator
from typing import Any

from .errors import GradError, shorten
from .lines import is_blank
from .records import csv_text, load_orjson
from .rows import Chunk, Source, reserved_names


class _NotJson(ValueError):
    """A number or a name that JSON's grammar allows but no float can hold, or
    that only JavaScript knows (NaN, Infinity)."""


def _constant(name: str) -> Any:
    raise _NotJson(f"{name} is not JSON (JSON has no NaN or Infinity)")


def _finite_float(text: str) -> float:
    value = float(text)
    if math.isinf(value):
        raise _NotJson(f"the number {shorten(text)} is too large for a float")
    return value


def json_loads(line: bytes) -> Any:
    """A line of JSON Lines as the standard library reads it, held to RFC 8259 as
    orjson is: UTF-8 only, no NaN or Infinity, no number past the float range."""
    return json.loads(line.decode("utf-8"), parse_float=_finite_float, parse_constant=_constant)


def _json_row(line: bytes, number: int, orjson: Any) -> tuple[dict[str, Any], GradError | None]:
    """One line of JSON Lines: its object, or an empty one and the row's error.

    orjson reads a line first where it is installed; where its reading could differ
    from the standard library's (an integer past 64 bits becomes a float in orjson),
    or where it refuses the line, the standard library reads it again (and says
    why): the rows and their messages are the same with orjson and without it."""
    obj: Any = None
    if orjson is not None:
        try:
            obj = orjson.loads(line)
        except ValueError:
            obj = None
        if obj is not None and _past_64_bits(obj):
            obj = None  # perhaps an integer, which the standard library keeps whole
    try:
        if obj is None:
            obj = json_loads(line)
            if b"\\u" in line:  # an escape may make a lone surrogate, which is not text
                json.dumps(obj, ensure_ascii=False).encode("utf-8")
    except UnicodeDecodeError:
        return {}, GradError("syntax", f"line {number} is not UTF-8 text")
    except UnicodeEncodeError as exc:
        code = ord(str(exc.object)[exc.start])
        return {}, GradError(
            "syntax", f"line {number} holds a lone surrogate (\\u{code:04x}), which is no character of text"
        )
    except _NotJson as exc:
        return {}, GradError("syntax", f"line {number}: {exc}")
    except RecursionError:
        return {}, GradError("syntax", f"line {number} is nested too deeply")
    except ValueError as exc:
        reason = getattr(exc, "msg", None) or str(exc)
        return {}, GradError("syntax", f"line {number} is not JSON: {reason}")
    if not isinstance(obj, dict):
        return {}, GradError("syntax", f"line {number} is not a JSON object of bindings")
    return obj, None


def _past_64_bits(obj: Any) -> bool:
    """Whether a value read by orjson holds a float of 2^63 or more: perhaps an
    integer past 64 bits, which orjson reads as a float (no recursion: a stack)."""
    if type(obj) is not dict:
        return False  # not a row: its error does not depend on the number
    stack: list[Any] = []
    for value in obj.values():  # the common case, flat, without the stack
        kind = type(value)
        if kind is float:
            if not -9.2e18 < value < 9.2e18:
                return True
        elif kind is dict or kind is list:
            stack.append(value)
    while stack:
        value = stack.pop()
        kind = type(value)
        if kind is float:
            if not -9.2e18 < value < 9.2e18:
                return True
        elif kind is dict:
            stack.extend(value.values())
        elif kind is list:
            stack.extend(value)
    return False


class JsonlSource(Source):
    """The rows of a JSON Lines input (see :func:`gradcli.rows.open_source`)."""

    def chunks(self) -> Iterator[Chunk]:
        import operator

        orjson = load_orjson()
        loads = orjson.loads if orjson is not None else json_loads
        n_inputs = len(self.inputs)
        while True:
            first_line = self.lines.line_no + 1
            lines = self.lines.take(self.step)
            if not lines:
                return
            try:
                # The fast path: every line an object with exactly the inputs as keys.
                # orjson refuses what the standard library's reading refuses and
                # gives the same floats (an integer past 64 bits too, rounded as
                # float() rounds it); without it, a "\u" escape, which may be a lone
                # surrogate, takes the careful path.
                if orjson is None and b"\\u" in b"".join(lines):
                    raise ValueError("an escape")
                objects = list(map(loads, lines))
                if set(map(type, objects)) != {dict} or sum(map(len, objects)) != len(objects) * n_inputs:
                    raise ValueError("not plain")
                failed: dict[int, GradError] = {}
                columns = {
                    name: self.converters[name].convert(list(map(operator.itemgetter(name), objects)), failed)
                    for name in self.inputs
                }
            except (ValueError, KeyError, TypeError, RecursionError):
                failed = {0: GradError("syntax", "not plain")}
            if failed:  # not plain after all: line by line, with every row's own error
                yield from self._careful(lines, first_line, orjson)
                continue
            yield Chunk(len(objects), columns, {})

    def _careful(self, lines: list[bytes], line_no: int, orjson: Any) -> Iterator[Chunk]:
        """A chunk line by line: blank lines skipped, a line that is not a JSON
        object becomes that row's error, and keys beyond the inputs pass through."""
        inputs = self.graph.inputs
        reserved = reserved_names(self.graph, self.reported) if self.passthrough else set()
        objects: list[dict[str, Any]] = []
        errors: dict[int, GradError] = {}
        extras: list[dict[str, Any] | None] = []
        for number, line in enumerate(lines, start=line_no):
            if is_blank(line):
                continue  # blank lines are not rows
            r = len(objects)
            obj, error = _json_row(line, number, orjson)
            extra = {key: value for key, value in obj.items() if key not in inputs} or None
            if extra:
                refused = [key for key in extra if key in self.grid_names or key in reserved]
                if refused:  # the row fails, and the key does not pass through: no record
                    # has two "value"s, no CSV header two columns of one name
                    extra = {key: value for key, value in extra.items() if key not in refused} or None
                    key = refused[0]
                    if error is None and key in self.grid_names:
                        error = GradError(
                            "binding", f"{key} is swept by --grid and cannot also be given in a row"
                        )
                    elif error is None:
                        error = GradError(
                            "binding", f"the key {key!r} would clash with the record's own {key!r}: rename it"
                        )
            if error is not None:
                errors[r] = error
            objects.append(obj)
            extras.append(extra)
        size = len(objects)
        if size == 0:
            return
        columns = {
            name: self.converters[name].convert([o.get(name) for o in objects], errors)
            for name in self.inputs
        }
        raw = {r: {name: csv_text(objects[r].get(name)) for name in self.inputs} for r in errors}
        yield Chunk(size, columns, errors, extra_rows=extras if any(extras) else None, raw=raw)
