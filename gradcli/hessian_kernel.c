/*
 * gradcli.hessian_kernel: the Hessian's forward and tangent passes in C.
 *
 * gradcli/hessian_native.py lays a first-derivative program out as arrays (an
 * operation code, its node and up to three operand nodes per step, in topological
 * order) and calls hessian() here. The two passes are the ones gradcli/hessian.py takes node by node
 * (SecondOrder.reference_at), step for step and in the same order, so the numbers
 * are the same bit for bit:
 *
 *   - the forward values, with the C library's functions, which the math module
 *     calls too, and the formulas of gradcli/numerics.py written out again;
 *   - the tangents: each moving node's derivative toward the n inputs, the sum over
 *     its operands of local derivative times the operand's tangent, a term skipped
 *     where the local derivative is 0 and the tangent itself where it is 1.
 *
 * Nothing here says what went wrong. Where the Python rule would raise (a division
 * by zero, log of a negative number, an undefined derivative) or a value is not
 * finite, hessian() returns None and the caller runs the Python passes, which word
 * the error. Compile without contracting a*b + c into one fused operation
 * (-ffp-contract=off): Python rounds each operation.
 *
 * rule() gives one operation's forward value or one local derivative, so that the
 * tests can hold every rule here to the operation table, bit for bit.
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>

#include <limits.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

/* The operations this kernel knows, by their name and number of operands in
 * gradcli/ops.py; the order gives the codes (OPERATIONS below lists them for Python). */
enum {
    ADD, SUB, MUL, DIV, NEG, POW,
    LT, LE, GT, GE, EQ, NE,
    EXP, LOG, LN, LOG2, LOG10, SQRT, ABS, SIGN,
    SIN, COS, TAN, ATAN, SINH, COSH, TANH,
    SIGMOID, RELU, SOFTPLUS, MAX, MIN,
    ASIN, ACOS, ATANH, ACOSH, IF,
    CODES
};

static const char *const NAMES[CODES] = {
    "add", "sub", "mul", "div", "neg", "pow",
    "lt", "le", "gt", "ge", "eq", "ne",
    "exp", "log", "ln", "log2", "log10", "sqrt", "abs", "sign",
    "sin", "cos", "tan", "atan", "sinh", "cosh", "tanh",
    "sigmoid", "relu", "softplus", "max", "min",
    "asin", "acos", "atanh", "acosh", "if",
};

static const int ARITY[CODES] = {
    2, 2, 2, 2, 1, 2,
    2, 2, 2, 2, 2, 2,
    1, 1, 1, 1, 1, 1, 1, 1,
    1, 1, 1, 1, 1, 1, 1,
    1, 1, 1, 2, 2,
    1, 1, 1, 1, 3,
};

/* The calling convention of hessian() and rule(): gradcli/hessian_native.py takes a
 * kernel only of its own (an editable checkout can hold one built from older code). */
#define INTERFACE 1

static const double TINY = 2.2250738585072014e-308; /* the smallest normal float */
static const double WHOLE = 9007199254740992.0;      /* 2^53 */
static double LN2, LN10;                             /* log(2), log(10), set at import */

/* numerics.sigmoid */
static double sigmoid(double x)
{
    if (x >= 0) {
        return 1.0 / (1.0 + exp(-x));
    }
    double z = exp(x);
    return z / (1.0 + z);
}

/* numerics.sign */
static double sign(double x)
{
    return (double)((x > 0) - (x < 0)) + 0.0;
}

/* The forward value of operation `code` at (x, y, z) into *out; 0 where the Python
 * function would raise or the value is not finite. */
