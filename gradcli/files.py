"""Files written whole or not at all: every ``--out`` (graph, eval --batch).

The output is written to a temporary name beside the target and renamed over the
target at the end (an atomic step on one file system), so a failure midway (a full
disk, a file-size limit, Ctrl-C) leaves the old file, or no file, never a part of
one. The same rules for every writer:

- a symbolic link is followed: the file it names is replaced, the link is kept;
- a descriptor this process already holds (/dev/stdout, /dev/stderr, /dev/fd/N,
  /proc/self/fd/N, or a link to one) is written through a copy of that descriptor,
  never opened again: the shell's ``>>`` appends, its ``>`` has truncated, and a
  closed one (``>&-``) is an error;
- anything else that is not a regular file (a device such as /dev/full, a pipe, a
  FIFO) is written in place, never renamed over;
- an existing file keeps its permissions; a new one gets 0666 less the umask;
- a folder is refused, and so is a folder that does not exist;
- the temporary file is removed on any failure, an interrupt included.

A write that fails is one error line (``cannot_write``), except where the reader
of a pipe went away (EPIPE: ``--out /dev/stdout | head -1``, a FIFO whose reader
closed it): that ends the command quietly with 0, as it does when the same output
goes to standard output itself.

``open_output`` opens the stream to write to (every writer goes through it);
``write_whole`` writes bytes with it; ``staged_folder`` stages a folder (a Dask
dataset) the same way.
"""

from __future__ import annotations

import contextlib
import errno
import os
import re
import shutil
import stat
import sys
import tempfile
from collections.abc import Iterator
from typing import IO, Any

from .errors import GradError, printable, shorten

_HOPS = 40  # symbolic links followed before giving up (the kernel's own limit)
# A descriptor's own name: /dev/fd/N or /proc/(self|thread-self|PID)/fd/N (no leading
# zero: the kernel does not know /dev/fd/01; nine digits: far past any descriptor).
_DESCRIPTOR = re.compile(r"/(?:dev/fd|proc/(self|thread-self|[0-9]+)/fd)/(0|[1-9][0-9]{0,8})")


def held_descriptor(path: str) -> int | None:
    """The descriptor ``path`` names when it is one of this process's own (/dev/stdout,
    /dev/stderr, /dev/fd/N, /proc/self/fd/N, /proc/PID/fd/N, or a symbolic link to one),
    whether or not it is open; None for any other path."""
    current = os.path.abspath(path)
    for _ in range(_HOPS):
        match = _DESCRIPTOR.fullmatch(current)
        if match is not None:
            owner = match[1]
            ours = owner in (None, "self", "thread-self") or int(owner) == os.getpid()
            return int(match[2]) if ours else None
        if current.startswith(("/proc/", "/dev/fd/")) or not os.path.islink(current):
            return None
        current = os.path.normpath(os.path.join(os.path.dirname(current), os.readlink(current)))
    return None


def cannot_write(option: str, path: str, exc: OSError) -> Exception:
    """What to raise when writing ``path`` (given as ``option``: "--out", "--save")
    failed with ``exc``: a ``BrokenPipeError`` when the reader of a pipe went away,
    which the command line ends quietly with 0 as it does for standard output (the
    reader has all it wanted); for any other failure a ``GradError`` that says why."""
    if isinstance(exc, BrokenPipeError):
        return exc
    if exc.errno == errno.EPIPE:  # (an OSError that a library made of one)
        return BrokenPipeError(errno.EPIPE, os.strerror(errno.EPIPE))
    return GradError("usage", f"cannot write {option} {printable(shorten(path, 80))}: {exc.strerror or exc}")


def _resolve(path: str) -> str | None:
    """The file a rename must replace, through symbolic links; None when a link leads
    into a process's open files (/dev/stdout, /dev/fd/N, /proc/self/fd/N), which are
    written in place whatever they are."""
    current = os.path.abspath(path)
    for _ in range(_HOPS):
        if current.startswith(("/proc/", "/dev/fd/")):
            return None
        if not os.path.islink(current):
            break
        current = os.path.normpath(os.path.join(os.path.dirname(current), os.readlink(current)))
    return os.path.realpath(current)


def _new_file_mode() -> int:
    umask = os.umask(0)
    os.umask(umask)
    return 0o666 & ~umask


