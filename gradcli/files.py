"""Files written whole or not at all (``graph --out``).

The whole text is built in memory before a byte is written, so the only way to leave
half a file behind is a failure while writing it: a full disk, a file-size limit, an
interrupt. Writing to a temporary name beside the target and renaming it over the
target (an atomic step on one file system) rules that out.
"""

from __future__ import annotations

import contextlib
import os
import stat
import tempfile


def write_whole(path: str, data: bytes) -> None:
    """Write ``data`` to the file ``path`` whole or not at all: a regular file (or a new
    one) is written beside itself under a temporary name and renamed over it, so a
    failure midway (a full disk, a file-size limit, Ctrl-C) leaves the old file, or no
    file, never a part of one. Anything else (a device such as /dev/stdout, a pipe) is
    written directly, and a directory is refused by ``open``."""
    target = os.path.realpath(path)  # through a symbolic link: replace what it names, keep the link
    try:
        mode: int | None = os.stat(target).st_mode
    except OSError:
        mode = None
    if mode is not None and not stat.S_ISREG(mode):
        with open(path, "wb") as handle:
            handle.write(data)
        return
    try:
        fd, temporary = tempfile.mkstemp(dir=os.path.dirname(target), prefix=".gradcli-", suffix=".part")
    except OSError:
        if mode is None:
            raise
        with open(path, "wb") as handle:  # a writable file in a folder we cannot add to
            handle.write(data)
        return
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
        if mode is None:  # a new file gets the usual permissions, not mkstemp's 0600
            umask = os.umask(0)
            os.umask(umask)
            os.chmod(temporary, 0o666 & ~umask)
        else:
            os.chmod(temporary, stat.S_IMODE(mode))
        os.replace(temporary, target)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(temporary)
        raise
