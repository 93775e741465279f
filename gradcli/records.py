"""The record writers: JSON Lines or CSV out, a chunk at a time.

A chunk's numbers are formatted in one call (orjson, or ``str`` of a list) as one
text, so no Python code runs per number; the text is the same either way.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from typing import IO, TYPE_CHECKING, Any

from .errors import GradError
from .floattext import orjson_as_repr
from .graph import Graph
from .vectorised import ArrayResult, all_finite

if TYPE_CHECKING:
    from .rows import Chunk

#: An error record's {"kind": ..., "message": ...}, as json.dumps writes it (one
#: encoder for every record: a batch of failed rows makes millions of them).
_ENCODE = json.JSONEncoder(ensure_ascii=False).encode


def load_orjson() -> Any:
    try:
        import orjson
    except ImportError:
        return None
    return orjson


def csv_cell(text: str) -> str:
    if any(c in text for c in ',"\r\n'):
        return '"' + text.replace('"', '""') + '"'
    return text


def _json_value(value: Any) -> str:
    try:
        return json.dumps(value, ensure_ascii=False, allow_nan=False)
    except ValueError:  # NaN or Infinity passed through from a lenient reader
        return "null"


def _json_head(pairs: Iterable[tuple[str, Any]]) -> bytes:
    """``{"id": 7, `` : the start of a JSON record with its pass-through keys."""
    return ("{" + "".join(f"{_json_value(k)}: {_json_value(v)}, " for k, v in pairs)).encode()


def _csv_head(names: list[str], extra: dict[str, Any] | None) -> bytes:
    """A CSV row's pass-through cells (from JSON Lines input) and a comma."""
    return "".join(_csv_value(None if extra is None else extra.get(name)) + "," for name in names).encode()


def csv_text(value: Any) -> str:
    """A JSON value as a CSV cell's text: strings as they are, null as nothing."""
    if value is None:
        return ""
    return value if isinstance(value, str) else _json_value(value)


def _csv_value(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, str):
        return csv_cell(value)
    return csv_cell(_json_value(value))


def _write_all(stream: IO[bytes], parts: Iterable[Any]) -> None:
    """All of each part: a raw stream's write may take part of one (a signal, a pipe)."""
    for data in parts:
        view = memoryview(data)
        while view:
            written = stream.write(view)
            view = view[written or 0 :]  # None: a non-blocking stream took nothing this time
    stream.flush()


def write_whole(stream: IO[bytes], *parts: Any) -> None:
    """Write ``parts`` (bytes, or buffers) and flush them so that Ctrl-C never leaves
    part of them: an interrupt that arrives meanwhile is held until the write is done, then raised.
    A second one is raised at once (a reader that never reads would otherwise keep
    the first waiting for ever)."""
    import signal
    import threading

    if (
        threading.current_thread() is not threading.main_thread()
        or signal.getsignal(signal.SIGINT) is not signal.default_int_handler
    ):  # not ours to hold
        _write_all(stream, parts)
        return
    held: list[int] = []

    def hold(signum: int, frame: Any) -> None:
        if held:
            raise KeyboardInterrupt
        held.append(signum)

    signal.signal(signal.SIGINT, hold)
    try:
        _write_all(stream, parts)
    finally:
        signal.signal(signal.SIGINT, signal.default_int_handler)
    if held:
        raise KeyboardInterrupt


class BackgroundWrites:
    """Whole writes done in order by a thread of their own, so that the next chunk
    is computed while one is written (the kernel's copy of the text is a large part
    of a batch's time). At most one write waits while another is done. A write's
    error is raised in the caller's thread at its next :meth:`put` or at
    :meth:`finish`. The thread is a daemon: a second Ctrl-C while :meth:`finish`
    waits on a reader that never reads leaves at once."""

    def __init__(self, stream: IO[bytes]) -> None:
        import queue
        import threading

        self.stream = stream
        self.error: BaseException | None = None
        self.queue: Any = queue.Queue(maxsize=1)
        self.thread = threading.Thread(target=self._run, name="gradcli-writes", daemon=True)
        self.thread.start()

    def _run(self) -> None:
        while True:
            parts = self.queue.get()
            if parts is None:
                return
            if self.error is None:  # (after an error, the writes are dropped)
                try:
                    _write_all(self.stream, parts)
                except BaseException as exc:  # raised in the caller's thread
                    self.error = exc

    def put(self, parts: tuple[Any, ...]) -> None:
        if self.error is not None:
            raise self.error
        self.queue.put(parts)

    def finish(self, ok: bool) -> None:
        """Wait for the writes handed over (Ctrl-C never cuts one); raise a write's
        error when the run went through (else the run's own error goes on)."""
        self.queue.put(None)
        self.thread.join()
        if ok and self.error is not None:
            raise self.error


class Writer:
    """Records out, a chunk at a time: JSON Lines (the ``eval --json`` object less
    ``source``) or CSV (the input's own columns as they were, the other inputs,
    ``value``, ``grad_NAME``, ``error``).

    A chunk's numbers are formatted in one call (orjson, or ``str`` of a list) as
    one text; records are put together from its fields and the fixed text between
    them by slice assignment, so no Python code runs per number."""

    def __init__(self, np: Any, out: IO[str], graph: Graph, names: list[str], fmt: str) -> None:
        self.np = np
        self.graph = graph
        self.inputs = list(graph.inputs)
        self.names = names
        self.fmt = fmt
        self.orjson = load_orjson()
        self.lead_names: list[str] = []
        self.numeric_inputs = list(self.inputs)
        self.started = False
        out.flush()
        self._binary = getattr(out, "buffer", None)  # bytes straight through, where possible
        self._text = out
        self._background: BackgroundWrites | None = None  # see _arrow_csv

    def _write(self, *parts: Any) -> None:
        """Whole records out (bytes, or buffers): written and flushed together, which
        Ctrl-C does not cut."""
        if self._background is not None:
            self._background.put(parts)
        elif self._binary is not None:
            write_whole(self._binary, *parts)
        else:
            self._text.write(b"".join(parts).decode())

    def start(self, lead_names: list[str]) -> None:
        """``lead_names``: the columns each CSV row starts with (the CSV input's own
        header, or the pass-through keys of JSON Lines input)."""
        self.started = True
        self.lead_names = lead_names
        if self.fmt == "csv":
            lead = set(lead_names)
            self.numeric_inputs = [name for name in self.inputs if name not in lead]
            m = len(self.numeric_inputs) + 1 + len(self.names)
            self.glue = [b""] + [b","] * (m - 1) + [b",\n"]  # the error column stays empty
            header = [*lead_names, *self.numeric_inputs, "value", *(f"grad_{n}" for n in self.names), "error"]
            self._write((",".join(map(csv_cell, header)) + "\n").encode())
        else:
            keys = [json.dumps(name, ensure_ascii=False) for name in self.inputs]
            grad_keys = [json.dumps(name, ensure_ascii=False) for name in self.names]
            template = (
                f'"output": {json.dumps(self.graph.output_name, ensure_ascii=False)}, "value": %s, '
                f'"inputs": {{{", ".join(f"{key}: %s" for key in keys)}}}, '
                f'"gradient": {{{", ".join(f"{key}: %s" for key in grad_keys)}}}{self._unused()}}}\n'
            )
            self.glue = [part.encode() for part in template.split("%s")]

    def _unused(self) -> str:
        """``, "unused": [...]`` for inputs the output does not depend on, as ``eval
        --json`` writes it; nothing when every input is used."""
        unused = self.graph.unused()
        return f', "unused": {json.dumps(unused, ensure_ascii=False)}' if unused else ""

    def _block(self, columns: list[Any]) -> bytes:
        """The numbers of a chunk, row by row: ``[[a,b],[c,d]]`` in shortest round-trip
        form, ``-0.0`` written ``0.0`` as ``eval --json`` does."""
        np = self.np
        block = np.ascontiguousarray(np.column_stack(columns), dtype=np.float64) + 0.0
        if self.orjson is not None and all_finite(block.reshape(-1)):  # (non-finite: only in failed rows)
            return orjson_as_repr(np, self.orjson, block)
        return str(block.tolist()).replace(", ", ",").encode()

    def write(self, chunk: Chunk, result: ArrayResult, first_row: int) -> None:
        n = chunk.size
        grads = [result.gradient[name] for name in self.names]
        if self.fmt == "csv":
            numbers = [*(chunk.columns[name] for name in self.numeric_inputs), result.value, *grads]
        else:
            numbers = [result.value, *(chunk.columns[name] for name in self.inputs), *grads]
        if chunk.table is not None and chunk.lead is None:  # rows read by Arrow
            if self.fmt == "csv" and not result.errors and self._arrow_csv(chunk, numbers):
                return
            from .columnar import materialize

            materialize(chunk, self.lead_names, self.inputs)
        block = self._block(numbers)
        heads = self._heads(chunk)
        if self.fmt == "csv" and not result.errors:  # the common case, mostly in C
            body = block[2:-2].replace(b"],[", b",\n") + b",\n"
            if heads is None:
                self._write(body)
                return
            rows = body.split(b"\n")
            pieces = [b"\n"] * (2 * n)
            pieces[0::2] = [head + row for head, row in zip(heads, rows, strict=False)]
            self._write(b"".join(pieces))
            return
        fields = block[1:-1].translate(None, b"[]").split(b",")
        glue = self.glue
        m = len(glue) - 1  # numbers per row
        step = 2 * m + 2  # per row: head, glue, number, glue, number, ..., glue
        pieces: list[bytes] = [b""] * (step * n)
        if heads is not None:
            pieces[0::step] = heads
        elif self.fmt == "jsonl":
            pieces[0::step] = [b"{"] * n
        for j, text in enumerate(glue):
            pieces[2 * j + 1 :: step] = [text] * n
        for j in range(m):
            pieces[2 * j + 2 :: step] = fields[j::m]
        for r, err in result.errors.items():
            head = b"" if heads is None else heads[r]
            line = self._error_line(chunk, r, err, first_row + r, fields[r * m : (r + 1) * m], head)
            pieces[r * step : (r + 1) * step] = [line] + [b""] * (step - 1)
        self._write(b"".join(pieces))

    def _arrow_csv(self, chunk: Chunk, numbers: list[Any]) -> bool:
        """The common case of rows read by Arrow: formatted and joined by Arrow in C
        (gradcli.arrowcsv); False when that path does not apply."""
        from .arrowcsv import csv_records, csv_rows, load_arrow_csv

        parts = csv_records(self.np, self.orjson, chunk, numbers)
        if parts is None:
            def body() -> bytes:
                return self._block(numbers)[2:-2].replace(b"],[", b",\n") + b",\n"

            text = csv_rows(self.np, load_arrow_csv(), chunk.table, body, chunk.size)
            parts = [text] if text else None
        if parts is None:
            return False
        if self._background is None and self._binary is not None:
            self._background = BackgroundWrites(self._binary)  # large outputs: written beside the work
        self._write(*parts)
        return True

    def finish(self, ok: bool) -> None:
        """The writes handed to the thread done (see :class:`BackgroundWrites`)."""
        if self._background is not None:
            background, self._background = self._background, None
            background.finish(ok)

    def _heads(self, chunk: Chunk) -> list[bytes] | None:
        """Per row, the text that starts its record (CSV: its own cells and a comma;
        JSON: "{" and the pass-through keys), or None when there is none."""
        if self.fmt == "csv":
            if not self.lead_names:
                return None
            if chunk.lead is not None:
                return [(line + ",").encode() for line in chunk.lead]
            rows = chunk.extra_rows or [None] * chunk.size
            return [_csv_head(self.lead_names, extra) for extra in rows]
        if chunk.extra_rows is not None:
            return [b"{" if not extra else _json_head(extra.items()) for extra in chunk.extra_rows]
        if chunk.extra_cols:
            inputs = set(self.inputs)
            names = [name for name in self.lead_names if name not in inputs]
            rows = zip(*chunk.extra_cols, strict=True)
            return [_json_head(zip(names, cells, strict=True)) for cells in rows]
        return None

    def _error_line(
        self, chunk: Chunk, r: int, err: GradError, row: int, fields: list[bytes], head: bytes
    ) -> bytes:
        if self.fmt == "csv":
            given = chunk.raw.get(r)
            cells = [
                csv_cell(given.get(name, "")) if given is not None else fields[j].decode()
                for j, name in enumerate(self.numeric_inputs)
            ]
            cells += [""] * (len(fields) - len(cells))
            cells.append(csv_cell(err.cell()))
            return head + (",".join(cells) + "\n").encode()
        # A math error says where it was born: "pass", "node" and "span", as eval does.
        record = _ENCODE({"kind": err.kind, "message": err.message, **err.provenance()})
        return (head or b"{") + f'"row": {row}, "error": {record}}}\n'.encode()