def unwritable(path: str) -> OSError | None:
    """Why ``path`` could not be written, asked before any work is done (a fit that
    would run for minutes and then fail to save); None when it looks writable. The
    write itself may still fail (a full disk): its caller words that too."""
    descriptor = held_descriptor(path)
    if descriptor is not None:  # /dev/stdout: open, and open for writing
        import fcntl

        try:
            flags = fcntl.fcntl(descriptor, fcntl.F_GETFL)
        except OSError:
            flags = os.O_RDONLY
        if flags & os.O_ACCMODE == os.O_RDONLY:
            return OSError(errno.EBADF, os.strerror(errno.EBADF), path)
        return None
    try:
        mode: int | None = os.stat(path).st_mode
    except FileNotFoundError:
        mode = None
    except OSError as exc:
        return exc
    if mode is not None and stat.S_ISDIR(mode):
        return IsADirectoryError(21, "Is a directory", path)
    if mode is not None:
        return None if os.access(path, os.W_OK) else PermissionError(13, "Permission denied", path)
    folder = os.path.dirname(os.path.abspath(path))
    if not os.path.isdir(folder):
        return FileNotFoundError(2, "No such file or directory", path)
    if not os.access(folder, os.W_OK):
        return PermissionError(13, "Permission denied", path)
    return None


@contextlib.contextmanager
def _staged_file(path: str) -> Iterator[str]:
    """Yield the name to write ``path``'s new contents to (open it and write it whole);
    when the block ends without an exception, those contents are put in place. A
    regular file, or a new one, is staged beside its target and renamed over it; a
    device, a pipe or a FIFO is yielded as itself and written in place. Raises
    ``OSError`` (IsADirectoryError, FileNotFoundError, PermissionError, ...) for a path
    that cannot be written; the caller words it."""
    target = _resolve(path)
    try:
        mode: int | None = os.stat(path).st_mode  # follows links: what a write would reach
    except FileNotFoundError:
        mode = None
    if mode is not None and stat.S_ISDIR(mode):
        raise IsADirectoryError(21, "Is a directory", path)
    if target is None or (mode is not None and not stat.S_ISREG(mode)):
        yield path  # a device, a pipe, a process's open file: written in place
        return
    try:
        fd, temporary = tempfile.mkstemp(dir=os.path.dirname(target), prefix=".gradcli-", suffix=".part")
    except OSError:
        if mode is None:
            raise  # a missing folder, a folder we cannot add to
        yield path  # a writable file in a folder we cannot add to: written in place
        return
    try:
        os.close(fd)
        os.chmod(temporary, _new_file_mode() if mode is None else stat.S_IMODE(mode))
        yield temporary
        try:  # checked again just before the rename: never rename over anything but a file
            now: int | None = os.stat(target).st_mode
        except FileNotFoundError:
            now = None
        if now is not None and not stat.S_ISREG(now):
            raise OSError(f"{path} is no longer a regular file")
        os.replace(temporary, target)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(temporary)
        raise


@contextlib.contextmanager
def open_output(path: str, mode: str = "wb", **options: Any) -> Iterator[IO[Any]]:
    """``path`` open for writing (``mode`` "wb" or "w", ``options`` as ``open`` takes
    them): a regular file staged and put in place when the block ends without an
    exception (staged beside it, renamed over it); a descriptor this process holds (/dev/stdout)
    written through a copy of it, so the shell's ``>>`` appends and its ``>`` has
    truncated; a device, a pipe or a FIFO written in place. Raises ``OSError`` for
    a path that cannot be written (a closed descriptor: EBADF); the caller words it."""
    descriptor = held_descriptor(path)
    if descriptor is None:
        with _staged_file(path) as name, open(name, mode, **options) as stream:
            yield stream
        return
    try:
        copy = os.dup(descriptor)
    except OSError:
        raise OSError(errno.EBADF, os.strerror(errno.EBADF), path) from None
    try:
        stream = os.fdopen(copy, mode, **options)
    except BaseException:
        os.close(copy)
        raise
    for own in (sys.stdout, sys.stderr):  # what was printed before goes first
        with contextlib.suppress(AttributeError, OSError, ValueError):
            own.flush()
    with stream:
        yield stream


def write_whole(path: str, data: bytes) -> None:
    """Write ``data`` to the file ``path`` whole or not at all (see ``open_output``)."""
    with open_output(path, "wb") as handle:
        handle.write(data)


@contextlib.contextmanager
def staged_folder(path: str) -> Iterator[str]:
    """Yield a name beside the folder ``path`` (not yet made) to build a folder under;
    when the block ends without an exception it is renamed to ``path``, which must be
    absent or empty; on any failure it is removed. A symbolic link is followed (the
    folder it names is replaced). A path that is not a folder (a file, a device,
    /dev/stdout) is refused before anything is made."""
    target = _resolve(path)
    if target is None or (os.path.lexists(target) and not os.path.isdir(target)):
        raise NotADirectoryError(errno.ENOTDIR, os.strerror(errno.ENOTDIR), path)
    folder, base = os.path.split(target)
    if not os.path.isdir(folder):
        raise FileNotFoundError(2, "No such file or directory", folder)
    temporary = os.path.join(folder, f".{base}.{os.getpid()}.partial")
    try:
        yield temporary
        if os.path.isdir(target) and not os.path.islink(target):
            os.rmdir(target)  # empty, or this refuses
        os.replace(temporary, target)
    except BaseException:
        shutil.rmtree(temporary, ignore_errors=True)
        raise
