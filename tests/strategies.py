"""Hypothesis strategies: random programs generated as trees, printed with explicit
spaces and parentheses (so that no two tokens merge), over domains where every
operation and its gradient is defined and smooth."""

from __future__ import annotations

from hypothesis import strategies as st

VARIABLES = ("a", "b", "c")

# Wrappers that keep every operation smooth and in its domain whatever its argument.
_UNARY = (
    "sin({})",
    "cos({})",
    "tanh({})",
    "atan({})",
    "sigmoid({})",
    "softplus({})",
    "erf({})",
    "-({})",
    "exp(tanh({}))",
    "log(1 + ({})^2)",
    "sqrt(1 + ({})^2)",
    "asinh({})",
    "cbrt(2 + tanh({}))",
)
_BINARY = (
    "({}) + ({})",
    "({}) - ({})",
    "({}) * ({})",
    "({}) / (1 + ({})^2)",
    "(1 + sigmoid({}))^(3 * tanh({}))",  # a bounded exponent: nested powers overflowed
    "hypot(1, ({}) * ({}))",
    "atan2({}, 2 + tanh({}))",
    "log(2 + ({})^2, 3 + ({})^2)",
)


@st.composite
def programs(draw: st.DrawFn, max_depth: int = 4) -> str:
    """A smooth expression over a, b, c (no kinks, no domain errors)."""

    def expr(depth: int) -> str:
        choice = draw(st.integers(0, 3 if depth < max_depth else 0))
        if choice == 0:
            if draw(st.booleans()):
                return draw(st.sampled_from(VARIABLES))
            return draw(st.sampled_from(["2", "0.5", "3", "pi", "e"]))
        if choice == 1:
            return draw(st.sampled_from(_UNARY)).format(expr(depth + 1))
        return draw(st.sampled_from(_BINARY)).format(expr(depth + 1), expr(depth + 1))

    return expr(0)


def points() -> st.SearchStrategy[dict[str, float]]:
    """Values for a, b, c in a range where the programs stay tame."""
    value = st.floats(-2.0, 2.0, allow_nan=False, allow_infinity=False).map(lambda v: round(v, 3))
    return st.fixed_dictionaries({name: value for name in VARIABLES})
