"""The command line: options in, one library call, rendering out, an exit code.

Only :func:`main` turns a :class:`GradError` into an ``error:`` line and its exit
code; no Python traceback reaches a user. rich and lark are imported only by the
commands that need them, so ``--json``, ``--help`` and TAB completion start fast.
"""

from __future__ import annotations

import os
import signal


def _interrupted_while_loading(signum: int, frame: object) -> None:
    """Ctrl-C while the command line is still loading: leave as after any Ctrl-C,
    without the traceback Python would print from the middle of an import."""
    try:
        os.write(2, b"error: interrupted\n")
    except OSError:  # standard error closed
        pass
    os._exit(130)  # ExitStatus.INTERRUPTED; errors.py is not loaded yet


# Installed before anything else is imported, and replaced by main() inside its
# handlers; left alone when Ctrl-C is ignored (a background job) or handled by a host.
if signal.getsignal(signal.SIGINT) is signal.default_int_handler:
    try:
        signal.signal(signal.SIGINT, _interrupted_while_loading)
    except ValueError:  # pragma: no cover - imported outside the main thread
        pass

import errno  # noqa: E402 - after the Ctrl-C guard, on purpose
import io  # noqa: E402
import sys  # noqa: E402
import warnings  # noqa: E402
from typing import Any  # noqa: E402

import click  # noqa: E402

from . import __version__  # noqa: E402
from .commands import COMMANDS  # noqa: E402
from .diff_command import diff_command  # noqa: E402
from .errors import ExitStatus, GradError, format_error  # noqa: E402
from .fit_command import fit_command  # noqa: E402
from .hessian_command import hessian_command  # noqa: E402
from .options import COMPLETE_VAR, write_stderr  # noqa: E402
from .repl_command import repl_command  # noqa: E402


@click.group(
    context_settings={"help_option_names": ["--help"]},
    invoke_without_command=True,
    subcommand_metavar="COMMAND [ARGS]...",
)
@click.version_option(__version__, "--version", prog_name="gradcli", message="%(prog)s %(version)s")
@click.pass_context
def cli(ctx: click.Context) -> None:
    """The value and gradient of a formula, node by node (reverse mode).

    \b
      gradcli eval "(x+y)*z" -x 2 -y 3 -z -4
      gradcli trace "q = x + y; f = q * z" -x 2 -y 3 -z -4
      gradcli eval "(x+y)*z" x=2 y=3 z=-4 --json | jq .gradient

    Bindings: -x 2, --x 2, --x=2 or x=2; a value may be a constant
    expression (-x pi/4). Exit codes: 0 ok, 1 math error, 2 usage error,
    3 a failed check, 4 a check that cannot judge a gradient.
    """
    if ctx.invoked_subcommand is None:  # `gradcli` alone: the help, as a new user hopes
        click.echo(ctx.get_help())


class Interrupted(Exception):
    """Ctrl-C while a command ran: carried past click, which would turn it into Abort."""


class ReaderGone(Exception):
    """Standard output's reader went away (``gradcli ... | head -1``): not an error."""


class _Group(click.Group):
    """The command group: keeps Ctrl-C and a failed write of the output away from
    click's own handling (which prints, wraps the streams and exits by itself)."""

    def make_context(self, *args: Any, **kwargs: Any) -> click.Context:
        # Ctrl-C while click reads the arguments (a slow start-up on a busy machine):
        # click would write a blank line to standard error before gradcli's one line.
        try:
            return super().make_context(*args, **kwargs)
        except KeyboardInterrupt:
            raise Interrupted from None

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except KeyboardInterrupt:
            raise Interrupted from None
        except BrokenPipeError:
            raise ReaderGone from None


cli.__class__ = _Group  # the group above is built by click's decorator
for _command in [*COMMANDS, fit_command, hessian_command, diff_command, repl_command]:
    cli.add_command(_command)


def own_ctrl_c() -> None:
    """Ctrl-C raises KeyboardInterrupt, which the commands turn into their exit 130; one
    that lands where Python ignores exceptions (a weakref callback of the import system,
    a __del__: "Exception ignored in ...") is raised again in the main thread, where it
    stops the command, instead of being dropped while the command runs on."""
    signal.signal(signal.SIGINT, signal.default_int_handler)
    sys.unraisablehook = _unraisable


def _unraisable(args: Any) -> None:
    if args.exc_type is not None and issubclass(args.exc_type, KeyboardInterrupt):
        import _thread
        import threading

        # As if Ctrl-C came again a moment later, from another thread: at once, it would
        # land in this hook, whose exceptions Python ignores too (and, dropped again, come back).
        again = threading.Timer(0.01, _thread.interrupt_main)
        again.daemon = True
        again.start()
        return
    sys.__unraisablehook__(args)


