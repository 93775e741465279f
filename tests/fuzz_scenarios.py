"""Fuzz scenarios: the command line around the program.

The families of defects that are not in the program text: the state of the
standard streams, CSV and JSON Lines input (blank cells, ragged rows, odd line
ends), control characters and escape sequences echoed back, huge option values,
odd files, option typos. Each scenario is a command line, the bytes on standard
input, the files it names, and how the streams are arranged; ``fuzz_campaign.py``
mixes them with the program-text inputs of ``fuzzing.py``, and ``test_fuzz.py``
runs a quick seeded sample.
"""

from __future__ import annotations

import math
import os
import random
import tempfile
import threading
from typing import Any

from fuzzing import EDGE_VALUES, FuzzFailure, run_main, time_limit
from strict_json import strict_lines

import gradcli
from gradcli.errors import GradError

#: Exit codes a user may meet: ok, math error, usage error, a check that failed or
#: could not judge (docs/errors.md). 70 is a bug.
DOCUMENTED_EXITS = (0, 1, 2, 3, 4)

FAMILIES = ("csv", "jsonl", "line_ends", "control", "huge_options", "typos", "odd_files", "streams")
#: Families that need a real process (file descriptors, devices); the rest run in-process.
PROCESS_FAMILIES = ("odd_files", "streams")

_PROGRAMS = ["x*y", "(x+y)*z", "sqrt(x) + y", "q = x + y\nf = q * z", "log(x)", "x^2", "sin(x)*y",
             "w*x + c", "x"]
_LINE_ENDS = ["\n", "\r", "\r\n", "\u2028", "\u2029", "\x85", "\v", "\f", "\n\r", "\r\r\n"]
_CONTROL = ["\x1b]0;pwned\x07", "\x1b[2J", "\x1b[31m", "\x9b2J", "\x07", "\x08", "\x00", "\x7f", "\x1b",
            "\u202e", "\ufeff", "\x1b]8;;http://x\x1b\\", "\r", "\t", "\x0b"]
_CELLS = ["1", "2.5", "-3", " ", "", "  ", "\t", " 4 ", "1e999", "-1e999", "nan", "inf", "x", "1_0", "２",
          "0x10", '"1"', '" "', "1,5", "1;2", "9" * 400, "1e-400", "−1", "\u00a0", "true", "null"]
_HUGE = ["0", "1", "-1", "2", "1e9", "100000000", "10**9", "1e308", "-5", "1.5", "nan", "inf", "1_000",
         "１０", "9" * 30, "9" * 400, "0.000001", "1e-300", "", " ", "abc"]
_TYPOS = ["--jsn", "--jason", "--JSON", "--json=1", "---json", "--wrtt", "--batc", "--precison", "-h", "--h",
          "--hel", "--explian", "--outptu", "--fmt", "--", "-", "--=", "--x=", "-x=", "-1", "--1x", "--steps",
          "--lr", "--grid", "--batch", "--out", "--file", "--format", "--format=png", "--history=",
          "--help"]


def _program(rng: random.Random) -> str:
    return rng.choice(_PROGRAMS)


def _csv_text(rng: random.Random, names: list[str], rows_out: list[list[str]] | None = None) -> str:
    """CSV text for ``names``; when ``rows_out`` is given and the text is plain (comma,
    the header exactly ``names``), its data rows' cells are appended to it."""
    sep = rng.choice([",", ",", ",", ";", "\t", ", "])
    header = list(names)
    if rng.random() < 0.2:
        header.append(rng.choice(["extra", "", " ", "x"]))
    if rng.random() < 0.1:
        header = [f" {name} " for name in header]
    lines = [sep.join(header)]
    for _ in range(rng.randrange(0, 8)):
        width = len(header) + rng.choice([0, 0, 0, 0, -1, 1, 2])
        if rng.random() < 0.15:
            lines.append(rng.choice(["", " ", "\t", "  \t ", sep]))
            continue
        lines.append(sep.join(rng.choice(_CELLS) for _ in range(max(0, width))))
    end = rng.choice(["\n", "\n", "\r\n", "\r", "\u2028"])
    text = end.join(lines)
    if rows_out is not None and sep == "," and header == names:
        rows_out.extend(line.split(",") for line in lines[1:])
    return text + (end if rng.random() < 0.7 else "")


