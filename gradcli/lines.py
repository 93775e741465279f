"""The lines of a batch input, read a block at a time, each of bounded length.

Both readers (CSV and JSON Lines) take their lines from a :class:`LineReader`:
a line ends at ``\\n``, ``\\r\\n`` or ``\\r``; one longer than :data:`MAX_LINE`
bytes stops the batch with a message that names the limit (``--batch
/dev/zero`` has no line end at all), and a chunk holds at most
:data:`CHUNK_BYTES` bytes of lines, so memory stays bounded whatever the input.
A stream that cannot be read (closed, or a file such as ``/proc/self/mem``) is
a usage error, not a crash.
"""

from __future__ import annotations

from typing import Any

from .errors import GradError

#: Bytes of one line of batch input at most.
MAX_LINE = 1 << 20
#: Bytes of lines taken for one chunk at most (a single longer line is taken alone).
CHUNK_BYTES = 8 << 20
#: Bytes asked of the stream at a time.
_BLOCK = 1 << 16
_BOM = b"\xef\xbb\xbf"


def is_blank(line: bytes | str) -> bool:
    """A line of nothing but white space: not a row, in CSV or in JSON Lines."""
    if isinstance(line, bytes):
        if not line.strip():
            return True
        if line.isascii():
            return False
        line = line.decode("utf-8", "replace")  # white space beyond ASCII (U+00A0, U+3000)
    return not line.strip()


class LineReader:
    """Lines of a binary stream, each with its line end; ``line_no`` counts the
    lines handed out or skipped so far (so the next one is ``line_no + 1``)."""

    def __init__(self, stream: Any, what: str) -> None:
        self.what = what
        self.line_no = 0
        self.bytes_taken = 0  # bytes of the lines handed out so far
        read = getattr(stream, "read1", None)
        self._read = read if read is not None else stream.read
        self._ready: list[bytes] = []  # complete lines not handed out yet
        self._at = 0  # the first of them
        self._partial = b""  # the start of a line whose end has not arrived
        self._eof = False
        self._started = False
        self._error: GradError | None = None  # met while lines were still to be handed out
        self._deferred: GradError | None = None  # a line too long, after the lines before it

    def _more(self) -> bool:
        """Read one block into complete lines; False at the end of the stream."""
        if self._deferred is not None:
            raise self._deferred
        if self._eof and not self._partial:
            return False
        try:
            block = b"" if self._eof else self._read(_BLOCK)
        except OSError as exc:
            raise GradError("usage", f"cannot read {self.what}: {exc.strerror or exc}") from None
        except ValueError as exc:  # a closed stream
            raise GradError("usage", f"cannot read {self.what}: {exc}") from None
        data = self._partial + block
        self._partial = b""
        if not self._started:  # a byte order mark at the very start is no part of the text
            if block and len(data) < len(_BOM) and _BOM.startswith(data):
                self._partial = data  # too short to tell yet
                return True
            self._started = True
            data = data.removeprefix(_BOM)
        if not block:
            self._eof = True
            if not data:
                return False
            lines = data.splitlines(keepends=True)  # (several: a block given back)
        else:
            lines = data.splitlines(keepends=True)
            # The last piece waits for more unless it is a whole line (and a "\r"
            # may be the first half of "\r\n").
            if lines and not lines[-1].endswith(b"\n"):
                self._partial = lines.pop()
        pending = len(self._ready) - self._at
        if len(data) > MAX_LINE:
            for i, line in enumerate(lines):
                if len(line) > MAX_LINE:
                    if i == 0:
                        raise self._too_long(pending)
                    self._deferred = self._too_long(pending + i)  # the lines before it go on first
                    lines = lines[:i]
                    self._partial = b""
                    break
        if len(self._partial) > MAX_LINE:
            raise self._too_long(pending + len(lines))
        if self._at < len(self._ready):
            lines = self._ready[self._at :] + lines
        self._ready = lines
        self._at = 0
        return True

    def _too_long(self, before: int) -> GradError:
        """The line after ``before`` lines not yet handed out is too long."""
        number = self.line_no + before + 1
        return GradError(
            "usage",
            f"line {number} of {self.what} is longer than {MAX_LINE // 2**20} MiB, the most a line"
            " may hold (is it a text file of rows?)",
        )

    def take(self, count: int) -> list[bytes]:
        """Up to ``count`` lines (fewer at the end, or once :data:`CHUNK_BYTES` are
        taken); an empty list at the end of the stream."""
        if self._error is not None:
            raise self._error
        out: list[bytes] = []
        size = 0
        while len(out) < count and size < CHUNK_BYTES:
            if self._at >= len(self._ready):
                try:
                    more = self._more()
                except GradError as err:
                    if not out:
                        raise
                    self._error = err  # the lines before it go on first
                    break
                if not more:
                    break
                continue
            part = self._ready[self._at : self._at + count - len(out)]
            self._at += len(part)
            self.line_no += len(part)
            out += part
            size += sum(map(len, part))
        self.bytes_taken += size
        return out

    def take_block(self, size: int) -> bytes | None:
        """About ``size`` bytes of whole lines as one bytes object, for a reader that
        splits them itself (Arrow's); nothing is counted until :meth:`commit` (or
        put back with :meth:`give_back`). None when no line ends within ``size``
        bytes: then :meth:`take` goes on (it also names a line that is too long);
        ``b""`` at the end."""
        if self._error is not None:
            raise self._error
        if not self._started or self._deferred is not None:
            return None
        parts = [b"".join(self._ready[self._at :]), self._partial]  # (lines split already come first)
        self._ready, self._at, self._partial = [], 0, b""
        total = len(parts[0]) + len(parts[1])
        at_end = self._eof
        try:
            while total < size and not at_end:
                piece = self._read(size - total)
                at_end = self._eof = not piece
                parts.append(piece)
                total += len(piece)
        except OSError as exc:
            raise GradError("usage", f"cannot read {self.what}: {exc.strerror or exc}") from None
        except ValueError as exc:  # a closed stream
            raise GradError("usage", f"cannot read {self.what}: {exc}") from None
        data = b"".join(parts)
        end = len(data) if at_end else data.rfind(b"\n") + 1
        self._partial = data[end:]
        block = data[:end]
        if not block and not at_end:
            self._partial = data  # no line end yet: the careful path reads on
            return None
        return block

    def commit(self, block: bytes, count: int | None = None) -> None:
        """Count the lines of a block from :meth:`take_block` (``count`` of them, when
        the caller knows) as handed out."""
        if count is None:
            count = block.count(b"\n") + (not block.endswith(b"\n") and bool(block))
        self.line_no += count
        self.bytes_taken += len(block)

    def give_back(self, block: bytes) -> None:
        """Put a block from :meth:`take_block` back: :meth:`take` hands out its lines."""
        self._partial = block + self._partial

    def skip_blank(self) -> bytes | None:
        """Pass over blank lines (counted in ``line_no``) to the first that is not
        blank, which stays to be taken: that line, or None at the end."""
        while True:
            if self._at >= len(self._ready):
                if not self._more():
                    return None
                continue
            line = self._ready[self._at]
            if not is_blank(line):
                return line
            self._at += 1
            self.line_no += 1

    def __iter__(self) -> Any:
        while True:
            lines = self.take(4096)
            if not lines:
                return
            yield from lines
