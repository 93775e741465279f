"""gradcli: the value and reverse-mode gradient of a formula, node by node.

The Python API mirrors the command line::

    >>> import gradcli
    >>> result = gradcli.evaluate("(x+y)*z", x=2, y=3, z=-4)
    >>> result.value, result.gradient
    (-20.0, {'x': -4.0, 'y': -4.0, 'z': 5.0})

Stages, in data-flow order: :func:`parse_program` (text -> AST), :func:`lower`
(AST -> graph), :func:`run` (graph + point -> :class:`Result`); :func:`compile`
does the first two once for many points. :func:`check` compares every gradient with
a finite difference, :func:`descend` runs gradient descent and :func:`trace` shows
every node, as the commands of the same names do. In Jupyter a :class:`Result`, a
:class:`Trace` and a :class:`Graph` display themselves (tables and SVG). Errors are
:class:`GradError` values.
Importing gradcli imports neither lark, rich nor NumPy.
"""

from __future__ import annotations

import sys
from types import ModuleType

# Not `from typing import TYPE_CHECKING`: importing typing is a third of a fresh
# start-up, spent before the command line can guard against Ctrl-C.
TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

    from .api import compile, diff, evaluate, run
    from .derivatives import DerivativeProgram, DerivativeValues
    from .descent import DescentResult, descend
    from .display import Picture
    from .errors import EXIT_CODES, GradError, Span
    from .evaluate import NodeResult, Result
    from .fit import FitResult, fit
    from .gradcheck import CheckResult, CheckRow, check
    from .graph import Graph, Node, lower
    from .hessian import HessianResult, hessian
    from .jacobian import Jacobian, jacobian
    from .session import Session
    from .syntax import Program
    from .traces import Trace, trace

__version__ = "0.1.0"

__all__ = [
    "EXIT_CODES",
    "CheckResult",
    "CheckRow",
    "DerivativeProgram",
    "DerivativeValues",
    "DescentResult",
    "Exact",
    "FitResult",
    "GradError",
    "Graph",
    "HessianResult",
    "Jacobian",
    "Marking",
    "Node",
    "NodeResult",
    "Picture",
    "Result",
    "Session",
    "Span",
    "Trace",
    "__version__",
    "check",
    "compile",
    "descend",
    "diff",
    "evaluate",
    "exact_of",
    "fit",
    "hessian",
    "jacobian",
    "lower",
    "mark_answers",
    "parse_program",
    "run",
    "trace",
]


def parse_program(source: str) -> Program:
    """Parse ``source`` into an AST (imports lark on first use).

    (Not ``gradcli.parse``: that name is the submodule ``gradcli.parse``.)"""
    from .parse import parse as _parse

    return _parse(source)


#: Every public name and the module that defines it, loaded on first use: importing
#: gradcli costs next to nothing (the command line's Ctrl-C guard is in place within a
#: millisecond of start-up), and each command pays only for what it uses.
_LAZY = {
    "compile": "api",
    "evaluate": "api",
    "run": "api",
    "diff": "api",
    "DerivativeProgram": "derivatives",
    "DerivativeValues": "derivatives",
    "EXIT_CODES": "errors",
    "GradError": "errors",
    "Span": "errors",
    "NodeResult": "evaluate",
    "Result": "evaluate",
    "Graph": "graph",
    "Node": "graph",
    "lower": "graph",
    "jacobian": "jacobian",
    "hessian": "hessian",
    "HessianResult": "hessian",
    "Jacobian": "jacobian",
    "check": "gradcheck",
    "CheckResult": "gradcheck",
    "CheckRow": "gradcheck",
    "descend": "descent",
    "fit": "fit",
    "FitResult": "fit",
    "DescentResult": "descent",
    "exact_of": "exact",
    "Exact": "exact",
    "mark_answers": "worksheet",
    "Marking": "worksheet",
    "trace": "traces",
    "Trace": "traces",
    "Picture": "display",
    "Session": "session",
}


def __getattr__(name: str) -> Any:
    from importlib import import_module

    if name == "dask":  # the submodule gradcli.dask, loaded on first use (it imports no Dask itself)
        return import_module(".dask", __name__)
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'gradcli' has no attribute {name!r}")

    value = getattr(import_module(f".{module}", __name__), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    """Every public name, loaded or not (``dir(gradcli)`` shows check and descend)."""
    return sorted({*globals(), *__all__})


class _Package(ModuleType):
    """The package's module type: importing the submodule ``gradcli.evaluate`` would
    bind the package attribute ``evaluate`` to that module; the public name is the
    function, so a submodule never replaces a public name."""

    def __setattr__(self, name: str, value: Any) -> None:
        if name in _LAZY and isinstance(value, ModuleType):
            return
        super().__setattr__(name, value)


sys.modules[__name__].__class__ = _Package