static int forward(int code, double x, double y, double z, double *out)
{
    double r;
    switch (code) {
    case ADD: r = x + y; break;
    case SUB: r = x - y; break;
    case MUL: r = x * y; break;
    case DIV:
        if (y == 0) return 0;
        r = x / y;
        break;
    case NEG: r = -x; break;
    case POW:
        if (x == 0 && y < 0) return 0;
        r = pow(x, y);
        break;
    case LT: r = x < y ? 1.0 : 0.0; break;
    case LE: r = x <= y ? 1.0 : 0.0; break;
    case GT: r = x > y ? 1.0 : 0.0; break;
    case GE: r = x >= y ? 1.0 : 0.0; break;
    case EQ: r = x == y ? 1.0 : 0.0; break;
    case NE: r = x != y ? 1.0 : 0.0; break;
    case EXP: r = exp(x); break;
    case LOG:
    case LN:
        if (!(x > 0)) return 0;
        r = log(x);
        break;
    case LOG2:
        if (!(x > 0)) return 0;
        r = log2(x);
        break;
    case LOG10:
        if (!(x > 0)) return 0;
        r = log10(x);
        break;
    case SQRT:
        if (x < 0) return 0;
        r = sqrt(x);
        break;
    case ABS: r = fabs(x); break;
    case SIGN: r = sign(x); break;
    case SIN: r = sin(x); break;
    case COS: r = cos(x); break;
    case TAN: r = tan(x); break;
    case ATAN: r = atan(x); break;
    case SINH: r = sinh(x); break;
    case COSH: r = cosh(x); break;
    case TANH: r = tanh(x); break;
    case SIGMOID: r = sigmoid(x); break;
    case RELU: r = x > 0 ? x : 0.0; break;
    case SOFTPLUS: /* max(x, 0.0) keeps x unless 0.0 > x */
        r = (0.0 > x ? 0.0 : x) + log1p(exp(-fabs(x)));
        break;
    case MAX: r = y > x ? y : x; break; /* Python's max keeps the first of a tie */
    case MIN: r = y < x ? y : x; break;
    case ASIN: r = asin(x); break; /* NaN past ±1, where math.asin raises */
    case ACOS: r = acos(x); break;
    case ATANH: r = atanh(x); break;
    case ACOSH: r = acosh(x); break;
    case IF: r = x != 0 ? y : z; break;
    default: return 0;
    }
    if (!isfinite(r)) return 0;
    *out = r;
    return 1;
}

/* The local derivative of operation `code` toward operand k at (x, y, z), its value
 * being `out`, into *g; 0 where the Python rule would raise. */
static int local(int code, int k, double x, double y, double z, double out, double *g)
{
    double r;
    switch (code) {
    case ADD: r = 1.0; break;
    case SUB: r = k == 0 ? 1.0 : -1.0; break;
    case MUL: r = k == 0 ? y : x; break;
    case DIV: r = k == 0 ? 1.0 / y : -out / y; break;
    case NEG: r = -1.0; break;
    case POW:
        if (k == 0) { /* numerics.dpow_dx */
            if (y == 0) {
                r = 0.0;
            } else if (y == 1) {
                r = 1.0;
            } else if (x == 0 && y < 1) {
                return 0;
            } else if ((y < 0.5 || y >= WHOLE) && fabs(out) >= TINY) {
                r = fabs(x) >= 1 ? y * (out / x) : (y * out) / x;
            } else {
                double p = pow(x, y - 1);
                if (!isfinite(p)) return 0; /* math.pow raises */
                r = y * p;
            }
        } else { /* numerics.dpow_dy */
            if (x > 0) {
                if (0 < fabs(out) && fabs(out) < TINY) {
                    double half = pow(x, y / 2);
                    if (!isfinite(half)) return 0;
                    r = half * (half * log(x));
                } else {
                    r = out * log(x);
                }
            } else if (x == 0 && y > 0) {
                r = 0.0;
            } else {
                return 0;
            }
        }
        break;
    case LT: case LE: case GT: case GE: case EQ: case NE: r = 0.0; break;
    case EXP: r = out; break;
    case LOG:
    case LN: r = 1.0 / x; break;
    case LOG2: r = 1.0 / x / LN2; break;
    case LOG10: r = 1.0 / x / LN10; break;
    case SQRT:
        if (out == 0) return 0;
        r = 0.5 / out;
        break;
    case ABS: r = sign(x); break;
    case SIGN: r = 0.0; break;
    case SIN: r = cos(x); break;
    case COS: r = -sin(x); break;
    case TAN: r = 1.0 + out * out; break;
    case ATAN: r = 1.0 / (1.0 + x * x); break;
    case SINH: r = cosh(x); break;
    case COSH: r = sinh(x); break;
    case TANH: /* numerics.dtanh */
        if (-0.5 < out && out < 0.5) {
            r = 1.0 - out * out;
        } else {
            double z = exp(-2.0 * fabs(x));
            r = 4.0 * z / ((1.0 + z) * (1.0 + z));
        }
        break;
    case SIGMOID: /* numerics.dsigmoid */
        if (x <= 0) {
            r = out * (1.0 - out);
        } else {
            double z = exp(-x);
            r = z / ((1.0 + z) * (1.0 + z));
        }
        break;
    case RELU: r = x > 0 ? 1.0 : 0.0; break;
    case SOFTPLUS: r = sigmoid(x); break;
    case MAX:
    case MIN: { /* numerics.dextreme: 1 toward the argument taken, 1/2 each at a tie */
        double mine = k == 0 ? x : y;
        if (mine != out) {
            r = 0.0;
        } else {
            r = 1.0 / (double)((x == out) + (y == out));
        }
        break;
    }
    case ASIN: /* numerics.dasin, dacos */
    case ACOS:
        if (fabs(x) >= 1) return 0;
        r = (code == ASIN ? 1.0 : -1.0) / sqrt((1.0 - x) * (1.0 + x));
        break;
    case ATANH: r = 1.0 / ((1.0 - x) * (1.0 + x)); break;
    case ACOSH:
        if (x <= 1) return 0;
        r = 1.0 / (sqrt(x - 1.0) * sqrt(x + 1.0));
        break;
    case IF: /* 1 toward the branch taken */
        r = k == 0 ? 0.0 : (k == 1) == (x != 0) ? 1.0 : 0.0;
        (void)z;
        break;
    default: return 0;
    }
    *g = r;
    return 1;
}