def _jsonl_text(rng: random.Random, names: list[str]) -> str:
    values = ["1", "2.5", "-3", "1e999", "NaN", "Infinity", "-Infinity", "100000000000000000000000", "null",
              '"1"', '"\\ud800"', "true", "[1]", "{}", "1e400", '" "', "9" * 400]
    lines = []
    for _ in range(rng.randrange(0, 8)):
        if rng.random() < 0.15:
            lines.append(rng.choice(["", " ", "{", "[1, 2]", "x", '"\\ud800"', "\ufeff{}"]))
            continue
        fields = [f'"{name}": {rng.choice(values)}' for name in names if rng.random() < 0.9]
        if rng.random() < 0.1:
            fields.append(f'"extra": {rng.choice(values)}')
        lines.append("{" + ", ".join(fields) + "}")
    end = rng.choice(["\n", "\r\n", "\r", "\u2028"])
    lead = rng.choice(["", "", "\n", "\n\n", " \n"])
    return lead + end.join(lines) + (end if rng.random() < 0.7 else "")


def _names(program: str) -> list[str]:
    try:
        return list(gradcli.compile(program).inputs)
    except GradError:
        return ["x"]


def _bind(program: str, rng: random.Random) -> list[str]:
    """A binding for each input of ``program`` (x alone when it does not compile)."""
    return [f"{name}={rng.choice(EDGE_VALUES)}" for name in _names(program)]


