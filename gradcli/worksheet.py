"""The classroom's tables: exact fractions, blank worksheets, and marking a student's answers.

``trace --blank`` is ``trace``'s table with the gradient columns left empty, for a
student to fill in. ``check --answers FILE`` reads the filled-in gradients (a JSON
object ``{"x": -4, ...}`` or a CSV with ``label`` and ``grad`` columns, as the
trace shows them) and marks each against the true value. An answer is right when
it equals the true value to the decimals written: within half a unit of its last
digit (``-0.20`` for -0.196612 is right, ``-0.19`` is wrong); with a tolerance T,
when ``|answer − true| ≤ T·max(1, |true|)``. An answer written as a fraction
(``1/3``) is held to 1e-9 of the true value unless T is given.
"""

from __future__ import annotations

import csv
import io
import json
import math
from collections.abc import Iterable
from decimal import MAX_EMAX, MIN_EMIN, Context, Decimal, InvalidOperation, localcontext
from fractions import Fraction
from typing import IO, TYPE_CHECKING, Any

from .errors import GradError, shorten
from .render import Column, Styled, format_number, output_label, print_rows, print_trace, short_title

if TYPE_CHECKING:
    from .evaluate import NodeResult, Result
    from .exact import Exact

#: How close a fraction answer must be when no tolerance is given (relative).
FRACTION_TOL = 1e-9


# --- tables ----------------------------------------------------------------------------


def exact_cell(q: Fraction | None, fallback: float | None, precision: int | None) -> str:
    """``1/3``; ``≈1.41421`` where the number is not exact; ``—`` where there is none."""
    if q is not None:
        return str(q)
    if fallback is None:
        return "—"
    return "≈" + format_number(fallback, precision)


def print_exact_eval(result: Result, ex: Exact, precision: int | None, file: IO[str] | None = None) -> None:
    """``eval --exact``: the table of ``eval`` with exact fractions."""
    f = output_label(result)
    columns = [Column("name"), Column("value", "right", "green", whole=True),
               Column(f"∂{f}/∂name", "right", "red", whole=True)]
    rows = [[f"{f} (output)", exact_cell(ex.value, result.value, precision), ""]]
    graph = result.graph
    for name, grad in result.gradient.items():
        if name in result.inputs:
            value, q = result.inputs[name], ex.inputs[name]
        else:
            i = graph.names.get(name)
            value, q = (result.values[i], ex.values[i]) if i is not None else (None, None)
        rows.append([name, exact_cell(q, value, precision), exact_cell(ex.gradient[name], grad, precision)])
    print_rows(short_title(result.source), columns, rows, file)
    print_notes(ex.notes, file)


def print_notes(notes: list[str], file: IO[str] | None = None) -> None:
    import sys

    stream = file if file is not None else sys.stdout
    for note in notes:
        stream.write(f"note: {note}\n")


def print_sheet(
    result: Result,
    precision: int | None,
    *,
    ex: Exact | None = None,
    blank: bool = False,
    file: IO[str] | None = None,
) -> None:
    """``trace``'s table with exact fractions (``ex``), or with the gradient columns
    empty (``blank``: a worksheet), or both."""
    cells = None
    if ex is not None:

        def cells(node: NodeResult) -> tuple[str, str, str]:
            i = node.id
            pairs = zip(ex.local_grads[i], node.local_grads, strict=True)
            local = ", ".join(exact_cell(q, g, precision) for q, g in pairs)
            value = exact_cell(ex.values[i], node.value, precision)
            return value, local, exact_cell(ex.grads[i], node.grad, precision)

    print_trace(result, precision, file, blank=blank, cells=cells)
    if ex is not None:
        print_notes(ex.notes, file)


# --- answers ---------------------------------------------------------------------------


class Mark:
    """One answer marked: ``verdict`` is ``right``, ``wrong`` or ``not answered``."""

    __slots__ = ("answer", "name", "true", "verdict")

    def __init__(self, name: str, answer: str | None, true: float, verdict: str) -> None:
        self.name = name
        self.answer = answer
        self.true = true
        self.verdict = verdict

    def to_json(self) -> dict[str, Any]:
        return {"name": self.name, "answer": self.answer, "true": self.true, "verdict": self.verdict}


