"""Never a traceback, never a hang: whatever the input, ``gradcli eval`` ends in a
result or one ``error:`` line with exit 1 or 2.

Each input goes through the library (parse, lower, bind every input to an edge
value, forward and reverse, strict JSON) and through ``gradcli.cli.main``
in-process (eval or trace, sometimes ``--json``, sometimes ``--file``); a sample
also goes through the installed entry point. The checks are in ``fuzzing.py``.

These runs are quick (the Hypothesis profile of ``conftest.py``; set
``HYPOTHESIS_PROFILE=thorough`` for more). The long campaign is
``python tests/fuzz_campaign.py --inputs 100000``; the coverage-guided one is
``python tests/fuzz_atheris.py``. A seeded sample of the command-line scenarios
(``fuzz_scenarios.py``: CSV, JSON Lines, line ends, option typos) runs here too;
the longer runs, and those with closed or full streams and odd files, are marked
slow (``pytest -m slow``).
"""

from __future__ import annotations

import random
from collections.abc import Callable

import pytest
from conftest import gradcli_executable
from fuzz_scenarios import (
    PROCESS_FAMILIES,
    check_scenario_result,
    random_scenario,
    run_scenario_in_process,
    run_scenario_process,
)
from fuzzing import OVERRIDES, SEEDS, FuzzFailure, check_cli_result, check_input, mutate, random_input
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.extra.lark import from_lark

CliResult = tuple[int, str, str]

_TOKENS = ["x", "y", "θ", "2", ".5", "1e308", "1e-320", "+", "-", "*", "/", "^", "**", "(", ")", "=", ",",
           ";", "\n", " ", "sin", "log", "max", "pi", "e", "#", "−", "×", "0", "9" * 40]


def _grammar_strings() -> st.SearchStrategy[str]:
    from lark import Lark

    from gradcli.parse import grammar_path

    lark = Lark(grammar_path().read_text(encoding="utf-8"), start="program", parser="lalr", lexer="basic")
    # _IMPLICIT is inserted by parse.py's post-lexer; in generated text it is a '*'.
    return from_lark(lark, start="program", explicit={"_IMPLICIT": st.just("*")})


@given(st.text(max_size=80), st.integers(0, 2**16))
def test_random_text(source: str, seed: int) -> None:
    check_input(source, seed)


@given(st.binary(max_size=120), st.integers(0, 2**16))
def test_random_bytes_decoded_as_utf8_with_replacement(data: bytes, seed: int) -> None:
    check_input(data.decode("utf-8", "replace"), seed)


@given(st.binary(max_size=120), st.integers(0, 2**16))
def test_random_bytes_in_a_file(data: bytes, seed: int) -> None:
    # Undecodable bytes reach --file as they are: a clear error, not a traceback.
    check_input(data.decode("utf-8", "surrogateescape"), seed, file=True)


@given(st.sampled_from(SEEDS), st.integers(1, 6), st.integers(0, 2**32))
def test_mutations_of_valid_programs(program: str, rounds: int, seed: int) -> None:
    check_input(mutate(program, random.Random(seed), rounds), seed)


@given(st.lists(st.sampled_from(_TOKENS), max_size=30).map("".join), st.integers(0, 2**16))
def test_token_soup(source: str, seed: int) -> None:
    check_input(source, seed)


# Its strings are long: fewer of them. from_lark draws each terminal from its regex
# and drops the draws that would merge with a neighbour, which some runs do often
# enough for the filter_too_much health check: fine here (the strings that remain
# are the test's input, and test_token_soup covers merged tokens), so that check
# alone is off.
@settings(
    max_examples=max(15, settings().max_examples // 3),
    suppress_health_check=[HealthCheck.filter_too_much],
)
@given(_grammar_strings(), st.integers(0, 2**16))
def test_text_generated_from_the_grammar(source: str, seed: int) -> None:
    # from_lark's strings often do not parse (adjacent tokens merge): fine here.
    check_input(source, seed)


@pytest.mark.parametrize("source", OVERRIDES)
@pytest.mark.parametrize("file", [False, True], ids=["argument", "file"])
def test_hostile_and_pathological_programs(source: str, file: bool) -> None:
    for seed in range(3):
        check_input(source, seed, file=file)


def test_the_checker_catches_what_it_must() -> None:
    """The fuzz oracle is not vacuous: it fails on a traceback, exit 70 or a bare exit."""
    for args, code, out, err in [
        (["eval", "x"], 70, "", "error: internal error: KeyError: 'x' (please report this)\n"),
        (["eval", "x"], 1, "", "Traceback (most recent call last):\n"),
        (["eval", "x"], 2, "", ""),
        (["eval", "x", "--json"], 0, '{"value": NaN}\n', ""),
        (["eval", "x"], 1, "some output", "error: overflow\n"),
    ]:
        with pytest.raises(FuzzFailure):
            check_cli_result(args, code, out, err)


def test_a_sample_through_the_installed_entry_point(run_exe: Callable[..., CliResult]) -> None:
    rng = random.Random(20_261_125)
    sources = [random_input(rng).replace("\0", "") for _ in range(10)]
    sources += ["x+*y", "10^10^10", "__import__('os').system('true')", "−x", "(" * 3000 + "x"]
    for source in sources:
        args = ["eval", source, "x=2", "y=3", "--json"]
        code, out, err = run_exe(*args)
        check_cli_result(args, code, out, err)


# --- scenarios: the command line around the program (fuzz_scenarios.py) -----------------

#: Families a quick seeded sample runs in the normal suite (in-process, a second or two).
QUICK_FAMILIES = ("csv", "jsonl", "line_ends", "typos")


@pytest.mark.parametrize("family", QUICK_FAMILIES)
def test_a_seeded_sample_of_scenarios(family: str) -> None:
    rng = random.Random(f"quick-{family}")
    for _ in range(25):
        run_scenario_in_process(random_scenario(rng, family), timeout=20)


@pytest.mark.slow
@pytest.mark.parametrize("family", ["control", "huge_options", *QUICK_FAMILIES])
def test_a_long_seeded_run_of_scenarios(family: str) -> None:
    rng = random.Random(f"long-{family}")
    for _ in range(300):
        run_scenario_in_process(random_scenario(rng, family), timeout=20)


@pytest.mark.slow
@pytest.mark.parametrize("family", PROCESS_FAMILIES)
def test_scenarios_with_closed_or_full_streams_and_odd_files(family: str) -> None:
    exe = gradcli_executable()
    rng = random.Random(f"process-{family}")
    for _ in range(40):
        run_scenario_process(random_scenario(rng, family), exe, timeout=30)


def test_the_scenario_oracle_catches_what_it_must() -> None:
    """Not vacuous: a traceback, exit 70, an undocumented code, loose JSON, a bare
    usage error or an escape sequence echoed to the terminal all fail."""
    scenario = {"family": "control", "args": ["eval", "x", "--json"], "stream": None}
    table = {"family": "control", "args": ["eval", "x"], "stream": None}
    for case, code, out, err in [
        (scenario, 70, "", "error: internal error: OSError\n"),
        (scenario, 1, "", "Traceback (most recent call last):\n"),
        (scenario, 120, "", ""),
        (scenario, 0, '{"value": NaN}\n', ""),
        (table, 2, "", "usage: nope\n"),
        (table, 0, "x # \x1b]0;pwned\x07\n", ""),
        (table, 2, "", "error: --output \x1b[2J: no statement\n"),
    ]:
        with pytest.raises(FuzzFailure):
            check_scenario_result(case, code, out, err)
    check_scenario_result(scenario, 0, '{"source": "x # \\u001b"}\n', "")
