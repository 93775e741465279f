"""Draw docs/fit-neuron.svg: the points of docs/neuron.csv (labelled by the line
x0 - 0.5*x1 + 0.25 = 0), the line fitted by `gradcli fit` (the command's own
--json output) and the loss per epoch. SVG written by hand: no plotting library.

    python docs/fit_picture.py      # runs gradcli fit, writes docs/fit-neuron.svg
"""

from __future__ import annotations

import csv
import json
import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
LOSS = "z = w0*x0 + w1*x1 + w2; softplus(z) - y*z"


def main() -> None:
    exe = Path(sys.executable).parent / "gradcli"
    out = subprocess.run(
        [str(exe), "fit", LOSS, "--data", str(HERE / "neuron.csv"), "--params", "w0,w1,w2", "--w0", "0",
         "--w1", "0", "--w2", "0", "--method", "adam", "--lr", "0.1", "--batch-size", "32", "--epochs", "30",
         "--history", "31", "--json"],
        capture_output=True, text=True, check=True,
    ).stdout
    result = json.loads(out)
    w = result["params"]
    with open(HERE / "neuron.csv", newline="") as handle:
        rows = [(float(r["x0"]), float(r["x1"]), r["y"] == "1") for r in csv.DictReader(handle)]

    size, pad = 360, 20

    def sx(x: float) -> float:
        return pad + (x + 3) / 6 * size

    def sy(y: float) -> float:
        return pad + (3 - y) / 6 * size

    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{2 * size + 4 * pad}" height="{size + 3 * pad}"'
             ' font-family="sans-serif" font-size="12">',
             f'<rect x="{pad}" y="{pad}" width="{size}" height="{size}" fill="white" stroke="#999"/>']
    for x0, x1, y in rows:
        colour = "#1f77b4" if y else "#ff7f0e"
        parts.append(f'<circle cx="{sx(x0):.1f}" cy="{sy(x1):.1f}" r="2.5" fill="{colour}"/>')

    def line(a: float, b: float, c: float, style: str) -> str:
        # a*x0 + b*x1 + c = 0, x1 = -(a*x0 + c)/b, drawn across x0 in [-3, 3]
        ends = [(x0, -(a * x0 + c) / b) for x0 in (-3.0, 3.0)]
        return (f'<line x1="{sx(ends[0][0]):.1f}" y1="{sy(ends[0][1]):.1f}" x2="{sx(ends[1][0]):.1f}"'
                f' y2="{sy(ends[1][1]):.1f}" {style}/>')

    parts.append(f'<clipPath id="box"><rect x="{pad}" y="{pad}" width="{size}" height="{size}"/></clipPath>')
    parts.append('<g clip-path="url(#box)">')
    parts.append(line(1.0, -0.5, 0.25, 'stroke="#555" stroke-width="1.5" stroke-dasharray="6 4"'))
    parts.append(line(w["w0"], w["w1"], w["w2"], 'stroke="#d62728" stroke-width="2"'))
    parts.append("</g>")
    parts.append(f'<text x="{pad}" y="{size + 2 * pad}">points of neuron.csv; dashed: the labelling line;'
                 ' red: the fitted neuron\'s sigmoid = 0.5</text>')
    # The loss per epoch, from the history.
    left = 2 * pad + size + pad
    history = result["history"]
    top = max(row["loss"] for row in history)
    parts.append(f'<rect x="{left}" y="{pad}" width="{size}" height="{size}" fill="white" stroke="#999"/>')
    epochs = history[-1]["epoch"] or 1
    points = " ".join(
        f'{left + row["epoch"] / epochs * size:.1f},{pad + (1 - row["loss"] / top) * size:.1f}'
        for row in history
    )
    parts.append(f'<polyline points="{points}" fill="none" stroke="#d62728" stroke-width="2"/>')
    parts.append(f'<text x="{left}" y="{size + 2 * pad}">mean loss per epoch, 0 to {epochs}'
                 f' ({history[0]["loss"]:.3f} to {history[-1]["loss"]:.3f})</text>')
    parts.append("</svg>")
    (HERE / "fit-neuron.svg").write_text("\n".join(parts) + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
