"""Points at which every operation is checked: the edges every function has (zeros
of both signs, ±1, the float range's ends, the exponential's overflow, ties) and
generated points over the whole float range, 1e-300 to 1e300 and both signs.

The same points serve the array-against-scalar test and the high-precision test,
so a point that finds a fault in one is tried by the other."""

from __future__ import annotations

import itertools
import math
import random

from gradcli.ops import Op

ONE_BELOW = math.nextafter(1.0, 0.0)
ONE_ABOVE = math.nextafter(1.0, 2.0)
TINY = 2.2250738585072014e-308  # the smallest normal float
HUGE = 1.7976931348623157e308

#: Every function's edges: zeros, ±1 and its neighbours (asin, acos, atanh, acosh),
#: the ends of the float range, exp's overflow (709.78) and underflow (−745),
#: where x² overflows (1.4e154) or underflows, exact cubes, π.
EDGES: tuple[float, ...] = tuple(
    s * v
    for v in (
        0.0, 1.0, ONE_BELOW, ONE_ABOVE, 0.5, 2.0, 3.0, 8.0, 27.0, 0.1, 1e-8, 1e8,
        1e-160, 1e-200, 1e-300, 1e154, 1.5e154, 1e160, 1e200, 1e300, TINY, 5e-324, HUGE,
        709.78, 710.0, 745.0, 19.0, 37.0, 26.0, 30.0, math.pi, math.pi / 2, 1.0 - 2.0**-30,
    )
    for s in (1.0, -1.0)
)

#: A shorter list for pairs (its square is tried).
PAIR_EDGES: tuple[float, ...] = tuple(
    s * v
    for v in (0.0, 1.0, ONE_BELOW, 0.5, 2.0, 3.0, 1e-200, 1e-160, 1e160, 1e200, 1e300, TINY, HUGE)
    for s in (1.0, -1.0)
)


def wide(rng: random.Random) -> float:
    """A float of any sign from a random binade between 1e-300 and 1e300."""
    return rng.choice((1.0, -1.0)) * rng.uniform(1.0, 10.0) * 10.0 ** rng.randint(-300, 299)


def near(rng: random.Random) -> float:
    """A float between −30 and 30, where most functions do their interesting things."""
    return rng.uniform(-30.0, 30.0)


def cases(ops: tuple[Op, ...]) -> list[tuple[Op, int]]:
    """Every row with its number of arguments; an n-ary row (max, sum, hypot, ...) with
    its least number and the two after it."""
    return [(op, n) for op in ops for n in (range(op.arity, op.arity + 3) if op.variadic else (op.arity,))]


def case_id(case: tuple[Op, int]) -> str:
    op, n = case
    return f"{op.name}/{n}"


def points(op: Op, count: int, seed: int = 0, n: int | None = None) -> list[tuple[float, ...]]:
    """Edges (their pairs for two arguments, and every tie), then ``count`` generated points,
    for ``n`` arguments (the row's own number by default)."""
    n = op.arity if n is None else n
    rng = random.Random(f"{op.name}/{n}/{seed}")
    if n == 1:
        out: list[tuple[float, ...]] = [(v,) for v in EDGES]
        for i in range(count):
            out.append((wide(rng) if i % 2 else near(rng),))
        return out
    if n == 2:
        out = list(itertools.product(PAIR_EDGES, repeat=2))
    else:
        small = PAIR_EDGES[::2]
        out = list(itertools.product(small, repeat=n)) if len(small) ** n <= 3000 else []
    out += [(v,) * n for v in EDGES]  # ties: max, min; atan2 and hypot on the diagonal
    for i in range(count):
        a = wide(rng) if i % 2 else near(rng)
        args = [a]
        for _ in range(n - 1):
            kind = rng.randrange(5)
            if kind == 0:
                b = rng.choice(args)  # a tie
            elif kind == 1:
                b = a * rng.uniform(0.5, 2.0) * rng.choice((1.0, -1.0))  # the same magnitude
            elif kind == 2:
                b = rng.uniform(-4.0, 4.0)  # an exponent, a base, a small second argument
            else:
                b = wide(rng) if rng.random() < 0.5 else near(rng)
            args.append(b)
        rng.shuffle(args)
        out.append(tuple(args))
    return out
