"""Every error a user can make, with its exit code and the exact text on standard
error: one ``error:`` line, then for anything tied to a place in the
source, the source line and a caret under it. Checked through ``gradcli.cli.main``
in-process, and a sample through the installed entry point in a subprocess.

The table pins the full text of each message: a change of wording is a change a
reviewer sees here first.
"""

from __future__ import annotations

import ast
import os
import random
import re
from collections.abc import Callable
from pathlib import Path

import pytest
from fuzzing import SEEDS, mutate
from hypothesis import given
from hypothesis import strategies as st

import gradcli
from gradcli.errors import EXIT_CODES, GradError, Span, format_error
from gradcli.ops import FUNCTIONS

CliResult = tuple[int, str, str]

#: The unknown-function message lists the table's functions (a new row changes it).
ALL_FUNCTIONS = ", ".join(sorted(FUNCTIONS))

ERRORS = [
    # --- syntax (exit 2): what was expected, in words; the caret under the place
    pytest.param(
        ['eval', 'x+*y', '-x', '1', '-y', '2'],
        2,
        "error: unexpected '*': expected a number, a name or '(' after '+'\n"
        '  x+*y\n'
        '    ^\n',
        id='syntax-operand-after-plus',
    ),
    pytest.param(
        ['eval', '(x+y)*', '-x', '1', '-y', '2'],
        2,
        "error: unexpected end of the program: expected a number, a name or '(' after '*'\n"
        '  (x+y)*\n'
        '        ^\n',
        id='syntax-end-after-operator',
    ),
    pytest.param(
        ['eval', 'sin(x', '-x', '1'],
        2,
        "error: this '(' is never closed: expected ')'\n"
        '  sin(x\n'
        '     ^\n',
        id='syntax-unclosed-paren',
    ),
    pytest.param(
        ['eval', '(x + (y * 2)', '-x', '1', '-y', '2'],
        2,
        "error: this '(' is never closed: expected ')'\n"
        '  (x + (y * 2)\n'
        '  ^\n',
        id='syntax-unclosed-inner-paren',
    ),
    pytest.param(
        ['eval', 'x)', '-x', '1'],
        2,
        "error: unexpected ')': it closes no '('\n"
        '  x)\n'
        '   ^\n',
        id='syntax-stray-rpar',
    ),
    pytest.param(
        ['eval', 'x y', '-x', '1', '-y', '2'],
        2,
        'error: expected an operator between the name x and the name y (write x*y for a product)\n'
        '  x y\n'
        '    ^\n',
        id='syntax-two-operands',
    ),
    pytest.param(
        ['eval', '(a)2', '-a', '1'],
        2,
        "error: expected an operator between ')' and the number 2 (write (…)*2 for a product)\n"
        '  (a)2\n'
        '     ^\n',
        id='syntax-paren-then-number',
    ),
    pytest.param(
        ['eval', 'sin()'],
        2,
        'error: sin() has no argument: write one inside, as in sin(x)\n'
        '  sin()\n'
        '      ^\n',
        id='syntax-empty-call',
    ),
    pytest.param(
        ['eval', '2*()'],
        2,
        "error: empty parentheses: write an expression inside '(' and ')'\n"
        '  2*()\n'
        '     ^\n',
        id='syntax-empty-parens',
    ),
    pytest.param(
        ['eval', 'max(x,)', '-x', '1'],
        2,
        "error: unexpected ')': expected a number, a name or '(' after ','\n"
        '  max(x,)\n'
        '        ^\n',
        id='syntax-trailing-comma',
    ),
    pytest.param(
        ['eval', '(x, y)', '-x', '1', '-y', '2'],
        2,
        "error: unexpected ',': a comma separates the arguments of a call, as in max(x, y)\n"
        '  (x, y)\n'
        '    ^\n',
        id='syntax-comma-outside-call',
    ),
    pytest.param(
        ['eval', 'max(x y)', '-x', '1', '-y', '2'],
        2,
        'error: expected an operator between the name x and the name y (write x*y for a product)\n'
        '  max(x y)\n'
        '        ^\n',
        id='syntax-operator-in-group',
    ),
    pytest.param(
        ['eval', '*x', '-x', '1'],
        2,
        "error: unexpected '*' at the start of a statement: expected a number, a name or '('\n"
        '  *x\n'
        '  ^\n',
        id='syntax-statement-start',
    ),
    pytest.param(
        ['eval', 'x < y <= 2', '-x', '1', '-y', '2'],
        2,
        "error: comparisons do not chain: for both of a < b < c write (a < b) * (b < c);"
        " to compare a comparison's 1 or 0, put it in parentheses, as in (a < b) <= c\n"
        '  x < y <= 2\n'
        '        ^^\n',
        id='syntax-chained-comparison',
    ),
    pytest.param(
        ['eval', 'x = = y', '-y', '2'],
        2,
        "error: unexpected '=': only a plain name can be assigned, as in  q = x + y\n"
        '  x = = y\n'
        '      ^\n',
        id='syntax-double-assignment',
    ),
    pytest.param(
        ['eval', 'if(x > 0, log(x))', '-x', '1'],
        2,
        'error: if takes 3 arguments, not 2: if(condition, value where it holds, value where it'
        ' does not), as in if(x > 0, log(x), 0)\n'
        '  if(x > 0, log(x))\n'
        '  ^^^^^^^^^^^^^^^^^\n',
        id='arity-if-two',
    ),
    pytest.param(
        ['eval', 'if(x > 0, log(x), 0, 1)', '-x', '1'],
        2,
        'error: if takes 3 arguments, not 4: if(condition, value where it holds, value where it'
        ' does not), as in if(x > 0, log(x), 0)\n'
        '  if(x > 0, log(x), 0, 1)\n'
        '  ^^^^^^^^^^^^^^^^^^^^^^^\n',
        id='arity-if-four',
    ),
    pytest.param(
        ['eval', 'max()'],
        2,
        'error: max() has no argument: write two or more inside, as in max(x, y, ...)\n'
        '  max()\n'
        '      ^\n',
        id='syntax-max-empty',
    ),
    pytest.param(
        ['eval', 'sum() + 1'],
        2,
        'error: sum() has no argument: write one or more inside, as in sum(x, ...)\n'
        '  sum() + 1\n'
        '      ^\n',
        id='syntax-sum-empty',
    ),
    pytest.param(
        ['eval', 'max(x)', '-x', '1'],
        2,
        'error: max takes 2 or more arguments, not 1\n'
        '  max(x)\n'
        '  ^^^^^^\n',
        id='arity-max-one',
    ),
    pytest.param(
        ['eval', 'clip(x, lo, hi)', '-x', '1', '--lo', '2', '--hi', '1'],
        1,
        'error: clip(1, 2, 1) is outside the domain of clip(x, lo, hi) (lo ≤ hi)\n'
        '  clip(x, lo, hi)\n'
        '  ^^^^^^^^^^^^^^^\n'
        '  in the forward pass, at node 3\n',
        id='domain-clip-bounds-crossed',
    ),
    pytest.param(
        ['eval', 'x ≥ 1', '-x', '1'],
        2,
        "error: unexpected character '≥' (U+2265 GREATER-THAN OR EQUAL TO): did you mean '>='?\n"
        '  x ≥ 1\n'
        '    ^\n',
        id='syntax-lookalike-ge',
    ),
    pytest.param(
        ['eval', 'x + 1 = y', '-x', '1', '-y', '2'],
        2,
        "error: unexpected '=': only a plain name can be assigned, as in  q = x + y\n"
        '  x + 1 = y\n'
        '        ^\n',
        id='syntax-assign-expression',
    ),
    pytest.param(
        ['eval', ''],
        2,
        'error: the program is empty: write an expression such as (x+y)*z\n',
        id='syntax-empty',
    ),
    pytest.param(
        ['eval', '# nothing here'],
        2,
        'error: the program is empty: write an expression such as (x+y)*z\n',
        id='syntax-only-comment',
    ),
    pytest.param(
        ['eval', ';;'],
        2,
        'error: the program is empty: write an expression such as (x+y)*z\n',
        id='syntax-only-separators',
    ),
    pytest.param(
        ['eval', 'x − 1', '-x', '1'],
        2,
        "error: unexpected character '−' (U+2212 MINUS SIGN): did you mean '-'?\n"
        '  x − 1\n'
        '    ^\n',
        id='syntax-unicode-minus',
    ),
    pytest.param(
        ['eval', '2 × x', '-x', '1'],
        2,
        "error: unexpected character '×' (U+00D7 MULTIPLICATION SIGN): did you mean '*'?\n"
        '  2 × x\n'
        '    ^\n',
        id='syntax-times-sign',
    ),
    pytest.param(
        ['eval', 'x + ２', '-x', '1'],
        2,
        "error: unexpected character '２' (U+FF12 FULLWIDTH DIGIT TWO): did you mean '2'?\n"
        '  x + ２\n'
        '      ^^\n',
        id='syntax-fullwidth-digit',
    ),
    pytest.param(
        ['eval', "__import__('os').system('true')"],
        2,
        'error: unexpected quote: strings are not part of the language, only numbers, '
        'names and operators\n'
        "  __import__('os').system('true')\n"
        '             ^\n',
        id='syntax-string',
    ),
    pytest.param(
        ['eval', 'os.system', '-os', '1'],
        2,
        "error: unexpected '.': a number is written 2.5 or .5, and a name cannot contain '.'\n"
        '  os.system\n'
        '    ^\n',
        id='syntax-attribute',
    ),
    pytest.param(
        ['eval', 'lambda: 1'],
        2,
        "error: unexpected character ':'\n"
        '  lambda: 1\n'
        '        ^\n',
        id='syntax-lambda',
    ),
    pytest.param(
        ['eval', 'x\xa0+ 1', '-x', '1'],
        2,
        'error: unexpected space character (U+00A0 NO-BREAK SPACE): use an ordinary space\n'
        '  x\xa0+ 1\n'
        '   ^\n',
        id='syntax-nbsp',
    ),
    pytest.param(
        ["eval", "e\u0301 + 1"],  # é as e + a combining accent (NFD)
        2,
        "error: unexpected combining mark (U+0301 COMBINING ACUTE ACCENT) after 'e': "
        "write '\u00e9' as one character (NFC)\n"
        "  e\u0301 + 1\n"
        "  ^\n",
        id='syntax-combining-mark',
    ),
    pytest.param(
        ['eval', 'q = x + 1\nq *', '-x', '1'],
        2,
        "error: unexpected end of the program: expected a number, a name or '(' after '*'\n"
        '  line 2: q *\n'
        '             ^\n',
        id='syntax-line-two',
    ),
    pytest.param(
        ['eval', 'q = x +\nq', '-x', '1'],
        2,
        "error: unexpected end of the line: expected a number, a name or '(' after '+'\n"
        '  q = x +\n'
        '         ^\n',
        id='syntax-end-of-line',
    ),
    pytest.param(
        ['eval', '日本 + * 2', '--日本', '1'],
        2,
        "error: unexpected '*': expected a number, a name or '(' after '+'\n"
        '  日本 + * 2\n'
        '         ^\n',
        id='syntax-cjk-caret',
    ),
    pytest.param(
        ['eval', 'x\t+\t)', '-x', '1'],
        2,
        "error: unexpected ')': it closes no '('\n"
        '  x + )\n'
        '      ^\n',
        id='syntax-tab-caret',
    ),
    # --- names (exit 2): unknown functions with suggestions, misuse, assigning twice, use before assignment
    pytest.param(
        ['eval', 'sinn(x)', '-x', '1'],
        2,
        'error: unknown function sinn (did you mean sin, sinh or sign?); the functions '
        f'are {ALL_FUNCTIONS}\n'
        '  sinn(x)\n'
        '  ^^^^\n',
        id='name-unknown-function',
    ),
    pytest.param(
        ['eval', 'frob(x)', '-x', '1'],
        2,
        f'error: unknown function frob; the functions are {ALL_FUNCTIONS}\n'
        '  frob(x)\n'
        '  ^^^^\n',
        id='name-unknown-function-no-match',
    ),
    pytest.param(
        ['eval', 'x + x(2)', '-x', '1'],
        2,
        'error: x is not a function; for a product write x*(...)\n'
        '  x + x(2)\n'
        '      ^\n',
        id='name-not-a-function',
    ),
    pytest.param(
        ['eval', 'sin + 1'],
        2,
        'error: sin is a function: call it as sin(...)\n'
        '  sin + 1\n'
        '  ^^^\n',
        id='name-function-as-variable',
    ),
    # --- wrong argument count (exit 2)
    pytest.param(
        ['eval', 'sin(x, y)', '-x', '1', '-y', '2'],
        2,
        'error: sin takes 1 argument, not 2\n'
        '  sin(x, y)\n'
        '  ^^^^^^^^^\n',
        id='arity-one',
    ),
    pytest.param(
        ['eval', 'atan2(x)', '-x', '1'],
        2,
        'error: atan2 takes 2 arguments, not 1\n'
        '  atan2(x)\n'
        '  ^^^^^^^^\n',
        id='arity-two',
    ),
    pytest.param(
        ['eval', 'log(x, 2, 3)', '-x', '1'],
        2,
        'error: log takes 1 or 2 arguments, not 3\n'
        '  log(x, 2, 3)\n'
        '  ^^^^^^^^^^^^\n',
        id='arity-log',
    ),
    pytest.param(
        ['eval', 'q = x; q = 2*x; q', '-x', '1'],
        2,
        'error: q is assigned twice\n'
        '  q = x; q = 2*x; q\n'
        '         ^\n',
        id='name-assigned-twice',
    ),
    pytest.param(
        ['eval', 'f = q * 2; q = x; f', '-x', '1'],
        2,
        'error: q is used before the statement that assigns it\n'
        '  f = q * 2; q = x; f\n'
        '      ^\n',
        id='name-used-before-assignment',
    ),
    pytest.param(
        ['eval', 'pi = 3; pi'],
        2,
        'error: pi is a constant and cannot be assigned\n'
        '  pi = 3; pi\n'
        '  ^^\n',
        id='name-assign-constant',
    ),
    pytest.param(
        ['eval', 'exp = 3; exp'],
        2,
        'error: exp is a function and cannot be assigned\n'
        '  exp = 3; exp\n'
        '  ^^^\n',
        id='name-assign-function',
    ),
    # --- bindings (exit 2): missing, unknown (with the program's inputs), not a number, constants
    pytest.param(
        ['eval', '(x+y)*z', '-x', '2', '-y', '3'],
        2,
        'error: missing a value for z: bind it as -z VALUE\n',
        id='binding-missing',
    ),
    pytest.param(
        ['eval', '(x+y)*z'],
        2,
        'error: missing a value for x, y, z: bind them as -x VALUE -y VALUE -z VALUE\n',
        id='binding-missing-many',
    ),
    pytest.param(
        ['eval', 'w1*x1', '--w1', '2', '--x1', '3', '--w2', '1'],
        2,
        'error: the program does not use w2 (did you mean w1?); its inputs are w1, x1\n',
        id='binding-unknown-suggest',
    ),
    pytest.param(
        ['eval', '2+3', '-y', '2'],
        2,
        'error: the program does not use y; it has no inputs\n',
        id='binding-unknown-no-inputs',
    ),
    pytest.param(
        ['eval', 'x*pi', '-x', '1', '--pi', '3'],
        2,
        'error: pi is a constant and cannot be bound\n',
        id='binding-constant',
    ),
    pytest.param(
        ['eval', 'q = x + 1; q*2', '-x', '1', '-q', '3'],
        2,
        'error: q is computed by the program and cannot be bound\n',
        id='binding-computed',
    ),
    pytest.param(
        ['eval', 'x+1', '-x', 'two'],
        2,
        'error: the value of x must be a number or a constant expression, not the name '
        'two (the constants are pi, e, tau)\n',
        id='binding-not-a-number',
    ),
    pytest.param(
        ['eval', 'x+1', '-x', 'inf'],
        2,
        'error: the value of x must be a finite number, not inf\n',
        id='binding-inf',
    ),
    pytest.param(
        ['eval', 'x+1', '-x', 'nan'],
        2,
        'error: the value of x must be a finite number, not nan\n',
        id='binding-nan',
    ),
    pytest.param(
        ['eval', 'x+1', '-x', '1e999'],
        2,
        'error: the value of x is too large for a float: 1e999\n',
        id='binding-too-large',
    ),
    pytest.param(
        ['eval', 'x+1', '-x', '0x10'],
        2,
        'error: the value of x is not a decimal number: 0x10 (write 16)\n',
        id='binding-hex',
    ),
    pytest.param(
        ['eval', 'x+1', '-x', '1_000'],
        2,
        "error: the value of x is not a number: 1_000 (write 1000, without '_')\n",
        id='binding-underscore',
    ),
    pytest.param(
        ['eval', 'x+1', '-x', '２'],
        2,
        "error: the value of x is not a number: unexpected character '２' (U+FF12 "
        "FULLWIDTH DIGIT TWO): did you mean '2'?\n"
        '  ２\n'
        '  ^^\n',
        id='binding-fullwidth',
    ),
    pytest.param(
        ['eval', 'x+1', '-x', ''],
        2,
        'error: the value of x is empty: give a number, as in x=2\n',
        id='binding-empty',
    ),
    pytest.param(
        ['eval', 'x+1', '-x', '1', 'x=2'],
        2,
        'error: x is bound twice\n',
        id='binding-bound-twice',
    ),
    pytest.param(
        ['eval', 'x+1', '-x'],
        2,
        'error: missing a value for x after -x\n',
        id='binding-no-value',
    ),
    pytest.param(
        ['eval', 'x+1', '-x', 'log(0)'],
        2,
        'error: the value of x cannot be computed: log(0) is outside the domain of log(x) (x > 0)\n'
        '  log(0)\n'
        '  ^^^^^^\n',
        id='binding-math-error',
    ),
    # --- domain errors (exit 1): the operation with its operand values
    pytest.param(
        ['eval', 'log(x - 3)', '-x', '1'],
        1,
        'error: log(-2) is outside the domain of log(x) (x > 0)\n'
        '  log(x - 3)\n'
        '  ^^^^^^^^^^\n'
        '  in the forward pass, at node 3\n',
        id='domain-log',
    ),
    pytest.param(
        ['eval', 'log(0)'],
        1,
        'error: log(0) is outside the domain of log(x) (x > 0)\n'
        '  log(0)\n'
        '  ^^^^^^\n'
        '  in the forward pass, at node 1\n',
        id='domain-log-zero',
    ),
    pytest.param(
        ['eval', 'sqrt(x)', '-x', '-2'],
        1,
        'error: sqrt(-2) is outside the domain of sqrt(x) (x ≥ 0)\n'
        '  sqrt(x)\n'
        '  ^^^^^^^\n'
        '  in the forward pass, at node 1\n',
        id='domain-sqrt',
    ),
    pytest.param(
        ['eval', 'asin(x)', '-x', '2'],
        1,
        'error: asin(2) is outside the domain of asin(x) (−1 ≤ x ≤ 1)\n'
        '  asin(x)\n'
        '  ^^^^^^^\n'
        '  in the forward pass, at node 1\n',
        id='domain-asin',
    ),
    pytest.param(
        ['eval', '(-8)^(1/3)'],
        1,
        'error: (-8) ^ 0.3333333333333333 is not a real number: a negative number to a '
        'power that is not whole (cbrt(x) gives cube roots)\n'
        '  (-8)^(1/3)\n'
        '  ^^^^^^^^^^\n'
        '  in the forward pass, at node 5\n',
        id='domain-negative-power',
    ),
    # --- division by zero (exit 1)
    pytest.param(
        ['eval', '1/(x-2)', '-x', '2'],
        1,
        'error: division by zero: 1 / 0\n'
        '  1/(x-2)\n'
        '  ^^^^^^^\n'
        '  in the forward pass, at node 4\n',
        id='division-by-zero',
    ),
    pytest.param(
        ['eval', '0^-1'],
        1,
        'error: division by zero: 0 ^ (-1)\n'
        '  0^-1\n'
        '  ^^^^\n'
        '  in the forward pass, at node 3\n',
        id='division-zero-negative-power',
    ),
    # --- overflow, a value that is not a finite float (exit 1)
    pytest.param(
        ['eval', 'exp(1000)'],
        1,
        'error: overflow: exp(1000) is too large for a float\n'
        '  exp(1000)\n'
        '  ^^^^^^^^^\n'
        '  in the forward pass, at node 1\n',
        id='overflow-exp',
    ),
    pytest.param(
        ['eval', '10^10^10'],
        1,
        'error: overflow: 10 ^ 10000000000 is too large for a float\n'
        '  10^10^10\n'
        '  ^^^^^^^^\n'
        '  in the forward pass, at node 2\n',
        id='overflow-tower',
    ),
    pytest.param(
        ['eval', '1e308*10'],
        1,
        'error: overflow: 1e+308 * 10 is too large for a float\n'
        '  1e308*10\n'
        '  ^^^^^^^^\n'
        '  in the forward pass, at node 2\n',
        id='overflow-product',
    ),
    pytest.param(
        ['eval', '1e999'],
        1,
        'error: the number 1e999 is too large for a float\n'
        '  1e999\n'
        '  ^^^^^\n',
        id='overflow-literal',
    ),
    pytest.param(
        ['eval', 'exp(exp(exp(x)))', '-x', '2'],
        1,
        'error: overflow: exp(1618.1779919126539) is too large for a float\n'
        '  exp(exp(exp(x)))\n'
        '  ^^^^^^^^^^^^^^^^\n'
        '  in the forward pass, at node 3\n',
        id='overflow-nested-exp',
    ),
    # --- undefined or non-finite gradients (exit 1)
    pytest.param(
        ['eval', 'sqrt(x)', '-x', '0'],
        1,
        "error: undefined gradient of sqrt(0): sqrt'(0) is infinite\n"
        '  sqrt(x)\n'
        '  ^^^^^^^\n'
        '  in the backward pass toward x, at node 1\n',
        id='gradient-sqrt-zero',
    ),
    pytest.param(
        ['eval', 'asin(x)', '-x', '1'],
        1,
        "error: undefined gradient of asin(1): asin'(x) is infinite at x = ±1\n"
        '  asin(x)\n'
        '  ^^^^^^^\n'
        '  in the backward pass toward x, at node 1\n',
        id='gradient-asin-one',
    ),
    pytest.param(
        ['eval', 'x^y', '-x', '-2', '-y', '2'],
        1,
        'error: undefined gradient of (-2) ^ 2: x^y toward y needs x > 0\n'
        '  x^y\n'
        '  ^^^\n'
        '  in the backward pass toward y, at node 2\n',
        id='gradient-pow-negative-base',
    ),
    pytest.param(
        ['eval', 'log(x)', '-x', '1e-320'],
        1,
        'error: overflow in the gradient: the local gradient of log(1e-320) toward x is '
        'too large for a float\n'
        '  log(x)\n'
        '  ^^^^^^\n'
        '  in the backward pass toward x, at node 1\n',
        id='gradient-local-overflow',
    ),
    pytest.param(
        ['eval', 'x*1e308 + x*1e308', '-x', '0'],
        1,
        'error: overflow in the gradient through 0 * 1e+308 toward x: 2 · 1e+308 is too '
        'large for a float\n'
        '  x*1e308 + x*1e308\n'
        '  ^^^^^^^\n'
        '  in the backward pass toward x, at node 2\n',
        id='gradient-chain-overflow',
    ),
    pytest.param(
        ['eval', 'x*1e308 + 1e308*x', '-x', '0'],
        1,
        'error: overflow in the gradient: ∂f/∂x, the sum over its 2 uses, is too large for a float\n'
        '  x*1e308 + 1e308*x\n'
        '  ^\n'
        '  in the backward pass toward x, at node 0\n',
        id='gradient-sum-overflow',
    ),
    # --- other usage errors (exit 2)
    pytest.param(
        ['eval', '-x', '1'],
        2,
        'error: missing SOURCE: give the program as an argument ("(x+y)*z"), - for '
        'standard input, or --file PATH\n',
        id='usage-no-source',
    ),
    pytest.param(
        ['eval', 'x*y', '-x', '1', '-y', '2', '--wrt', 'z'],
        2,
        'error: --wrt z: the program has no input or named value z; it has x, y\n',
        id='usage-wrt-unknown',
    ),
    pytest.param(
        ['eval', 'q = x; q + 1', '-x', '1', '--output', 'r'],
        2,
        'error: --output r: no statement assigns r; the named statements are q\n',
        id='usage-output-unknown',
    ),
    # --- the same messages from trace
    pytest.param(
        ['trace', 'y = log(x - 3)', '-x', '1'],
        1,
        'error: log(-2) is outside the domain of log(x) (x > 0)\n'
        '  y = log(x - 3)\n'
        '      ^^^^^^^^^^\n'
        '  in the forward pass, at node 3\n',
        id='trace-domain',
    ),
]