class Marking:
    """A student's answers marked against a result."""

    __slots__ = ("marks", "result", "source", "tol")

    def __init__(self, result: Result, marks: list[Mark], tol: float | None) -> None:
        self.result = result
        self.source = result.source
        self.marks = marks
        self.tol = tol

    def count(self, verdict: str) -> int:
        return sum(1 for m in self.marks if m.verdict == verdict)

    def error(self) -> GradError | None:
        """Exit 3 when an answer is wrong; answers left out are not wrong."""
        wrong = [m.name for m in self.marks if m.verdict == "wrong"]
        if not wrong:
            return None
        given = len(self.marks) - self.count("not answered")
        message = f"{len(wrong)} of {given} answers are wrong ({', '.join(wrong)})"
        if given < len(self.marks):
            message += f"; {len(self.marks) - given} not answered"
        return GradError("check", message)

    def to_json(self) -> dict[str, Any]:
        return {
            "source": self.source,
            "tol": self.tol,
            "marks": [m.to_json() for m in self.marks],
            "right": self.count("right"),
            "wrong": self.count("wrong"),
            "not_answered": self.count("not answered"),
        }


def is_right(answer: str, true: float, tol: float | None) -> bool:
    """The marking rule: equal to the decimals written, or within ``tol`` (relative,
    as ``check``'s: ``tol·max(1, |true|)``)."""
    if "/" in answer:
        value = float(Fraction(answer))
        return abs(value - true) <= (FRACTION_TOL if tol is None else tol) * max(1.0, abs(true))
    if tol is not None:
        return abs(float(answer) - true) <= tol * max(1.0, abs(true))
    # Exponents as far as the answer's own (1e-999999999): no overflow, no underflow.
    with localcontext(Context(prec=60, Emax=MAX_EMAX, Emin=MIN_EMIN)):
        written = Decimal(answer)
        exponent = written.as_tuple().exponent
        assert isinstance(exponent, int)
        if written.is_zero():  # 0e99 is 0: no digit past the ones place, or it would pass anything
            exponent = min(exponent, 0)
        half_unit = Decimal(5).scaleb(exponent - 1)  # half a unit of the last digit written
        return abs(Decimal(true) - written) <= half_unit


def _numeral(text: str, where: str) -> str:
    """An answer cell as written (kept as text: its trailing zeros count)."""
    cell = text.strip().replace("−", "-")
    try:
        value = float(Fraction(cell)) if "/" in cell else float(Decimal(cell))
    except (ValueError, ZeroDivisionError, InvalidOperation, OverflowError):
        raise GradError("usage", f"{where}: {shorten(text)!r} is not a number") from None
    if math.isnan(value):
        raise GradError("usage", f"{where}: {shorten(text)!r} is not a number")
    if math.isinf(value):
        raise GradError("usage", f"{where}: {shorten(text)!r} is not a finite number")
    return cell


class _Row:
    """One answer as read: a name (JSON) or a trace label (CSV), the node id a CSV's
    ``id`` column gives, the answer as written (None: left empty), and where it is."""

    __slots__ = ("answer", "id", "name", "where")

    def __init__(self, name: str, id: int | None, answer: str | None, where: str) -> None:
        self.name = name
        self.id = id
        self.answer = answer
        self.where = where


def read_answers(path: str) -> tuple[str, list[_Row]]:
    """The answers in ``path``: ("json" or "csv", the rows in file order)."""
    from .arguments import read_option_file

    shown = shorten(path)
    data = read_option_file(path, "--answers")
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise GradError(
            "usage", f"--answers {shown} is not UTF-8 text (byte {exc.start} cannot be decoded)"
        ) from None
    stripped = text.lstrip()
    if stripped.startswith("{"):
        return "json", _json_answers(text, path)
    if not stripped or stripped.startswith("["):
        raise GradError(
            "usage",
            f"--answers {shown}: not a JSON object of gradients ({{\"x\": -4}}) or a CSV with"
            " label and grad columns",
        )
    return "csv", _csv_answers(text, path)