/* The passes, without the interpreter: 1 with h (n x n) filled, 0 where the Python
 * passes must decide. t (rows x n tangents), has (rows) and need (nodes) are scratch
 * memory of the caller's.
 *
 * A step is five ints: code, node, operands (-1 past the operation's arity). With
 * `lazy` (a program with an `if`), a value is computed only where the Python passes
 * would compute it: they evaluate by demand from the outputs (the value, node `value`,
 * and the derivatives `first`), an `if` taking its condition and the branch it picks.
 * Here every node is computed, a failure or a failed operand leaving NaN (no value),
 * then `need` marks what the demand reaches; only those must have a value, and only
 * those carry a tangent, as in the Python passes. */
static int passes(const int *steps, Py_ssize_t nsteps, double *v, Py_ssize_t nodes, const int *rowmap,
                  Py_ssize_t rows, const int *seeds, const int *first, Py_ssize_t n, int value, int lazy,
                  double *h, double *t, char *has, char *need)
{
    Py_ssize_t s, i, a, b, j;
    if (!lazy) need = NULL; /* no if: every node is computed, and must have a value */
    for (s = 0; s < nsteps; s++) {
        const int *st = steps + 5 * s;
        double x = v[st[2]], y = st[3] >= 0 ? v[st[3]] : 0.0, z = st[4] >= 0 ? v[st[4]] : 0.0;
        double *out = &v[st[1]];
        if (!lazy) {
            if (!forward(st[0], x, y, z, out)) return 0;
        } else if (st[0] == IF) {
            *out = isnan(x) ? NAN : x != 0 ? y : z;
        } else if (isnan(x) || isnan(y) || isnan(z) || !forward(st[0], x, y, z, out)) {
            *out = NAN;
        }
    }
    if (lazy) {
        memset(need, 0, (size_t)nodes);
        need[value] = 1;
        for (a = 0; a < n; a++) {
            if (first[a] >= 0) need[first[a]] = 1;
        }
        for (s = nsteps - 1; s >= 0; s--) {
            const int *st = steps + 5 * s;
            if (!need[st[1]]) continue;
            if (st[0] == IF) {
                need[st[2]] = 1;
                if (!isnan(v[st[2]])) need[v[st[2]] != 0 ? st[3] : st[4]] = 1;
            } else {
                for (int k = 2; k < 5 && st[k] >= 0; k++) need[st[k]] = 1;
            }
        }
    }
    for (i = 0; i < nodes; i++) {
        if ((need == NULL || need[i]) && !isfinite(v[i])) return 0; /* a constant, an input, a failure */
    }
    memset(has, 0, (size_t)rows);
    int ok = 1;
    for (a = 0; a < n; a++) { /* the seeds: unit vectors */
        if (seeds[a] < 0) continue;
        double *row = t + (size_t)rowmap[seeds[a]] * n;
        for (j = 0; j < n; j++) row[j] = 0.0;
        row[a] = 1.0;
        has[rowmap[seeds[a]]] = 1;
    }
    for (s = 0; s < nsteps && ok; s++) {
        const int *st = steps + 5 * s;
        int dst = st[1];
        int r = rowmap[dst];
        if (r < 0 || (need != NULL && !need[dst])) continue; /* no tangent: no wrt input, or no value */
        double *acc = t + (size_t)r * n;
        int started = 0;
        double x = v[st[2]], y = st[3] >= 0 ? v[st[3]] : 0.0, z = st[4] >= 0 ? v[st[4]] : 0.0;
        double out = v[dst];
        for (int k = 0; k < 3 && st[2 + k] >= 0; k++) {
            int src = st[2 + k];
            int rs = rowmap[src];
            if (rs < 0 || !has[rs] || (need != NULL && !need[src])) continue;
            double g;
            if (!local(st[0], k, x, y, z, out, &g) || !isfinite(g)) {
                ok = 0;
                break;
            }
            if (g == 0) continue;
            const double *ts = t + (size_t)rs * n;
            if (!started) {
                if (g == 1) {
                    for (j = 0; j < n; j++) acc[j] = ts[j];
                } else {
                    for (j = 0; j < n; j++) acc[j] = g * ts[j];
                }
                started = 1;
            } else if (g == 1) {
                for (j = 0; j < n; j++) acc[j] = acc[j] + ts[j];
            } else {
                for (j = 0; j < n; j++) acc[j] = acc[j] + g * ts[j];
            }
        }
        has[r] = (char)started;
    }
    if (ok) { /* the upper triangle, mirrored; + 0.0: no -0.0 */
        for (a = 0; a < n; a++) {
            int r = first[a] >= 0 ? rowmap[first[a]] : -1;
            const double *row = r >= 0 && has[r] ? t + (size_t)r * n : NULL;
            for (b = a; b < n; b++) {
                double e = row != NULL ? row[b] + 0.0 : 0.0;
                if (!isfinite(e)) ok = 0;
                h[a * n + b] = h[b * n + a] = e;
            }
        }
    }
    return ok;
}