def main(argv: list[str] | None = None) -> int:
    """Entry point: run the CLI and turn every failure into an ``error:`` line."""
    if COMPLETE_VAR in os.environ:  # TAB in a shell: our scripts' protocol
        from .completion import register_shells

        register_shells()
    _guard_streams()
    stdout = sys.stdout
    try:
        if signal.getsignal(signal.SIGINT) is _interrupted_while_loading:
            own_ctrl_c()
        # Without standalone mode, click returns the code of a click.exceptions.Exit.
        # Python's warnings (NumPy's "overflow encountered", a library's deprecation)
        # are not for a user: every result is checked and a problem is said as an error.
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            code = cli.main(args=argv, prog_name="gradcli", standalone_mode=False)
    except GradError as err:
        write_stderr(format_error(err))
        return _exit(err.exit_code)
    except ReaderGone:
        _silence_stdout()
        return ExitStatus.OK
    except SystemExit as exc:
        # click answers a closed pipe met outside a command (`gradcli --help | head -1`)
        # by replacing sys.stdout and exiting 1; nothing went wrong in gradcli.
        if sys.stdout is not stdout:
            sys.stdout = stdout
            _silence_stdout()
            return ExitStatus.OK
        return _exit(exc.code if isinstance(exc.code, int) else ExitStatus.USAGE)
    except click.UsageError as exc:
        hint = ""
        if exc.ctx is not None:
            hint = f"\n  (see: {exc.ctx.command_path} --help)"
        write_stderr(f"error: {exc.format_message()}{hint}")
        return _exit(ExitStatus.USAGE)
    except click.ClickException as exc:
        write_stderr(f"error: {exc.format_message()}")
        return _exit(exc.exit_code)
    except click.exceptions.Exit as exc:
        return _exit(exc.exit_code)
    except (click.Abort, Interrupted, KeyboardInterrupt):
        return _interrupted()
    except BrokenPipeError:
        # The reader went away (`gradcli ... | head`): not an error worth a message.
        _silence_stdout()
        return _exit(ExitStatus.OK)
    except OSError as exc:
        # A file the command reads fails as a GradError; what is left is a standard stream.
        _silence_stdout()
        write_stderr(f"error: {_stream_failure(exc)}")
        return ExitStatus.USAGE
    except MemoryError:
        write_stderr("error: out of memory: the program or the batch is too large for this machine")
        return _exit(ExitStatus.MATH)
    except RecursionError:  # pragma: no cover - nothing recurses on depth
        write_stderr("error: internal error: recursion limit reached (please report this)")
        return _exit(ExitStatus.INTERNAL)
    except Exception as exc:  # pragma: no cover - a bug; still no traceback for the user
        write_stderr(f"error: internal error: {type(exc).__name__}: {exc} (please report this)")
        return _exit(ExitStatus.INTERNAL)
    return _exit(code if isinstance(code, int) else ExitStatus.OK)


class _ClosedStream(io.TextIOBase):
    """Standard output when the shell closed it (``>&-``): writing fails with a reason."""

    def writable(self) -> bool:
        return True

    def write(self, text: str) -> int:
        raise OSError(errno.EBADF, "standard output is closed")

    def isatty(self) -> bool:
        return False


def _guard_streams() -> None:
    """Python leaves ``sys.stdout``/``sys.stderr`` None when the shell closed them.
    Output then fails with a message when something is written (and not before: a
    command that writes nothing to standard output still succeeds); a closed standard
    error swallows what is written, so it never changes the exit code. A closed
    descriptor 1 or 2 is held by the null device opened for reading, so that no file
    opened later takes its number: ``--out /dev/stdout >&-`` then fails as closed
    (EBADF) instead of writing into whatever took descriptor 1."""
    if sys.stdout is None:
        _hold_closed(1)
        sys.stdout = _ClosedStream()
    if sys.stderr is None:
        _hold_closed(2)
        sys.stderr = open(os.devnull, "w", encoding="utf-8")  # open for the life of the process


def _hold_closed(descriptor: int) -> None:
    try:
        os.fstat(descriptor)
        return  # taken already
    except OSError:
        pass
    try:
        placeholder = os.open(os.devnull, os.O_RDONLY)
        if placeholder != descriptor:
            os.dup2(placeholder, descriptor)
            os.close(placeholder)
    except OSError:  # pragma: no cover - no null device
        pass


def _stream_failure(exc: OSError) -> str:
    reason = exc.strerror or str(exc)
    if exc.errno in (errno.ENOSPC, errno.EFBIG, errno.EDQUOT, errno.EBADF):
        return f"cannot write the output: {reason}"
    return f"input/output error: {reason}"


def _interrupted() -> int:
    write_stderr("error: interrupted")
    _silence_stdout()
    return ExitStatus.INTERRUPTED


def _silence_stdout() -> None:
    """Point standard output at the null device, so the interpreter's last flush of
    whatever is left in its buffer cannot fail."""
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
    except (AttributeError, OSError, ValueError):  # stdout closed (None)
        pass


def _exit(code: int) -> int:
    """Flush standard output before leaving: a failed write is reported here, while
    the exit code can still say so (after return, Python would print a traceback)."""
    try:
        if sys.stdout is not None:
            sys.stdout.flush()
    except BrokenPipeError:
        _silence_stdout()
    except OSError as exc:
        _silence_stdout()
        write_stderr(f"error: {_stream_failure(exc)}")
        return max(int(code), ExitStatus.USAGE)
    except ValueError:  # pragma: no cover - closed by someone else
        pass
    return int(code)