@pytest.mark.parametrize(("args", "code", "stderr"), ERRORS)
def test_each_mistake_prints_one_error_line_a_caret_and_its_exit_code(
    run_cli: Callable[..., CliResult], args: list[str], code: int, stderr: str
) -> None:
    got_code, out, err = run_cli(*args)
    assert (got_code, err) == (code, stderr)
    assert out == ""


def test_the_table_pins_at_least_thirty_distinct_messages() -> None:
    messages = {stderr.splitlines()[0] for _, _, stderr in (p.values for p in ERRORS)}
    assert len(messages) >= 30


def test_the_table_covers_every_error_kind_of_spec_section_5() -> None:
    from gradcli.arguments import read_source, split_words

    kinds = set()
    for param in ERRORS:
        args = param.values[0]
        try:
            source, bindings = split_words(args[1:], has_file="--file" in args)
            output = args[args.index("--output") + 1] if "--output" in args else None
            gradcli.evaluate(read_source(source, None), bindings, output=output)
        except GradError as err:
            kinds.add(err.kind)
    # check's and descend's own kinds are tested with those commands
    assert kinds >= set(EXIT_CODES) - {"check", "unjudged", "diverged", "singular", "interrupted"}


# A sample through the installed entry point, as a shell runs it: the same text.
SAMPLE = ("syntax-operand-after-plus", "syntax-cjk-caret", "name-unknown-function", "binding-inf",
          "domain-log", "overflow-tower", "gradient-sqrt-zero", "gradient-sum-overflow")