def random_scenario(rng: random.Random, family: str | None = None) -> dict[str, Any]:
    """One command line from the families above: {"family", "args", "stdin", "files", "stream"}.
    ``files`` maps a placeholder such as ``{F}`` in ``args`` to bytes (a regular file) or
    to a kind ("fifo", "dir", "missing", "/dev/zero", ...)."""
    family = family or rng.choice(FAMILIES)
    program = _program(rng)
    names = _names(program)
    bindings = [f"{name}={rng.choice(EDGE_VALUES)}" for name in names]
    files: dict[str, Any] = {}
    stdin = b""
    stream = None
    rows: list[list[str]] = []
    if family == "csv" or family == "jsonl":
        text = _csv_text(rng, names, rows) if family == "csv" else _jsonl_text(rng, names)
        args = ["eval", program, "--batch", "-"]
        if rng.random() < 0.5:
            files["{F}"] = text.encode("utf-8", "surrogatepass")
            args[-1] = "{F}"
        else:
            stdin = text.encode("utf-8", "surrogatepass")
        if rng.random() < 0.5:
            args += ["--format", rng.choice(["csv", "jsonl"])]
        if rng.random() < 0.3:
            args += ["--input-format", rng.choice(["csv", "jsonl"])]
        held = [b for b in bindings if rng.random() < 0.3]
        args += held
        if held or ("--format" in args and args[args.index("--format") + 1] == "csv"):
            rows = []  # defaults fill blanks; CSV output is not read back
    elif family == "line_ends":
        statements = ["a = 2", "b = a*x", "-x", "+ y", "c = b + y", "c", "# note", "", "2*x"]
        end = rng.choice(_LINE_ENDS)
        text = end.join(rng.choice(statements) for _ in range(rng.randrange(1, 6)))
        command = rng.choice(["eval", "trace", "check", "graph", "descend"])
        args = [command, text, *_bind(text, rng)]
        if rng.random() < 0.3:
            files["{F}"] = text.encode("utf-8")
            args = [command, "--file", "{F}", *args[2:]]
        if command in ("eval", "trace", "check", "descend") and rng.random() < 0.5:
            args.append("--json")
        if command == "descend":
            args += ["--steps", "3"]
    elif family == "control":
        bad = "".join(rng.choice(_CONTROL) for _ in range(rng.randrange(1, 4)))
        where = rng.randrange(4)
        text = [f"{program}  # {bad} note", f"q{bad} = x\nq", f"x {bad}", f"a = x # {bad}\nb = a*2"][where]
        command = rng.choice(["eval", "trace", "check", "graph", "descend", "eval"])
        args = [command, text, *_bind(text, rng)]
        if command == "graph":
            args += ["--format", rng.choice(["dot", "mermaid", "tree", "svg"])]
        elif rng.random() < 0.4:
            args.append("--json")
        if command == "descend":
            args += ["--steps", "2"]
        if rng.random() < 0.2:
            args += ["--output", bad]
        if rng.random() < 0.2:
            args += [f"{bad}=1"]
    elif family == "huge_options":
        command = rng.choice(["eval", "check", "descend", "descend", "eval"])
        args = [command, program, *bindings]
        options = {
            "eval": ["--precision", "--grid"],
            "check": ["--eps", "--tol", "--precision"],
            "descend": ["--history", "--steps", "--lr", "--tol", "--momentum", "--beta1", "--beta2",
                        "--adam-eps", "--precision"],
        }[command]
        for option in rng.sample(options, rng.randrange(1, min(3, len(options)) + 1)):
            value = rng.choice(_HUGE)
            if option == "--grid":
                # A sweep of 10^8 points is 10^8 records the user asked for: it streams in
                # flat memory and `| head` or Ctrl-C ends it (tests/test_option_limits.py).
                # Here a whole count stays small enough to finish; the odd spellings and
                # counts too long to read (400 nines) are kept, and must be refused.
                if value.isdigit() and len(value) < 100:
                    value = str(min(int(value), 1000))
                args = [a for a in args if not a.startswith(f"{names[0]}=")]
                value = f"{names[0]}={rng.choice(['0', '-1e308', '1'])}:{rng.choice(['1', '1e308'])}:{value}"
            args += [option, value] if rng.random() < 0.8 else [f"{option}={value}"]
        if command == "descend" and "--steps" not in args:
            args += ["--steps", rng.choice(["5", "50"])]
        if command == "descend" and rng.random() < 0.3:
            args += ["--method", rng.choice(["gd", "momentum", "adam"])]
        if rng.random() < 0.4:
            args.append("--json")
    elif family == "typos":
        command = rng.choice(["eval", "trace", "check", "descend", "graph", "functions"])
        args = [command] + ([] if command == "functions" else [program, *bindings])
        for _ in range(rng.randrange(1, 3)):
            args.insert(rng.randrange(1, len(args) + 1), rng.choice(_TYPOS))
        if command == "descend":
            args += ["--steps", "2"]
    elif family == "odd_files":
        kind = rng.choice(["fifo", "dir", "missing", "/dev/zero", "/dev/null", "/proc/self/mem", "empty",
                           "nul", "huge_line", "/dev/urandom"])
        where = rng.choice(["--batch", "--file", "--out"])
        if where == "--batch":
            args = ["eval", program, "--batch", "{F}", *[b for b in bindings if rng.random() < 0.2]]
        elif where == "--file":
            args = [rng.choice(["eval", "trace", "check"]), "--file", "{F}", *bindings]
        else:
            args = ["graph", program, *bindings, "--out", "{F}"]
            if rng.random() < 0.5:
                args += ["--format", rng.choice(["dot", "svg", "mermaid"])]
        if kind == "fifo" and where == "--out":
            kind = "fifo_out"  # gradcli writes: the harness reads (a FIFO needs both ends, as in a shell)
        files["{F}"] = {"nul": b"x\0y\n", "huge_line": b"x," * 300_000 + b"\n", "empty": b""}.get(kind, kind)
    else:  # streams
        stream = rng.choice(["stdout_full", "stdout_closed", "stderr_closed", "stdin_closed",
                             "stdout_closed_stderr_closed", "stdout_pipe_closed"])
        command = rng.choice(["eval", "trace", "check", "descend", "graph", "functions", "batch"])
        if command == "batch":
            args = ["eval", program, "--batch", "-"]
            stdin = _csv_text(rng, names).encode()
        elif command == "functions":
            args = ["functions"]
        else:
            args = [command, program, *bindings]
            if command == "descend":
                args += ["--steps", "3"]
        if rng.random() < 0.4 and command not in ("graph",):
            args.append("--json")
        if rng.random() < 0.2:
            args.append("--nonsense-option")  # the error path with the streams in that state
    scenario = {"family": family, "args": args, "stdin": stdin, "files": files, "stream": stream}
    if rows:
        scenario["csv"] = {"header": names, "rows": rows}
    return scenario