def _json_answers(text: str, path: str) -> list[_Row]:
    def pairs(items: list[tuple[str, Any]]) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for name, cell in items:
            if name in out:
                raise GradError("usage", f"--answers {shorten(path)}: {shorten(name)} is answered twice")
            out[name] = cell
        return out

    try:
        # Numbers kept as written: the decimals a student wrote decide the marking.
        obj = json.loads(text, parse_float=str, parse_int=str, parse_constant=str, object_pairs_hook=pairs)
    except json.JSONDecodeError as exc:
        raise GradError("usage", f"--answers {shorten(path)}: not valid JSON ({exc})") from None
    except RecursionError:  # '{"x": [[[[...' 100,000 deep: Python's parser recurses
        raise GradError("usage", f"--answers {shorten(path)} is nested too deeply to be answers") from None
    if not isinstance(obj, dict):
        raise GradError(
            "usage", f"--answers {shorten(path)}: give a JSON object of gradients, as {{\"x\": -4}}"
        )
    out: list[_Row] = []
    for name, cell in obj.items():
        where = f"--answers {shorten(path)}, {shorten(name)}"
        if cell is None or cell == "":
            out.append(_Row(name, None, None, where))
        elif isinstance(cell, str):
            out.append(_Row(name, None, _numeral(cell, where), where))
        else:
            raise GradError("usage", f"{where}: {shorten(json.dumps(cell))} is not a number")
    return out


def _csv_answers(text: str, path: str) -> list[_Row]:
    try:
        rows = list(csv.reader(io.StringIO(text)))
    except csv.Error as exc:
        raise GradError("usage", f"--answers {shorten(path)}: not a readable CSV ({exc})") from None
    header = [cell.strip().lower() for cell in rows[0]] if rows else []
    if "label" not in header or "grad" not in header:
        raise GradError(
            "usage",
            f"--answers {shorten(path)}: a CSV of answers needs a header row with label and grad columns"
            f" (it has {shorten(', '.join(rows[0])) if rows else 'nothing'})",
        )
    at_label, at_grad = header.index("label"), header.index("grad")
    at_id = header.index("id") if "id" in header else None
    out: list[_Row] = []
    for line, row in enumerate(rows[1:], start=2):
        if not any(cell.strip() for cell in row):
            continue
        where = f"--answers {shorten(path)}, line {line}"
        label = row[at_label].strip() if at_label < len(row) else ""
        cell = row[at_grad].strip() if at_grad < len(row) else ""
        id_cell = row[at_id].strip() if at_id is not None and at_id < len(row) else ""
        node: int | None = None
        if id_cell:
            if not (id_cell.isascii() and id_cell.isdigit() and len(id_cell) <= 12):
                raise GradError("usage", f"{where}: the id {shorten(id_cell)!r} is not a node number")
            node = int(id_cell)
        elif not label:
            raise GradError("usage", f"{where}: the label is empty")
        empty = not cell or cell == "—"  # as trace shows a gradient that is not computed
        out.append(_Row(label, node, None if empty else _numeral(cell, where), where))
    return out


def mark(result: Result, path: str, tol: float | None = None) -> Marking:
    """Mark the answers in ``path`` against ``result``. A JSON object answers the
    gradient toward inputs and named values; a CSV answers nodes by their trace label
    (inputs, named values and subexpressions), or by their trace id where it has an
    ``id`` column (a long label is cut, so two nodes may share one). What is left out
    is not answered; an answer given twice, or a label that names several nodes, is
    refused."""
    if tol is not None:
        from .gradcheck import check_tolerance

        check_tolerance(tol)
    kind, rows = read_answers(path)
    graph = result.graph
    # what can be answered: key (a name, or a node id) -> (its label, the true gradient);
    # and what the trace shows with no gradient (—): a constant, a branch not taken
    truth: dict[Any, tuple[str, float]] = {}
    no_gradient: dict[Any, str] = {}
    if kind == "json":
        for name in graph.inputs:
            truth[name] = (name, result.gradient.get(name, 0.0))
        grads = result.grads
        for name, i in graph.names.items():
            if i is not None and grads[i] is not None and name not in truth:
                truth[name] = (name, grads[i])  # type: ignore[assignment]
            elif name not in truth:
                no_gradient[name] = name
        # the gradient reported for an input the output does not use is 0
    else:
        for node in result.nodes:
            if node.grad is not None:
                truth[node.id] = (node.label, node.grad)
            else:
                no_gradient[node.id] = node.label
        for name, i in graph.inputs.items():
            if i is None:  # an input the output does not use: no node, gradient 0
                truth[name] = (name, 0.0)
    by_label: dict[str, list[Any]] = {}
    for key, (label, _) in truth.items():
        by_label.setdefault(label, []).append(key)
    answers: dict[Any, _Row] = {}
    for row in rows:
        if _without_gradient(row, no_gradient, by_label):
            continue
        key = _resolve(row, kind, truth, by_label, path)
        if key in answers:
            before = answers[key].where.rsplit(", ", 1)[-1]
            raise GradError(
                "usage", f"{row.where}: {shorten(truth[key][0])} is answered twice (also {before})"
            )
        answers[key] = row
    if kind == "csv":
        expected = list(truth)
    else:
        expected = [*graph.inputs, *(key for key in answers if key not in graph.inputs)]
    marks: list[Mark] = []
    for key in expected:
        label, true = truth[key]
        if len(by_label[label]) > 1:
            label = f"{label} (id {key})"
        given = answers.get(key)
        answer = None if given is None else given.answer
        if answer is None:
            verdict = "not answered"
        else:
            verdict = "right" if is_right(answer, true, tol) else "wrong"
        marks.append(Mark(label, answer, true, verdict))
    return Marking(result, marks, tol)


