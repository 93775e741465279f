"""First-order uncertainty propagation (``eval --sigma``): the gradient, put to use.

Given a standard deviation σᵢ for some inputs (measurements), the output's is, to
first order, σ_f = √Σ(∂f/∂xᵢ·σᵢ)², the inputs' errors taken as independent; each
input's share of the variance, (∂f/∂xᵢ·σᵢ)²/σ_f², says which measurement to improve.
An input without a σ is taken as exact. Bookkeeping over a finished
:class:`~gradcli.evaluate.Result`: the gradient is the evaluator's own.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any

from .errors import GradError

if TYPE_CHECKING:
    from .evaluate import Result
    from .graph import Graph


class Uncertainty:
    """``sigma``: σ of the output; ``sigmas``: the σ given per input; ``terms``:
    ∂f/∂xᵢ·σᵢ per input; ``shares``: each input's share of the variance (None
    when σ_f is 0: there is no variance to share)."""

    __slots__ = ("shares", "sigma", "sigmas", "terms")

    def __init__(
        self, sigma: float, sigmas: dict[str, float], terms: dict[str, float], shares: dict[str, float | None]
    ) -> None:
        self.sigma = sigma
        self.sigmas = sigmas
        self.terms = terms
        self.shares = shares

    def __repr__(self) -> str:
        return f"Uncertainty(sigma={self.sigma!r}, shares={self.shares!r})"

    def to_json(self) -> dict[str, Any]:
        return {"sigma": self.sigma, "sigmas": dict(self.sigmas), "shares": dict(self.shares)}


def parse_sigmas(text: str) -> dict[str, float]:
    """``x=0.1,y=0.2`` -> ``{"x": 0.1, "y": 0.2}``: each σ a finite number ≥ 0."""
    sigmas: dict[str, float] = {}
    for part in text.split(","):
        name, eq, value = part.partition("=")
        name, value = name.strip(), value.strip()
        if not eq or not name or not value:
            raise GradError(
                "usage", f"--sigma {text!r}: give name=σ pairs separated by commas, as in --sigma x=0.1,y=0.2"
            )
        try:
            sigma = float(value)
        except ValueError:
            raise GradError(
                "usage", f"--sigma {name}={value}: σ must be a number, as in {name}=0.1"
            ) from None
        if not math.isfinite(sigma):
            raise GradError("usage", f"--sigma {name}={value}: σ must be a finite number")
        if sigma < 0:
            raise GradError(
                "usage", f"--sigma {name}={value}: σ is a standard deviation and cannot be negative"
            )
        if name in sigmas:
            raise GradError("usage", f"--sigma: {name} is given twice")
        sigmas[name] = sigma
    return sigmas


def check_sigmas(graph: Graph, sigmas: dict[str, float]) -> None:
    """Every name with a σ is an input of the program."""
    from .graph import suggest

    for name in sigmas:
        if name in graph.inputs:
            continue
        if name in graph.names:
            raise GradError(
                "usage",
                f"--sigma {name}: {name} is computed by the program, not measured: give a σ for the inputs"
                f" it comes from ({', '.join(graph.inputs) or 'none'})",
            )
        inputs = ", ".join(graph.inputs) if graph.inputs else "none"
        raise GradError(
            "usage", f"--sigma {name}: the program has no input {name}{suggest(name, graph.inputs)};"
            f" its inputs are {inputs}",
        )


def propagate(result: Result, sigmas: dict[str, float]) -> Uncertainty:
    """σ of the output from the σ of the inputs (``result.gradient`` must hold every
    name of ``sigmas``)."""
    terms = {name: result.gradient[name] * sigma for name, sigma in sigmas.items()}
    if not all(math.isfinite(t) for t in terms.values()):
        raise GradError("overflow", "overflow: a gradient times its σ is too large for a float")
    sigma_f = math.hypot(*terms.values())  # no overflow or underflow in the squares
    if not math.isfinite(sigma_f):
        raise GradError("overflow", "overflow: the output's σ is too large for a float")
    shares: dict[str, float | None] = {
        name: (t / sigma_f) ** 2 if sigma_f > 0 else None for name, t in terms.items()
    }
    return Uncertainty(sigma_f, dict(sigmas), terms, shares)


def print_uncertainty(result: Result, unc: Uncertainty, precision: int | None) -> None:
    """The output with its σ, and a row per input with a σ: its σ, ∂f/∂x·σ and its
    share of the variance."""
    from .render import Column, format_number, print_rows

    f = result.graph.output_label()
    title = (
        f"uncertainty (first order): {f} = {format_number(result.value, precision)}"
        f" ± {format_number(unc.sigma, precision)}"
    )
    columns = [
        Column("name"),
        Column("σ", "right", whole=True),
        Column(f"∂{f}/∂name · σ", "right", whole=True),
        Column("share of variance", "right", whole=True),
    ]
    rows = [
        [
            name,
            format_number(sigma, precision),
            format_number(unc.terms[name], precision),
            "—" if unc.shares[name] is None else f"{100 * unc.shares[name]:.3g}%",  # type: ignore[operator]
        ]
        for name, sigma in unc.sigmas.items()
    ]
    print_rows(title, columns, rows)