def _cell_fits(cell: str, value: object) -> bool:
    """Could a record's input ``value`` have come from CSV ``cell``? A blank cell never."""
    text = cell.strip()
    if not text:
        return False
    try:
        number = float(text)
    except ValueError:
        return True  # a form the harness does not read (−1, ２, 0x10): any value
    return not math.isfinite(number) or number == value


def check_batch_values(scenario: dict[str, Any], out: str) -> None:
    """Silent wrong answers: every record with a value comes from a row of the input
    whose every cell is filled and agrees with the record's inputs (a blank cell is
    missing, never a number; a row never gains or loses a field)."""
    import json

    header, rows = scenario["csv"]["header"], scenario["csv"]["rows"]
    for line in out.splitlines():
        record = json.loads(line)
        if "value" not in record:
            continue
        inputs = record.get("inputs", {})
        fits = (
            len(row) == len(header)
            and all(_cell_fits(cell, inputs.get(name)) for cell, name in zip(row, header, strict=True))
            for row in rows
        )
        if not any(fits):
            raise FuzzFailure(
                f"csv {scenario['args']!r:.200}: a value from no row of the input: {line[:300]}"
                f" (rows {rows!r:.300})"
            )


def _materialise(files: dict[str, Any], folder: str) -> dict[str, str]:
    """Create the files of a scenario in ``folder``; return placeholder -> path."""
    paths: dict[str, str] = {}
    for k, (placeholder, content) in enumerate(files.items()):
        path = os.path.join(folder, f"f{k}")
        if isinstance(content, bytes):
            with open(path, "wb") as handle:
                handle.write(content)
        elif content in ("fifo", "fifo_out"):
            os.mkfifo(path)
            end = _feed_fifo if content == "fifo" else _drain_fifo
            threading.Thread(target=end, args=(path,), daemon=True).start()
        elif content == "dir":
            os.mkdir(path)
        elif content == "missing":
            path = os.path.join(folder, "no", "such", "file")
        else:
            path = content  # a device or /proc file
        paths[placeholder] = path
    return paths


def _drain_fifo(path: str) -> None:
    """A reader for a FIFO that gradcli writes to."""
    try:
        with open(path, "rb") as handle:  # blocks until a writer opens it
            while handle.read(65536):
                pass
    except OSError:
        pass


def _feed_fifo(path: str) -> None:
    """A writer for a FIFO (so a reader does not wait for ever), then EOF."""
    try:
        fd = os.open(path, os.O_WRONLY)  # blocks until a reader opens it
        os.write(fd, b"x,y,z,w,c\n1,2,3,4,5\n")
        os.close(fd)
    except OSError:
        pass


def check_scenario_result(scenario: dict[str, Any], code: int, out: str, err: str) -> None:
    """The oracle: no traceback, no internal error, a documented exit code, strict JSON,
    one ``error:`` line for a usage error, no raw control character from user text."""
    args = scenario["args"]
    where = f"{scenario['family']} {scenario.get('stream') or ''} {args!r:.300}"
    if "Traceback" in err or "internal error" in err:
        raise FuzzFailure(f"{where}: exit {code}, stderr: {err[:1500]}")
    if code not in DOCUMENTED_EXITS:
        raise FuzzFailure(f"{where}: exit code {code}, stderr: {err[:1500]}")
    if "out of memory" in err:
        raise FuzzFailure(f"{where}: out of memory for a small input: {err[:300]}")
    if code == 2 and not err.startswith("error: ") and "stderr_closed" not in (scenario.get("stream") or ""):
        raise FuzzFailure(f"{where}: exit 2 without an error: line: {err[:500]}")
    batch = "--batch" in args or any(a.startswith("--grid") for a in args)
    csv_out = "--format" in args[:-1] and args[args.index("--format") + 1] == "csv"
    json_out = "--json" in args or (batch and not csv_out)
    # A free -h is the help (the program has no input h), which is text, not JSON.
    help_shown = code == 0 and out.startswith(f"Usage: gradcli {args[0]} ")
    if json_out and out.strip() and not args[0] == "graph" and "--help" not in args and not help_shown:
        try:
            strict_lines(out)
        except ValueError as exc:
            raise FuzzFailure(f"{where}: not strict JSON: {exc}: {out[:300]!r}") from exc
    # Echoed user text reaches a terminal: no C0/C1 control character, no bidi override.
    # (JSON escapes what it must; the rest of it is data for a program, not a terminal.)
    for name, text in (("stdout", "" if json_out else out), ("stderr", err)):
        bad = [c for c in set(text) if (ord(c) < 32 and c not in "\n\t") or 0x7F <= ord(c) < 0xA0
               or c in "\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069\u2028\u2029"]
        if bad and scenario["family"] in ("control", "line_ends"):
            raise FuzzFailure(f"{where}: raw control character(s) {sorted(bad)!r} on {name}: {text[:300]!r}")


