"""An interactive session's state: definitions that accumulate, an expression, bindings.

What ``gradcli repl`` keeps between lines, as a library (``gradcli.Session``). A
session is a set of **definitions** (``q = x + y``), at most one bare
**expression** (the last one entered), and **bindings** (``x=2``). A definition
of a name already defined replaces the earlier one; definitions may be entered in
any order (``f = q*z`` before ``q = x + y``), and a program is made from them when
it is needed: the definitions the output depends on, each after those it uses
(ties in the order they were first entered). A definition that would make a name
depend on itself (``x = x + 1``, or ``q = f`` where ``f`` uses ``q``) is refused.

The **output** is what was entered last: the last bare expression, or the name
defined (or redefined, or typed alone) last; :meth:`Session.evaluate` takes another name on request.
Names a program uses but no definition assigns are its inputs, and take their
values from the bindings. Errors are :class:`GradError` values whose caret points
into the line as typed or into the definition it came from, never into the program
the session assembled. Nothing here recurses on the depth of an expression.
"""

from __future__ import annotations

import heapq
import re
from bisect import bisect_right
from collections.abc import Iterable
from typing import TYPE_CHECKING

from .errors import GradError, Span, shorten
from .ops import CONSTANTS, FUNCTIONS
from .syntax import Assign, Expr, Name, postorder

if TYPE_CHECKING:
    from .derivatives import DerivativeProgram
    from .evaluate import Result
    from .graph import Graph

#: ``name=`` in ``:bind x=2 y=pi/4`` (the ``=`` not part of ``==``).
_BIND_NAME = re.compile(r"(?:^|(?<=[\s,;]))([^\W\d]\w*)\s*=(?!=)")
_NAME = re.compile(r"[^\W\d]\w*")


class Definition:
    """One statement of the session: ``name`` (None for the bare expression), its text
    as entered, the names it reads (in order of first use, with where each is first
    read in ``text``), and ``order``, its place among the definitions (kept when it is
    replaced)."""

    __slots__ = ("name", "order", "text", "uses")

    def __init__(self, name: str | None, text: str, uses: dict[str, Span], order: int) -> None:
        self.name = name
        self.text = text
        self.uses = uses
        self.order = order

    def __repr__(self) -> str:
        return f"<Definition {self.name or '(expression)'}: {shorten(self.text)}>"


class Entered:
    """What a line of statements did: the names it ``defined`` for the first time, the
    ``replaced`` definitions (name, earlier text), the bound names it ``shadowed``
    (now defined, so their bindings are not used), its bare ``expression``, and whether
    it ``show``s the output (it ends in an expression, or a defined name alone)."""

    __slots__ = ("defined", "expression", "replaced", "shadowed", "show")

    def __init__(self) -> None:
        self.defined: list[str] = []
        self.replaced: list[tuple[str, str]] = []
        self.shadowed: list[str] = []
        self.expression: Definition | None = None
        self.show = False


class _Program:
    """A program assembled from definitions: its source and where each piece starts."""

    __slots__ = ("pieces", "prefix", "source", "starts")

    def __init__(self, pieces: list[Definition], label: str | None = None) -> None:
        self.pieces = pieces
        # A bare expression last may be given a name (``label = ...``): a prefix the
        # user did not type, left out of every caret.
        self.prefix = f"{label} = " if label is not None and pieces[-1].name is None else ""
        texts = [piece.text for piece in pieces]
        texts[-1] = self.prefix + texts[-1]
        self.starts: list[int] = []
        at = 0
        for text in texts:
            self.starts.append(at)
            at += len(text) + 1
        self.source = "\n".join(texts)

    def rebase(self, err: GradError) -> GradError:
        """``err`` with its caret in the definition it points into (the program it came
        from is the session's own assembly, which the user never typed)."""
        if err.span is None or (err.source is not None and err.source != self.source):
            return err
        k = max(0, bisect_right(self.starts, err.span.start) - 1)
        start, text = self.starts[k], self.pieces[k].text
        if k == len(self.pieces) - 1:
            start += len(self.prefix)
        span = Span(max(0, err.span.start - start), max(0, min(err.span.end - start, len(text))))
        moved = GradError(err.kind, err.message, span, text)
        moved.stage, moved.node = err.stage, err.node
        return moved


