"""Coverage-guided fuzzing with atheris (libFuzzer for Python), run on demand.

    .venv/bin/pip install atheris
    .venv/bin/python tests/fuzz_atheris.py -atheris_runs=100000
    .venv/bin/python tests/fuzz_atheris.py -max_total_time=600 corpus/   # keeps what it learns

Each input's bytes are decoded as UTF-8 (with replacement) and checked like every
other fuzz input (``fuzzing.check_input``): a result or a clean ``error:`` line
with exit 1 or 2. A failure raises, and atheris prints the input and stops.
pytest does not collect this file; atheris needs a CPython with libFuzzer support
(the wheels on PyPI have it for Linux and macOS).
"""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import atheris

with atheris.instrument_imports():
    import fuzzing

    import gradcli.api
    import gradcli.arguments
    import gradcli.bindings
    import gradcli.errors
    import gradcli.evaluate
    import gradcli.graph
    import gradcli.ops
    import gradcli.parse
    import gradcli.render
    import gradcli.syntax  # noqa: F401 - imported here so that atheris instruments it


def test_one_input(data: bytes) -> None:
    provider = atheris.FuzzedDataProvider(data)
    seed = provider.ConsumeIntInRange(0, 2**16)
    source = provider.ConsumeUnicodeNoSurrogates(len(data))
    # No --file here: a temporary file per input would dominate the run time.
    fuzzing.check_input(source, seed=seed, timeout=20.0, file=False)


def main() -> None:
    atheris.Setup(sys.argv, test_one_input)
    atheris.Fuzz()


if __name__ == "__main__":
    main()