/* Every index of the kernel's own copies checked once, so that no pass can read or
 * write outside them: rows at most one a node, each node's row among them, a step's
 * code in the table with an operand for each argument and -1 past them, every seed
 * a node with a row. */
static int check(const int *steps, Py_ssize_t nsteps, Py_ssize_t nodes, const int *rowmap, Py_ssize_t rows,
                 const int *seeds, const int *first, Py_ssize_t n, int value)
{
    Py_ssize_t i;
    if (rows < 0 || rows > nodes || nodes > INT_MAX || value < 0 || value >= nodes) return 0;
    for (i = 0; i < nodes; i++) {
        if (rowmap[i] < -1 || rowmap[i] >= rows) return 0;
    }
    for (i = 0; i < nsteps; i++) {
        const int *s = steps + 5 * i;
        if (s[0] < 0 || s[0] >= CODES || s[1] < 0 || s[1] >= nodes) return 0;
        for (int k = 0; k < 3; k++) { /* an operand for each argument, -1 past them */
            int want = k < ARITY[s[0]];
            if (want ? s[2 + k] < 0 || s[2 + k] >= nodes : s[2 + k] != -1) return 0;
        }
    }
    for (i = 0; i < n; i++) {
        if (seeds[i] < -1 || seeds[i] >= nodes || (seeds[i] >= 0 && rowmap[seeds[i]] < 0) || first[i] < -1
            || first[i] >= nodes) {
            return 0;
        }
    }
    return 1;
}