class _Cycle(Exception):
    """Definitions that depend on each other in a circle (the caller says which)."""


def _uses(expr: Expr) -> dict[str, Span]:
    """The names ``expr`` reads (not constants), in order of first use, each with its span."""
    found: dict[str, Span] = {}
    for node in postorder(expr):
        if type(node) is Name and node.id not in CONSTANTS and node.id not in found:
            found[node.id] = node.span
    # postorder visits children before parents but left before right: first use order
    # in the text is by position.
    return dict(sorted(found.items(), key=lambda item: item[1].start))


def _shifted(uses: dict[str, Span], offset: int) -> dict[str, Span]:
    return {name: Span(span.start - offset, span.end - offset) for name, span in uses.items()}


class Session:
    """The state of an interactive session (see the module's description)::

        >>> s = Session()
        >>> _ = s.enter("q = x + y")
        >>> _ = s.enter("f = q * z")
        >>> s.bind("x=2 y=3 z=-4")
        {'x': 2.0, 'y': 3.0, 'z': -4.0}
        >>> r = s.evaluate()
        >>> r.value, r.gradient
        (-20.0, {'x': -4.0, 'y': -4.0, 'z': 5.0})
    """

    def __init__(self) -> None:
        self.definitions: dict[str, Definition] = {}
        self.expression: Definition | None = None
        self.show = False
        self.bindings: dict[str, float] = {}
        #: The output: a defined name, None for the expression, or "" for nothing yet.
        self.output: str | None = ""
        self._order = 0
        self._compiled: tuple[str, Graph] | None = None

    # --- entering -----------------------------------------------------------------

    def enter(self, line: str) -> Entered:
        """Read a line of statements (``;`` separates several): definitions are added
        or replace earlier ones, and a bare expression (last, if any) becomes the
        output. All or nothing: a line with a mistake changes nothing."""
        from .parse import parse

        program = parse(line)
        entered = Entered()
        definitions = dict(self.definitions)
        order = self._order
        output = self.output
        new: list[Definition] = []
        for stmt in program.statements:
            text = line[stmt.span.start : stmt.span.end]
            if type(stmt) is Name and stmt.id in definitions:
                output = stmt.id  # a defined name alone: that definition is the output
                entered.show = True
                continue
            if not isinstance(stmt, Assign):
                entered.expression = Definition(None, text, _shifted(_uses(stmt), stmt.span.start), 0)
                output = None
                entered.show = True
                continue
            uses = _shifted(_uses(stmt.expr), stmt.span.start)
            if stmt.name in uses:
                raise GradError(
                    "name",
                    f"{shorten(stmt.name)} cannot be defined in terms of itself: a definition is a formula,"
                    f" not a step (for another value of an input, use :bind {shorten(stmt.name)}=...)",
                    uses[stmt.name],
                    text,
                )
            old = definitions.get(stmt.name)
            if old is None:
                order += 1
                entered.defined.append(stmt.name)
            elif old.text != text:
                entered.replaced.append((stmt.name, old.text))
            if stmt.name in self.bindings:
                entered.shadowed.append(stmt.name)
            definitions[stmt.name] = Definition(stmt.name, text, uses, old.order if old else order)
            new.append(definitions[stmt.name])
            output = stmt.name
        # One program checks the whole line (the lowering finds an unknown function or
        # `pi = 3` in any statement, whatever the output): what the new definitions use,
        # then the expression (or a plain 0).
        if len(new) == 1 and entered.expression is None:
            check = new[0]  # the program its evaluation will lower: lowered once
        else:
            names = {d.name: Span(0, 0) for d in new if d.name is not None}
            last = entered.expression or Definition(None, "0", {}, 0)
            check = Definition(None, last.text, {**names, **last.uses}, 0)
        try:
            self._program(check, definitions)
        except _Cycle:
            for found in new:
                self._refuse_cycle(found, definitions)
            raise  # pragma: no cover - one of them is in the cycle
        self.definitions = definitions
        self._order = order
        if entered.expression is not None:
            self.expression = entered.expression
        self.output = output
        return entered

    def _refuse_cycle(self, new: Definition, definitions: dict[str, Definition]) -> None:
        """Refuse ``new`` if its name would depend on itself through the definitions."""
        name = new.name
        for first, span in new.uses.items():
            # Does `first` (read by the new definition) lead back to `name`? `path` keeps
            # the name each was reached from, to say how.
            path = {first: first}
            stack = [first]
            while stack:
                current = stack.pop()
                if current == name:
                    chain = []
                    walk = path[name]
                    while True:
                        chain.append(walk)
                        if path[walk] == walk:
                            break
                        walk = path[walk]
                    via = " → ".join(shorten(n) for n in [name, *reversed(chain), name])
                    raise GradError(
                        "name",
                        f"{shorten(name or '')} would depend on itself ({via}): a definition cannot"
                        " use its own name, even through others",
                        span,
                        new.text,
                    )
                found = definitions.get(current)
                if found is None:
                    continue
                for used in found.uses:
                    if used not in path:
                        path[used] = current
                        stack.append(used)

    def bind(self, text: str) -> dict[str, float]:
        """Read ``x=2 y=pi/4`` (values are numbers or constant expressions, as on the
        command line) and set those bindings; all or nothing. Returns the new ones."""
        from .bindings import constant_value

        matches = list(_BIND_NAME.finditer(text))
        head = text[: matches[0].start()] if matches else text
        if not matches or head.strip(" \t,;"):
            raise GradError(
                "binding", "give values as name=value, as in :bind x=2 y=pi/4", Span(0, len(text)), text
            )
        new: dict[str, float] = {}
        for k, match in enumerate(matches):
            name = match.group(1)
            stop = matches[k + 1].start() if k + 1 < len(matches) else len(text)
            value = text[match.end() : stop].strip().rstrip(",;").strip()
            where = Span(match.start(1), match.end(1))
            if name in CONSTANTS:
                raise GradError("binding", f"{name} is a constant and cannot be bound", where, text)
            if name in FUNCTIONS:
                raise GradError("binding", f"{name} is a function and cannot be bound", where, text)
            try:
                new[name] = constant_value(value, name)
            except GradError as err:
                if err.span is not None and err.source == value.strip():
                    # The caret in the line as typed, not in the value alone.
                    at = text.index(value, match.end())
                    raise GradError(
                        err.kind, err.message, Span(err.span.start + at, err.span.end + at), text
                    ) from None
                raise
        self.bindings.update(new)
        return new

    def reset(self) -> None:
        """Forget every definition, the expression and every binding."""
        self.definitions = {}
        self.expression = None
        self.bindings = {}
        self.output = ""
        self._order = 0
        self._compiled = None

    # --- programs -------------------------------------------------------------------

    def target(self, name: str | None = None) -> Definition:
        """The definition (or the expression) evaluated for ``name``, or for the output."""
        if name is not None:
            found = self.definitions.get(name)
            if found is None:
                from .graph import suggest

                known = ", ".join(self.definitions) or "none yet"
                raise GradError(
                    "usage",
                    f"nothing defines {shorten(name)}{suggest(name, self.definitions)}; defined: {known}",
                )
            return found
        if self.output is None and self.expression is not None:
            return self.expression
        if self.output:
            return self.definitions[self.output]
        raise GradError(
            "usage", "nothing to evaluate yet: enter a definition such as q = x + y, or an expression"
        )

    def _program(
        self, target: Definition, definitions: dict[str, Definition] | None = None
    ) -> tuple[Graph, _Program]:
        """Lower ``target``'s program (its definitions, then itself); errors rebased."""
        from .api import compile

        assembled = self._assemble(target, self.definitions if definitions is None else definitions)
        if self._compiled is not None and self._compiled[0] == assembled.source:
            return self._compiled[1], assembled
        try:
            graph = compile(assembled.source)
        except GradError as err:
            raise assembled.rebase(err) from None
        self._compiled = (assembled.source, graph)  # the line's check, then its evaluation
        return graph, assembled

    def program(self, name: str | None = None) -> str:
        """The program evaluated for ``name`` (or the output): its definitions, each
        after the ones it uses, then the output's statement."""
        return self._assemble(self.target(name), self.definitions).source

    def _assemble(self, target: Definition, definitions: dict[str, Definition]) -> _Program:
        """The program of ``target``. A bare expression is the output ``f`` of its program,
        as on the command line, unless the session has a name ``f`` elsewhere: then it
        is named ``out`` (``out_1``, ...), so that no table calls it by a name the session
        gives to something else."""
        pieces = self._needed(target, definitions)
        label = None
        if target.name is None:
            taken = {*definitions, *self.inputs(), *self.bindings}
            if "f" in taken:
                label, n = "out", 0
                while label in taken:
                    n += 1
                    label = f"out_{n}"
        return _Program(pieces, label)

    def _needed(self, target: Definition, definitions: dict[str, Definition]) -> list[Definition]:
        """``target`` and the definitions it depends on, each after those it uses (ties
        in the order first entered); ``target`` is last."""
        needed: dict[str, Definition] = {}
        stack = [name for name in target.uses if name != target.name]
        while stack:
            name = stack.pop()
            found = definitions.get(name)
            if found is None or name in needed:
                continue
            needed[name] = found
            stack.extend(found.uses)
        # Kahn's algorithm: a definition is ready once every definition it uses is placed.
        waiting = {name: sum(1 for u in d.uses if u in needed and u != name) for name, d in needed.items()}
        users: dict[str, list[str]] = {name: [] for name in needed}
        for name, found in needed.items():
            for used in found.uses:
                if used in needed and used != name:
                    users[used].append(name)
        ready = [(d.order, name) for name, d in needed.items() if waiting[name] == 0]
        heapq.heapify(ready)
        ordered: list[Definition] = []
        while ready:
            _, name = heapq.heappop(ready)
            ordered.append(needed[name])
            for user in users[name]:
                waiting[user] -= 1
                if waiting[user] == 0:
                    heapq.heappush(ready, (needed[user].order, user))
        if len(ordered) < len(needed):
            raise _Cycle
        ordered.append(target)
        return ordered

    def compile(self, name: str | None = None) -> Graph:
        """The graph of ``name`` (or of the output)."""
        return self._program(self.target(name))[0]

    def missing(self, graph: Graph) -> list[str]:
        """The inputs of ``graph`` that have no binding yet, in order of first use."""
        return [name for name in graph.inputs if name not in self.bindings]

    def evaluate(self, name: str | None = None, wrt: Iterable[str] | None = None) -> Result:
        """Value and gradient of ``name`` (or of the output) at the bindings."""
        from .api import run

        graph, assembled = self._program(self.target(name))
        missing = self.missing(graph)
        if missing:
            listed = ", ".join(shorten(n) for n in missing)
            example = " ".join(f"{shorten(n)}=VALUE" for n in missing[:5])
            raise GradError(
                "binding",
                f"missing a value for {listed}: bind {'it' if len(missing) == 1 else 'them'}"
                f" with :bind {example}{' ...' if len(missing) > 5 else ''}",
            )
        point = {name: self.bindings[name] for name in graph.inputs}
        try:
            return run(graph, point, wrt)
        except GradError as err:
            raise assembled.rebase(err) from None

    def diff(self, name: str | None = None, order: int = 1) -> DerivativeProgram:
        """The derivatives of ``name`` (or of the output) as a program (:func:`gradcli.diff`,
        what ``gradcli diff`` writes)."""
        from .api import diff

        assembled = self._assemble(self.target(name), self.definitions)
        try:
            return diff(assembled.source, order=order)
        except GradError as err:
            raise assembled.rebase(err) from None

    # --- for completion and listings --------------------------------------------------

    def inputs(self) -> list[str]:
        """Names read by a definition or the expression and defined by none, in order of
        first use."""
        seen: dict[str, None] = {}
        for found in [*self.definitions.values(), *([self.expression] if self.expression else [])]:
            for name in found.uses:
                if name not in self.definitions:
                    seen.setdefault(name, None)
        return list(seen)

    def names(self) -> list[str]:
        """Every name the session knows: definitions, inputs, bound names."""
        return list(dict.fromkeys([*self.definitions, *self.inputs(), *self.bindings]))

    def listing(self) -> list[str]:
        """The definitions, each after the ones it uses, then the expression."""
        everything = Definition(None, "", {name: Span(0, 0) for name in self.definitions}, 0)
        lines = [d.text for d in self._needed(everything, self.definitions)[:-1]]
        if self.expression is not None:
            lines.append(self.expression.text)
        return lines


def is_name(text: str) -> bool:
    """Whether ``text`` is a name of the language."""
    return _NAME.fullmatch(text) is not None