@pytest.mark.parametrize(
    ("args", "code", "stderr"), [p for p in ERRORS if p.id in SAMPLE], ids=lambda v: None
)
def test_the_installed_command_prints_the_same_errors(
    run_exe: Callable[..., CliResult], args: list[str], code: int, stderr: str
) -> None:
    got_code, out, err = run_exe(*args)
    assert (got_code, err) == (code, stderr)
    assert "Traceback" not in err and out == ""


def test_a_missing_file_is_named(
    run_cli: Callable[..., CliResult], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    assert run_cli("eval", "--file", "no-such-file.txt") == (
        2, "", "error: cannot read --file no-such-file.txt: no such file\n"
    )


# --- reading --file: a clear error or a result, never a traceback


def test_a_directory_as_file_is_a_clear_error(
    run_cli: Callable[..., CliResult], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "folder").mkdir()
    assert run_cli("eval", "--file", "folder") == (
        2, "", "error: cannot read --file folder: it is a directory\n"
    )


def test_an_unreadable_file_is_a_clear_error(
    run_cli: Callable[..., CliResult], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    secret = tmp_path / "secret.txt"
    secret.write_text("x + 1")
    secret.chmod(0)
    if os.access(secret, os.R_OK):  # root reads anything: make open() refuse as it would
        def refuse(*args: object, **kwargs: object) -> None:
            raise PermissionError(13, "Permission denied")

        monkeypatch.setattr("gradcli.arguments.open", refuse, raising=False)
    assert run_cli("eval", "--file", "secret.txt", "-x", "1") == (
        2, "", "error: cannot read --file secret.txt: permission denied\n"
    )


def test_a_binary_file_is_a_clear_error(
    run_cli: Callable[..., CliResult], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "prog.bin").write_bytes(bytes(range(256)))
    (tmp_path / "latin1.txt").write_bytes("x + \xe9".encode("latin-1"))
    assert run_cli("eval", "--file", "prog.bin") == (
        2, "", "error: --file prog.bin is not a text file (it contains NUL bytes)\n"
    )
    assert run_cli("eval", "--file", "latin1.txt") == (
        2, "", "error: --file latin1.txt is not UTF-8 text (byte 4 cannot be decoded)\n"
    )


def test_a_100_mb_file_is_refused_before_it_is_parsed(
    run_cli: Callable[..., CliResult], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    with open(tmp_path / "huge.txt", "w") as handle:
        chunk = "x+" * 2**19  # 1 MiB
        for _ in range(100):
            handle.write(chunk)
        handle.write("x")
    assert run_cli("eval", "--file", "huge.txt", "-x", "1") == (
        2, "", "error: --file huge.txt is larger than 16 MiB, the most a program may be\n"
    )


def test_a_file_with_a_bom_and_crlf_lines_is_read(
    run_cli: Callable[..., CliResult], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "prog.txt").write_bytes(b"\xef\xbb\xbfq = x + 1\r\nq * 2\r\n")
    code, out, err = run_cli("eval", "--file", "prog.txt", "-x", "1", "--json")
    assert (code, err) == (0, "")
    assert '"value": 4.0' in out


# --- safety: user text never reaches eval, exec or compile


@pytest.mark.parametrize(
    "source",
    [
        "__import__('os').system('touch pwned')",
        '__import__("os").system("touch pwned")',
        "os.system",
        "().__class__.__bases__[0].__subclasses__()",
        "(lambda: 1)()",
        "lambda x: x",
        "exec('1')",
        "x if x else y",
        "[x for x in y]",
        "x; import os",
        "x = 1, 2",
        "f'{x}'",
        "x @ y",
        "x[0]",
    ],
)
def test_python_is_not_the_language(
    run_cli: Callable[..., CliResult], tmp_path: Path, monkeypatch: pytest.MonkeyPatch, source: str
) -> None:
    monkeypatch.chdir(tmp_path)
    code, _, err = run_cli("eval", source, "-x", "1", "-y", "2")
    assert code == 2, err
    assert err.startswith("error: ") and "Traceback" not in err
    assert not (tmp_path / "pwned").exists()


def test_the_package_never_calls_eval_exec_or_compile_builtins() -> None:
    """No module calls the builtins on anything (``compile`` in evaluate.py is gradcli's own)."""
    package = Path(gradcli.__file__).parent
    for path in package.glob("*.py"):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        defined = {n.name for n in tree.body if isinstance(n, (ast.FunctionDef, ast.ClassDef))}
        for node in ast.walk(tree):  # gradcli's own functions imported from a sibling module
            if isinstance(node, ast.ImportFrom) and node.level > 0:
                defined.update(alias.asname or alias.name for alias in node.names)
        for node in ast.walk(tree):
            if isinstance(node, ast.Call) and isinstance(node.func, ast.Name):
                name = node.func.id
                if name in {"eval", "exec", "__import__"} or (name == "compile" and name not in defined):
                    pytest.fail(f"{path.name}:{node.lineno} calls {name}()")
            if isinstance(node, ast.Attribute) and node.attr in {"eval", "exec"}:
                pytest.fail(f"{path.name}:{node.lineno} uses .{node.attr}")


# --- the caret: under the right character in Unicode and multi-line sources


def _caret(source: str, start: int, end: int | None = None) -> list[str]:
    err = GradError("syntax", "m", Span(start, start + 1 if end is None else end), source)
    return format_error(err).splitlines()[1:]


def test_the_caret_counts_wide_characters_as_two_cells() -> None:
    assert _caret("日本 + )", 5) == ["  日本 + )", "         ^"]


def test_the_caret_skips_combining_marks() -> None:
    # "é" written as e + U+0301 takes one cell.
    assert _caret("e\u0301 + )", 5) == ["  e\u0301 + )", "      ^"]


def test_a_lone_combining_mark_is_pointed_at_through_its_letter() -> None:
    assert _caret("xe\u0301", 2) == ["  xe\u0301", "   ^"]


def test_tabs_and_control_characters_take_one_cell() -> None:
    assert _caret("x\t+\x1b)", 4) == ["  x +\ufffd)", "      ^"]


def test_a_later_line_shows_its_number() -> None:
    assert _caret("a = 1\nb = (\n  c +)", 17) == ["  line 3:   c +)", "               ^"]


def test_a_caret_on_the_first_line_of_several_has_no_number() -> None:
    assert _caret("a + )\nb", 4) == ["  a + )", "      ^"]


def test_a_span_over_several_lines_is_cut_at_the_end_of_its_first() -> None:
    assert _caret("f = (x +\n y)", 4, 12) == ["  f = (x +", "      ^^^^"]


def test_a_long_line_is_shown_as_a_window_around_the_caret() -> None:
    source = "a" * 500 + " + )" + "b" * 500
    shown, caret = _caret(source, 503)
    assert shown.startswith("  …") and shown.endswith("…")
    assert len(shown) < 220
    assert shown[len(caret) - 1] == ")"


def test_a_huge_name_is_shortened_in_the_message(run_cli: Callable[..., CliResult]) -> None:
    name = "a" * 1_000_000
    code, _, err = run_cli("eval", f"{name} 2", f"--{name}", "1")
    short = "a" * 26 + "…" + "a" * 13
    assert code == 2
    assert err.splitlines()[0] == (
        f"error: expected an operator between the name {short} and the number 2"
        f" (write {short}*2 for a product)"
    )
    assert len(err) < 500


def test_json_errors_carry_line_and_column_in_characters() -> None:
    with pytest.raises(GradError) as info:
        gradcli.evaluate("θ = 1\n日本 + *")
    assert info.value.to_json() == {
        "kind": "syntax",
        "message": "unexpected '*': expected a number, a name or '(' after '+'",
        "line": 2,
        "column": 6,
    }


def test_json_errors_shorten_huge_names_too() -> None:
    err = GradError("name", "unknown function " + "f" * 100_000 + "; the functions are abs, ...")
    message = err.to_json()["message"]
    assert isinstance(message, str) and len(message) < 130
    assert message.startswith("unknown function ffff") and "…" in message
    assert message.endswith("ffff; the functions are abs, ...")


# --- syntax messages are never wrong: what they say was expected really goes there

_TERMINAL_NAMES = re.compile(
    r"NUMBER|NAME|LPAR|RPAR|PLUS|MINUS|STAR|SLASH|POW|EQUAL|COMMA|_SEP|_IMPLICIT|\$END|ANON"
)


def _syntax_error_of(source: str) -> GradError | None:
    try:
        gradcli.parse_program(source)
    except GradError as err:
        return err if err.kind == "syntax" else None
    return None


@given(st.sampled_from(SEEDS), st.integers(1, 4), st.integers(0, 2**32))
def test_syntax_errors_say_what_fits_there_in_words(program: str, rounds: int, seed: int) -> None:
    source = mutate(program, random.Random(seed), rounds)
    err = _syntax_error_of(source)
    if err is None or err.span is None:
        return
    words = re.sub(r"\(U\+[0-9A-F]+[^)]*\)", "", err.message)  # Unicode names are upper case
    assert not _TERMINAL_NAMES.search(words), err.message
    # Writing what the message asks for at the caret gets the parser past that place.
    if "expected a number, a name or '('" in err.message:
        insert = "1"
    elif "expected an operator" in err.message:
        insert = "+"
    else:
        return
    at = err.span.start
    fixed = _syntax_error_of(source[:at] + insert + source[at:])
    assert (
        fixed is None
        or fixed.span is None
        or fixed.span.start > at
        or "is never closed" in fixed.message
        # the checks of whole statements come after the parse, wherever their place
        or fixed.message.startswith(("this expression is not the last", "a line cannot continue"))
    ), (source, err.message, fixed.message)


# --- lines: what starts a line, and where a line ends -----------------------------------


def test_a_continued_line_is_an_error_with_a_caret_under_the_operator(run_cli) -> None:
    code, out, err = run_cli(
        "eval", "-", "-w", "2", "-x", "1", "-y", "3", "--lam", "0.5",
        stdin="p = w*x\nloss = (y - p)^2\n     + lam*w^2\n",
    )
    assert (code, out) == (2, "")
    assert err == (
        "error: a line cannot continue the one before it: this line, starting with '+', would be"
        " a statement of its own (parentheses let an expression span lines: put '(' before its"
        " first line and ')' after its last)\n"
        "  line 3:      + lam*w^2\n"
        "               ^\n"
    )


def test_a_thrown_away_expression_is_an_error_with_a_caret(run_cli) -> None:
    code, _, err = run_cli("eval", "x + 1; q = 2*x", "-x", "1")
    assert code == 2
    assert err == (
        "error: this expression is not the last statement, so its value would be thrown away:"
        " name it (q = ...) or make it the last statement\n"
        "  x + 1; q = 2*x\n"
        "  ^^^^^\n"
    )


@pytest.mark.parametrize("end", ["\r", "\r\n"], ids=["CR", "CRLF"])
def test_carets_show_the_right_line_whatever_the_line_end(run_cli, end: str) -> None:
    code, _, err = run_cli("eval", f"q = 1{end}r = log(x - 3){end}q + r", "-x", "1")
    assert code == 1
    assert err.splitlines()[1:3] == ["  line 2: r = log(x - 3)", "              ^^^^^^^^^^"]
    with pytest.raises(GradError) as info:
        gradcli.evaluate(f"q = 1{end}r = log(x - 3){end}q + r", x=1)
    assert info.value.to_json()["line"] == 2 and info.value.to_json()["column"] == 5


def test_a_refused_line_separator_is_shown_as_one_visible_cell(run_cli) -> None:
    code, _, err = run_cli("eval", "q = x\u2028q * 2", "-x", "1")
    assert code == 2
    assert err == (
        "error: unexpected line separator (U+2028 LINE SEPARATOR): end a line with an ordinary"
        " line break, or use an ordinary space\n"
        "  q = x\ufffdq * 2\n"
        "       ^\n"
    )


@given(st.text(alphabet=st.characters(max_codepoint=0x7F)), st.sampled_from([" ", "\t", "→"]))
def test_printable_ascii_keeps_every_printable_character_and_blots_out_every_control(text, tab) -> None:
    from gradcli.errors import printable

    shown = printable(text, tab=tab)
    expected = "".join(tab if c == "\t" else c if " " <= c <= "~" else "\ufffd" for c in text)
    assert shown == expected


def test_printable_puts_tab_for_a_tab_whatever_the_text_holds() -> None:
    from gradcli.errors import printable

    assert printable("é\tx\x1b\u202e", tab="\t") == "é\tx\ufffd\ufffd"
    assert printable("é\tx", tab="→") == "é→x"
    assert printable("a\tb\x07", tab="\t") == "a\tb\ufffd"