def _without_gradient(row: _Row, no_gradient: dict[Any, str], by_label: dict[str, list[Any]]) -> bool:
    """Whether ``row`` is of a node that the trace shows without a gradient (a constant,
    a branch not taken: —): a filled-in trace copies those rows, left empty, and they are
    passed over; an answer there is a usage error that says why."""
    if row.id is not None:
        if row.id not in no_gradient:
            return False
        label = no_gradient[row.id]
    elif row.name in by_label or row.name not in no_gradient.values():
        return False
    else:
        label = row.name
    if row.answer is None:
        return True
    raise GradError("usage", f"{row.where}: {shorten(label)} has no gradient to answer (a constant, or"
                    " a value in a branch of if not taken: trace shows —); leave it empty")


def _resolve(row: _Row, kind: str, truth: dict[Any, tuple[str, float]], by_label: dict[str, list[Any]],
             path: str) -> Any:
    """The key of ``truth`` that ``row`` answers, or a usage error that says why none."""
    if row.id is not None:
        if row.id not in truth:
            ids = [k for k in truth if isinstance(k, int)]
            raise GradError("usage", f"{row.where}: no node {row.id} of the trace has a gradient"
                            f" (its ids are {ids[0]} to {ids[-1]})")
        label = truth[row.id][0]
        if row.name and row.name != label:
            raise GradError("usage", f"{row.where}: node {row.id} is labelled {shorten(label)!r},"
                            f" not {shorten(row.name)!r}")
        return row.id
    keys = by_label.get(row.name)
    if keys is None:
        what = "inputs and named values" if kind == "json" else "labels"
        known = ", ".join(shorten(label) for label in list(by_label)[:12])
        more = ", ..." if len(by_label) > 12 else ""
        raise GradError(
            "usage",
            f"--answers {shorten(path)}: the program has no {shorten(row.name)}"
            f"{_suggestion(row.name, by_label)}; its {what} are {known}{more}",
        )
    if len(keys) > 1:
        raise GradError(
            "usage",
            f"{row.where}: the label {shorten(row.name)!r} names the nodes {', '.join(map(str, keys))}"
            " (a long label is cut): add an id column, with the ids trace gives",
        )
    return keys[0]


def mark_answers(result: Result, path: str, tol: float | None = None) -> Marking:
    """Mark the answers in the file ``path`` against ``result`` (see :func:`mark`)."""
    return mark(result, path, tol)


def _suggestion(name: str, known: Iterable[str]) -> str:
    from .graph import suggest

    return suggest(name, known)


_VERDICT_STYLE = {"right": "green", "wrong": "bold red", "not answered": "yellow"}


def print_marking(marking: Marking, precision: int | None, file: IO[str] | None = None) -> None:
    """One row per answer: the answer as written, the true value, right or wrong."""
    f = output_label(marking.result)
    columns = [Column("name"), Column(f"answer ∂{f}/∂name", "right", whole=True),
               Column("true value", "right", whole=True), Column("mark")]
    rows = [
        [m.name, m.answer if m.answer is not None else "", format_number(m.true, precision),
         Styled(m.verdict, _VERDICT_STYLE[m.verdict])]
        for m in marking.marks
    ]
    print_rows(short_title(marking.source), columns, rows, file)
    import sys

    stream = file if file is not None else sys.stdout
    rule = "to the decimals written" if marking.tol is None else f"within tol {marking.tol:g}"
    summary = f"{marking.count('right')} right, {marking.count('wrong')} wrong"
    missing = marking.count("not answered")
    if missing:
        summary += f", {missing} not answered"
    stream.write(f"{summary} ({rule})\n")