/* Whether a * b * size bytes can be counted in a Py_ssize_t (a, b >= 0). */
static int fits(Py_ssize_t a, Py_ssize_t b, Py_ssize_t size)
{
    return a == 0 || b == 0 || (a <= PY_SSIZE_T_MAX / size && b <= PY_SSIZE_T_MAX / size / a);
}

/* *total += more (both >= 0), or 0 where the sum cannot be counted in a Py_ssize_t. */
static int grow(Py_ssize_t *total, Py_ssize_t more)
{
    if (more > PY_SSIZE_T_MAX - *total) return 0;
    *total += more;
    return 1;
}

PyDoc_STRVAR(hessian_doc,
"hessian(steps, values, rowmap, rows, seeds, first, value, lazy) -> list[list[float]] | None\n\n"
"The Hessian of a first-derivative program: ``steps`` (int32, five per operation node\n"
"in topological order: code, node, operands, -1 past the operation's arity), ``values``\n"
"(float64, one per node: the constants and inputs set; the operations' values are\n"
"written in, NaN where none is computed), ``rowmap`` (int32, one per node: its row of\n"
"tangents, -1 for a node that depends on no input), ``rows`` (their number, at most one\n"
"a node), ``seeds`` and ``first`` (int32, one per input: its node or -1, and the node of\n"
"the derivative toward it), ``value`` (the output's node) and ``lazy`` (the program has\n"
"an ``if``). None where a Python rule would raise or a number is not finite;\n"
"ValueError for buffers that do not fit together.");

static PyObject *hessian(PyObject *Py_UNUSED(self), PyObject *args)
{
    Py_buffer steps, values, rowmap, seeds, first;
    Py_ssize_t rows;
    int value, lazy;
    if (!PyArg_ParseTuple(args, "y*w*y*ny*y*ip:hessian", &steps, &values, &rowmap, &rows, &seeds, &first,
                          &value, &lazy)) {
        return NULL;
    }
    PyObject *result = NULL;
    void *block = NULL;
    Py_ssize_t nodes = values.len / (Py_ssize_t)sizeof(double);
    Py_ssize_t nsteps = steps.len / (Py_ssize_t)(5 * sizeof(int));
    Py_ssize_t n = seeds.len / (Py_ssize_t)sizeof(int);
    if (steps.len % (Py_ssize_t)(5 * sizeof(int)) || values.len % (Py_ssize_t)sizeof(double)
        || rowmap.len != nodes * (Py_ssize_t)sizeof(int) || seeds.len % (Py_ssize_t)sizeof(int)
        || first.len != seeds.len || rows < 0 || rows > nodes) {
        PyErr_SetString(PyExc_ValueError, "hessian: inconsistent buffers");
        goto done;
    }
    /* The passes work on the kernel's own copies: aligned, and changed by no other
     * thread while the interpreter runs without the GIL, nor by a write of a value into
     * a buffer that is also the steps (the same memory passed twice), so the indices
     * checked are the ones used. The values are copied back at the end. One block holds
     * them and the scratch memory: the values, the Hessian, the tangents, the ints,
     * then a byte per row and per node. */
    Py_ssize_t doubles = nodes, ints = nsteps * 5 + nodes + 2 * n, bytes = rows + nodes;
    if (!fits(n, n, sizeof(double)) || !fits(rows, n, sizeof(double))
        || !grow(&doubles, n * n) || !grow(&doubles, rows * n) || !fits(doubles, 1, sizeof(double))
        || !fits(ints, 1, sizeof(int))) {
        PyErr_NoMemory();
        goto done;
    }
    Py_ssize_t size = doubles * (Py_ssize_t)sizeof(double);
    if (!grow(&size, ints * (Py_ssize_t)sizeof(int)) || !grow(&size, bytes + 1)) {
        PyErr_NoMemory();
        goto done;
    }
    block = PyMem_RawMalloc((size_t)size);
    if (block == NULL) {
        PyErr_NoMemory();
        goto done;
    }
    double *v = (double *)block, *h = v + nodes, *t = h + n * n;
    int *st = (int *)(v + doubles), *rm = st + 5 * nsteps, *sd = rm + nodes, *fs = sd + n;
    char *has = (char *)(fs + n), *need = has + rows;
    memcpy(v, values.buf, (size_t)values.len);
    memcpy(st, steps.buf, (size_t)steps.len);
    memcpy(rm, rowmap.buf, (size_t)rowmap.len);
    memcpy(sd, seeds.buf, (size_t)seeds.len);
    memcpy(fs, first.buf, (size_t)first.len);
    if (!check(st, nsteps, nodes, rm, rows, sd, fs, n, value)) {
        PyErr_SetString(PyExc_ValueError, "hessian: inconsistent buffers");
        goto done;
    }
    int ok;
    Py_BEGIN_ALLOW_THREADS
    ok = passes(st, nsteps, v, nodes, rm, rows, sd, fs, n, value, lazy, h, t, has, need);
    Py_END_ALLOW_THREADS
    memcpy(values.buf, v, (size_t)values.len);
    if (ok == 0) {
        result = Py_NewRef(Py_None);
        goto done;
    }
    result = PyList_New(n);
    if (result == NULL) goto done;
    for (Py_ssize_t a = 0; a < n; a++) {
        PyObject *row = PyList_New(n);
        if (row == NULL) {
            Py_CLEAR(result);
            goto done;
        }
        PyList_SET_ITEM(result, a, row);
        for (Py_ssize_t b = 0; b < n; b++) {
            PyObject *e = PyFloat_FromDouble(h[a * n + b]);
            if (e == NULL) {
                Py_CLEAR(result);
                goto done;
            }
            PyList_SET_ITEM(row, b, e);
        }
    }
done:
    PyMem_RawFree(block);
    PyBuffer_Release(&steps);
    PyBuffer_Release(&values);
    PyBuffer_Release(&rowmap);
    PyBuffer_Release(&seeds);
    PyBuffer_Release(&first);
    return result;
}

