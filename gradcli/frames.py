"""DataFrames in and out: ``gradcli.compile(src).evaluate_frame(df, **defaults)``.

A pandas (or polars) DataFrame's rows are points, as the rows of ``eval --batch``
are: its columns named after inputs give their values (numbers, or text such as
``"2.5"``; a missing value, NaN or None, takes the default or is that row's
error), keyword arguments are defaults for every row. The result is the frame's
own columns, then the inputs that came from defaults, ``value``, ``grad_NAME`` for
every reported name, and ``error`` (``"kind: message"``, missing where the row
went through: pandas' string type, polars' String; a failed row has NaN in
``value`` and the gradients). Row order and the
index are kept. Neither pandas nor polars is imported here: the frame brings its own.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from .batch import check_defaults
from .bindings import resolve_wrt
from .errors import GradError
from .graph import Graph
from .rows import Columns, array_floats, check_header, check_input_columns
from .vectorised import evaluate_columns, load_numpy


def _is_polars(df: Any) -> bool:
    return type(df).__module__.split(".")[0] == "polars"


def evaluate_frame(
    graph: Graph, df: Any, defaults: Mapping[str, Any] | None = None, *, wrt: Iterable[str] | None = None
) -> Any:
    """Evaluate ``graph`` at every row of ``df`` (pandas or polars): see the module's doc."""
    np = load_numpy()
    names = resolve_wrt(graph, wrt)
    given = check_defaults(graph, defaults or {})
    polars = _is_polars(df)
    header = [str(c) for c in df.columns]
    check_input_columns(graph, names)
    check_header(header, graph, graph.inputs, set(), given, True, "the DataFrame", names)
    size = len(df)
    errors: dict[int, GradError] = {}
    columns: dict[str, Any] = {}
    added: dict[str, Any] = {}
    for name in graph.inputs:
        if name in header:
            values = df.get_column(name).to_numpy() if polars else df[name].to_numpy()
            columns[name] = array_floats(np, values, Columns(np, name, given.get(name)), errors)
        else:
            columns[name] = added[name] = np.full(size, given[name])
    with np.errstate(all="ignore"):
        result = evaluate_columns(np, graph, columns, names, errors, size, check_inputs=False)
    failed = result.failed
    added["value"] = np.where(failed, np.nan, result.value)
    for name in names:
        added[f"grad_{name}"] = np.where(failed, np.nan, result.gradient[name])
    messages: Any = np.full(size, None, dtype=object)
    for r, err in result.errors.items():
        messages[r] = err.cell()
    added["error"] = messages
    if polars:
        import polars as pl

        series = [pl.Series(k, v, dtype=pl.Float64) for k, v in added.items() if k != "error"]
        series.append(pl.Series("error", messages.tolist(), dtype=pl.String))
        return df.with_columns(series)
    import pandas as pd  # (loaded already: df is a pandas DataFrame)

    added["error"] = pd.array(messages, dtype="string")  # the same type with errors or without
    out = df.copy(deep=False)
    for key, value in added.items():
        out[key] = value
    return out