def _substitute(args: list[str], paths: dict[str, str]) -> list[str]:
    return [paths.get(a, a) for a in args]


def run_scenario_in_process(scenario: dict[str, Any], timeout: float = 10.0) -> str:
    """Run a scenario through ``gradcli.cli.main`` in this process; return its outcome."""
    with tempfile.TemporaryDirectory() as folder:
        paths = _materialise(scenario["files"], folder)
        args = _substitute(scenario["args"], paths)
        cwd = os.getcwd()
        os.chdir(folder)  # --out and friends write here
        try:
            with time_limit(timeout):
                code, out, err = run_main(args, stdin=scenario["stdin"])
        finally:
            os.chdir(cwd)
    check_scenario_result(scenario, code, out, err)
    if "csv" in scenario:
        check_batch_values(scenario, out)
    return f"{scenario['family']}: exit {code}"


def run_scenario_process(scenario: dict[str, Any], exe: str, timeout: float = 20.0) -> str:
    """Run a scenario through the installed command, the streams as it says."""
    import subprocess

    stream = scenario["stream"] or ""
    with tempfile.TemporaryDirectory() as folder:
        paths = _materialise(scenario["files"], folder)
        args = [exe, *_substitute(scenario["args"], paths)]
        closing: list[int] = []
        stdout: Any = subprocess.PIPE
        if "stdout_closed" in stream:
            closing.append(1)
        if "stderr_closed" in stream:
            closing.append(2)
        if stream == "stdin_closed":
            closing.append(0)
        full = open(os.devnull if stream != "stdout_full" else "/dev/full", "wb")
        if stream == "stdout_full":
            stdout = full

        def arrange() -> None:
            for fd in closing:
                os.close(fd)

        try:
            if stream == "stdout_pipe_closed":  # the reader is gone before gradcli writes
                read_end, write_end = os.pipe()
                os.close(read_end)
                proc = subprocess.run(args, input=scenario["stdin"], stdout=write_end, stderr=subprocess.PIPE,
                                      timeout=timeout, cwd=folder)
                os.close(write_end)
            else:
                proc = subprocess.run(args, input=scenario["stdin"] if 0 not in closing else None,
                                      stdout=stdout, stderr=subprocess.PIPE, timeout=timeout, cwd=folder,
                                      preexec_fn=arrange if closing else None)
        except subprocess.TimeoutExpired:
            raise FuzzFailure(f"{scenario['family']} {stream} {args!r:.300}: hang: still running after"
                              f" {timeout} s") from None
        finally:
            full.close()
    out = proc.stdout.decode("utf-8", "replace") if isinstance(proc.stdout, bytes) else ""
    err = proc.stderr.decode("utf-8", "replace") if isinstance(proc.stderr, bytes) else ""
    check_scenario_result(scenario, proc.returncode, out, err)
    if stream == "stderr_closed":  # closing stderr never changes the exit code
        plain = run_scenario_process({**scenario, "stream": None}, exe, timeout).rsplit(" ", 1)[-1]
        if plain != str(proc.returncode):
            raise FuzzFailure(f"streams stderr_closed {args!r:.300}: exit {proc.returncode},"
                              f" but {plain} with stderr open")
    return f"{scenario['family']} {stream}: exit {proc.returncode}".rstrip()