PyDoc_STRVAR(rule_doc,
"rule(code, k, x, y, z, out) -> float | None\n\n"
"Operation ``code``'s forward value at (x, y, z) for k = -1, else its local derivative\n"
"toward operand k with value ``out``; None where the Python rule would raise (or, for\n"
"a forward value, where it is not finite).");

static PyObject *rule(PyObject *Py_UNUSED(self), PyObject *args)
{
    int code, k;
    double x, y, z, out, r;
    if (!PyArg_ParseTuple(args, "iidddd:rule", &code, &k, &x, &y, &z, &out)) return NULL;
    if (code < 0 || code >= CODES || k < -1 || k >= ARITY[code]) {
        PyErr_SetString(PyExc_ValueError, "rule: no such operation or operand");
        return NULL;
    }
    int ok = k < 0 ? forward(code, x, y, z, &r) : local(code, k, x, y, z, out, &r);
    if (!ok) Py_RETURN_NONE;
    return PyFloat_FromDouble(r);
}

static PyMethodDef methods[] = {
    {"hessian", hessian, METH_VARARGS, hessian_doc},
    {"rule", rule, METH_VARARGS, rule_doc},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef module = {
    PyModuleDef_HEAD_INIT, "gradcli.hessian_kernel",
    "The Hessian's forward and tangent passes in C (see gradcli/hessian_native.py).", -1, methods,
    NULL, NULL, NULL, NULL,
};

PyMODINIT_FUNC PyInit_hessian_kernel(void)
{
    LN2 = log(2.0);
    LN10 = log(10.0);
    PyObject *m = PyModule_Create(&module);
    if (m == NULL) return NULL;
    PyObject *ops = PyTuple_New(CODES);
    if (ops == NULL) goto fail;
    for (int c = 0; c < CODES; c++) {
        PyObject *entry = Py_BuildValue("(si)", NAMES[c], ARITY[c]);
        if (entry == NULL) {
            Py_DECREF(ops);
            goto fail;
        }
        PyTuple_SET_ITEM(ops, c, entry);
    }
    if (PyModule_AddObject(m, "OPERATIONS", ops) < 0) {
        Py_DECREF(ops);
        goto fail;
    }
    if (PyModule_AddIntConstant(m, "INTERFACE", INTERFACE) < 0) goto fail;
    return m;
fail:
    Py_DECREF(m);
    return NULL;
}
