"""From parsed equation text to a checked, compile-time description of a model (:class:`System`),
and the JAX functions generated from it.

Steps, all on the tuple trees of :mod:`.parse` (no text is ever evaluated):

1. **Names** are resolved: state variables, parameters, ports, named expressions (inlined), the
   time ``t``, the white noise ``xi`` and unit names (``mV`` is the number 1, ``nA`` is 1000: the
   model computes in the base units of :mod:`.units`). A model name shadows a unit of the same
   name (``m`` is a gating variable in a Hodgkin–Huxley model, not a metre). An unknown name is an
   error naming it and the closest known one.
2. **Dimensions** are checked (:func:`dimension`): the terms of a sum, the sides of a
   comparison, the branches of ``where`` agree; the arguments of ``exp``, ``log``, ... are
   dimensionless; every term of ``dx/dt`` has the dimension of ``x`` over time. A port's unit is
   inferred from the term it is added to, or declared (``I : pA``).
3. **Integration** is chosen (:func:`affine`): an equation linear in its own variable,
   ``dx/dt = (B - L x) / D`` with ``L``, ``B``, ``D`` free of ``x`` (they may depend on other
   variables), is stepped by exponential Euler,
   ``x' = B/L + (x - B/L) exp(-L dt / D)``, exact for frozen coefficients; see
   docs/spec/equations.md for the whole rule (Euler, RK4, Euler–Maruyama).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from fractions import Fraction

import jax
import jax.numpy as jnp

from ...errors import SpecError
from . import parse as P
from .units import (DIMENSIONLESS, TIME, UNITS, ddiv, dmul, dpow, format_dim, parse_unit, unit_value)

BOOL = "bool"
METHODS = ("auto", "exponential_euler", "euler", "rk4", "euler_maruyama")
_DIMLESS_FUNCS = ("exp", "expm1", "exprel", "log", "log1p", "log10", "sin", "cos", "tan", "tanh", "sinh", "cosh",
                  "arctan", "sigmoid")


class NotAffine(Exception):
    """An expression is not affine in the variable asked about."""


# ------------------------------------------------------------------------------ tree helpers

def _num(v):
    return ("num", float(v))


def _is_num(t, v=None):
    return t is not None and t[0] == "num" and (v is None or t[1] == v)


def neg(a):
    if a is None:
        return None
    if _is_num(a):
        return _num(-a[1])
    if a[0] == "neg":
        return a[1]
    return ("neg", a)


def add(a, b):
    if a is None:
        return b
    if b is None:
        return a
    return ("bin", "+", a, b)


def sub(a, b):
    if b is None:
        return a
    if a is None:
        return neg(b)
    return ("bin", "-", a, b)


def mul(a, b):
    if a is None or b is None:
        return None
    if _is_num(a, 1.0):
        return b
    if _is_num(b, 1.0):
        return a
    if _is_num(a, -1.0):
        return neg(b)
    if _is_num(b, -1.0):
        return neg(a)
    return ("bin", "*", a, b)


def div(a, b):
    if a is None:
        return None
    if _is_num(b, 1.0):
        return a
    return ("bin", "/", a, b)


def depends(t, kind: str, name: str | None = None) -> bool:
    """Whether ``t`` contains a node ``(kind, name)`` (any name if None)."""
    if t is None:
        return False
    if t[0] == kind and (name is None or (len(t) > 1 and t[1] == name)):
        return True
    return any(depends(c, kind, name) for c in P.children(t))


def affine(t, kind: str, name: str | None):
    """``(L, B)`` with ``t = B - L * x`` for ``x = (kind, name)``, each a tree or None (zero);
    raises :class:`NotAffine` when ``t`` is not affine in ``x``."""
    if not depends(t, kind, name):
        return None, t
    k = t[0]
    if k == kind:
        return _num(-1.0), None
    if k == "neg":
        lc, b = affine(t[1], kind, name)
        return neg(lc), neg(b)
    if k == "bin":
        op, a, b = t[1], t[2], t[3]
        if op in ("+", "-"):
            (la, ba), (lb, bb) = affine(a, kind, name), affine(b, kind, name)
            return (add(la, lb), add(ba, bb)) if op == "+" else (sub(la, lb), sub(ba, bb))
        if op == "*":
            if not depends(a, kind, name):
                lb, bb = affine(b, kind, name)
                return mul(a, lb), mul(a, bb)
            if not depends(b, kind, name):
                la, ba = affine(a, kind, name)
                return mul(la, b), mul(ba, b)
        if op == "/" and not depends(b, kind, name):
            la, ba = affine(a, kind, name)
            return div(la, b), div(ba, b)
    raise NotAffine


# ------------------------------------------------------------------------------ dimensions

def dimension(t, dims: dict, where: str, free: dict):
    """The dimension of tree ``t`` (``BOOL`` for conditions, None for the number 0, which fits
    any dimension); ``dims`` maps ``(kind, name)`` to dimensions; ``free`` collects the inferred
    units of ports (``(kind, name) -> dimension``)."""
    k = t[0]
    if k == "num":
        return None if t[1] == 0.0 else DIMENSIONLESS
    if k in ("var", "param", "port", "unit", "t", "xi"):
        key = (k, t[1]) if len(t) > 1 else (k,)
        if key in dims:
            return dims[key]
        if key in free:
            return free[key]
        return ("free", key)
    if k == "neg":
        return dimension(t[1], dims, where, free)
    if k == "bin":
        op = t[1]
        a, b = dimension(t[2], dims, where, free), dimension(t[3], dims, where, free)
        if op in ("+", "-"):
            return _same(a, b, t[2], t[3], where, free, "term")
        if op == "**":
            return _power(t, a, b, where, free)
        a, b = _bound(a, t[2], where, op), _bound(b, t[3], where, op)
        if a is None or b is None:
            return None if op == "*" or a is None else DIMENSIONLESS
        _no_bool(a, t[2], where)
        _no_bool(b, t[3], where)
        return dmul(a, b) if op == "*" else ddiv(a, b)
    if k == "cmp":
        _same(dimension(t[2], dims, where, free), dimension(t[3], dims, where, free), t[2], t[3], where, free,
              "side")
        return BOOL
    if k in ("and", "or", "not"):
        for c in P.children(t):
            if dimension(c, dims, where, free) != BOOL:
                raise SpecError(f"{where}: {P.unparse(c)!r} is not a condition (in {P.unparse(t)!r})")
        return BOOL
    if k == "call":
        f, args = t[1], t[2]
        ds = [dimension(a, dims, where, free) for a in args]
        if f in _DIMLESS_FUNCS:
            d = ds[0]
            if isinstance(d, tuple) and d and d[0] == "free":
                free[d[1]] = DIMENSIONLESS
                d = DIMENSIONLESS
            if d not in (None, DIMENSIONLESS):
                raise SpecError(f"{where}: the argument of {f} in {P.unparse(t)!r} has dimension {_fmt(d)}, "
                                f"expected 1 (dimensionless)")
            return DIMENSIONLESS
        if f == "sqrt":
            d = _bound(ds[0], args[0], where, "sqrt")
            return None if d is None else dpow(_no_bool(d, args[0], where), Fraction(1, 2))
        if f == "abs":
            return ds[0]
        if f == "sign":
            return DIMENSIONLESS
        if f == "where":
            if ds[0] != BOOL:
                raise SpecError(f"{where}: the first argument of where in {P.unparse(t)!r} must be a condition")
            return _same(ds[1], ds[2], args[1], args[2], where, free, "branch")
        out = ds[0]
        for d, a in zip(ds[1:], args[1:]):
            out = _same(out, d, args[0], a, where, free, "argument")
        return out
    raise SpecError(f"{where}: cannot use {P.unparse(t)!r} here")  # pragma: no cover


def _fmt(d) -> str:
    return "a condition" if d == BOOL else format_dim(d)


def _no_bool(d, t, where):
    if d == BOOL:
        raise SpecError(f"{where}: the condition {P.unparse(t)!r} is used as a number")
    return d


def _bound(d, t, where, op):
    if isinstance(d, tuple) and d and d[0] == "free":
        raise SpecError(f"{where}: cannot infer the unit of port {d[1][1]!r} from {P.unparse(t)!r}; declare it "
                        f"as a line '{d[1][1]} : <unit>' in the equations")
    return d


def _same(a, b, ta, tb, where, free, noun):
    for x, tx, y in ((a, ta, b), (b, tb, a)):
        if isinstance(x, tuple) and x and x[0] == "free":
            if isinstance(y, tuple) and y and y[0] == "free":
                return x
            if y is not None:
                free[x[1]] = y
            return y
    if a is None:
        return b
    if b is None:
        return a
    if a != b:
        raise SpecError(f"{where}: {noun} {P.unparse(tb)!r} has dimension {_fmt(b)} but {P.unparse(ta)!r} "
                        f"has {_fmt(a)}")
    return a


def _constant(t):
    """The value of a constant number tree (``2``, ``-1``, ``1/2``), or None."""
    if t[0] == "num":
        return t[1]
    if t[0] == "neg":
        v = _constant(t[1])
        return None if v is None else -v
    if t[0] == "bin" and t[1] in ("/", "*", "+", "-"):
        a, b = _constant(t[2]), _constant(t[3])
        if a is None or b is None:
            return None
        return {"/": lambda: a / b, "*": lambda: a * b, "+": lambda: a + b, "-": lambda: a - b}[t[1]]()
    return None


def _power(t, a, b, where, free):
    if b not in (None, DIMENSIONLESS):
        raise SpecError(f"{where}: the exponent of {P.unparse(t)!r} has dimension {_fmt(b)}, expected 1")
    a = _bound(a, t[2], where, "**")
    if a in (None, DIMENSIONLESS):
        return a
    _no_bool(a, t[2], where)
    p = _constant(t[3])
    if p is None:
        raise SpecError(f"{where}: {P.unparse(t[2])!r} has dimension {_fmt(a)}, so its exponent in "
                        f"{P.unparse(t)!r} must be a number")
    return dpow(a, Fraction(p).limit_denominator(1000))


def _terms(t, sign=1):
    """The top-level terms of a sum (with their signs)."""
    if t[0] == "bin" and t[1] in ("+", "-"):
        return _terms(t[2], sign) + _terms(t[3], sign if t[1] == "+" else -sign)
    if t[0] == "neg":
        return _terms(t[1], -sign)
    return [t]


# ------------------------------------------------------------------------------ the system

@dataclass(frozen=True)
class System:
    """The checked description of an equation model; static (hashable): two models with the same
    text, units and method share their compiled code. Trees use the kinds ``var``, ``param``,
    ``port``, ``unit``, ``t``, ``xi``, ``num`` and the operators of :mod:`.parse`."""

    variables: tuple            # names of the differential variables, in order
    var_units: tuple            # their units as written
    rhs: tuple                  # their right-hand sides (named expressions inlined)
    schemes: tuple              # per variable: ("exp", L, B, D) | ("euler",) | ("rk4",) | ("em", f, g)
    unless_refractory: frozenset
    parameters: tuple           # parameter names
    param_units: tuple          # their dimensions formatted in base units
    ports: tuple                # every port name
    input_port: str | None
    expressions: tuple          # (name, tree) of the named expressions (observables)
    expr_units: tuple
    threshold: tuple | None
    reset: tuple                # ((target, op, tree), ...)
    refractory: tuple | None    # ("duration", tree) | ("condition", tree)
    initial: tuple              # ((variable, tree), ...)
    method: str                 # the method chosen (or given)
    stochastic: bool
    text: tuple = field(default=(), compare=True)  # (equations, threshold, reset, refractory) as given

    def __hash__(self):
        h = self.__dict__.get("_hash")
        if h is None:
            h = hash((self.variables, self.rhs, self.schemes, self.unless_refractory, self.parameters, self.ports,
                      self.input_port, self.expressions, self.threshold, self.reset, self.refractory, self.initial,
                      self.method, self.text))
            object.__setattr__(self, "_hash", h)
        return h

    @property
    def state_fields(self) -> tuple:
        out = list(self.variables)
        if self.refractory is not None:
            out.append("refractory")
        if self.threshold is not None:
            out.append("spike")
        if self.stochastic:
            out.append("key")
        return tuple(out)


def build_system(text: str, *, threshold=None, reset=None, refractory=None, parameters: dict, ports=(),
                 method: str | None = None, initial: dict | None = None, where: str = "equations") -> System:
    """Parse and check an equation model. ``parameters`` maps names to their dimensions (the values
    live in the model, not here); ``initial`` maps variables to expression text or numbers."""
    lines = P.equation_lines(text, where)
    diff = [l for l in lines if l.kind == "diff"]
    exprs = {l.name: l for l in lines if l.kind == "expr"}
    declared = {l.name: l for l in lines if l.kind == "declare"}
    variables = tuple(l.name for l in diff)
    ports = tuple(ports)
    for i, name in enumerate(variables):
        if name in variables[:i]:
            raise SpecError(f"{where}: d{name}/dt is given twice")
    for name, kind_set in (("t", None), ("xi", None), ("dt", None)):
        if name in variables or name in exprs or name in parameters:
            raise SpecError(f"{where}: {name!r} is reserved (time, white noise, time step) and cannot be defined")
    clash = (set(variables) | set(exprs)) & set(parameters)
    if clash:
        name = sorted(clash)[0]
        raise SpecError(f"{where}: {name!r} is both defined by an equation and given as a parameter")
    for p in ports:
        if not isinstance(p, str) or not p.isidentifier():
            raise SpecError(f"ports: expected names, got {p!r}")
        if p in parameters or p in exprs:
            raise SpecError(f"ports: {p!r} is a {'parameter' if p in parameters else 'named expression'}; a port is "
                            f"an input (a name of the equations) or a state variable")
    if len(set(ports)) != len(ports):
        raise SpecError(f"ports: a port is named twice in {list(ports)}")

    dims = {("t",): TIME, ("xi",): dpow(TIME, Fraction(-1, 2))}
    var_dims = {}
    for l in diff:
        f, d = parse_unit(l.unit, f"{where}, line {l.number} ({l.text!r})")
        var_dims[l.name] = d  # stored in the base unit of its dimension whatever unit is written
        dims[("var", l.name)] = d
    for name, d in parameters.items():
        dims[("param", name)] = d
    for name, l in declared.items():
        at = f"{where}, line {l.number} ({l.text!r})"
        f, d = parse_unit(l.unit, at)
        if name in parameters:
            if d != parameters[name]:
                raise SpecError(f"{at}: parameter {name!r} is given in {format_dim(parameters[name])}, "
                                f"declared {l.unit!r}")
        elif name in ports:
            dims[("port", name)] = d
        else:
            raise SpecError(f"{at}: {name!r} is declared but is neither a parameter nor a port "
                            f"(give its value in parameters, or list it in ports)")

    known = set(variables) | set(parameters) | set(ports) | set(exprs) | {"t", "xi"}

    def resolve(t, at, stack=()):
        k = t[0]
        if k == "name":
            n = t[1]
            if n in variables:
                return ("var", n)
            if n in parameters:
                return ("param", n)
            if n in ports:
                return ("port", n)
            if n in exprs:
                if n in stack:
                    raise SpecError(f"{where}: the named expression {n!r} refers to itself")
                return resolved_expr(n, stack + (n,))
            if n == "t":
                return ("t",)
            if n == "xi":
                return ("xi",)
            if n in UNITS:
                dims[("unit", n)] = unit_value(n)[0]
                return ("unit", n)
            raise SpecError(f"{at}: unknown name {n!r}{P.closest(n, known)} (not a variable, parameter, port, "
                            f"named expression or unit)")
        if k == "bin":
            return ("bin", t[1], resolve(t[2], at, stack), resolve(t[3], at, stack))
        if k == "cmp":
            return ("cmp", t[1], resolve(t[2], at, stack), resolve(t[3], at, stack))
        if k in ("and", "or"):
            return (k, resolve(t[1], at, stack), resolve(t[2], at, stack))
        if k in ("neg", "not"):
            return (k, resolve(t[1], at, stack))
        if k == "call":
            return ("call", t[1], tuple(resolve(a, at, stack) for a in t[2]))
        return t

    cache = {}

    def resolved_expr(n, stack):
        if n not in cache:
            l = exprs[n]
            cache[n] = resolve(l.expr, f"{where}, line {l.number} ({l.text!r})", stack)
        return cache[n]

    free: dict = {}
    expr_units = []
    for n, l in exprs.items():
        at = f"{where}, line {l.number} ({l.text!r})"
        tree = resolved_expr(n, (n,))
        f, want = parse_unit(l.unit, at)
        got = dimension(tree, dims, at, free)
        _check(got, want, at, f"{n} is declared in {l.unit!r}")
        expr_units.append(format_dim(want))
    rhs = []
    for l in diff:
        at = f"{where}, line {l.number} ({l.text!r})"
        tree = resolve(l.expr, at)
        want = ddiv(var_dims[l.name], TIME)
        _check_terms(tree, want, dims, at, free, f"d{l.name}/dt", l.unit)
        rhs.append(tree)
    for key, d in free.items():
        dims[key] = d
    # second pass: every port's unit is known now
    for tree, l in zip(rhs, diff):
        dimension(tree, dims, f"{where}, line {l.number} ({l.text!r})", {})
    for p in ports:
        if p not in variables and ("port", p) not in dims:
            if not any(depends(t, "port", p) for t in rhs):
                raise SpecError(f"ports: {p!r} is neither a state variable nor a name used in the equations")

    unless = frozenset(l.name for l in diff if "unless refractory" in l.flags)
    thr = None
    if threshold is not None:
        at = f"threshold ({threshold!r})"
        thr = resolve(P.expression(threshold, at), at)
        if dimension(thr, dims, at, {}) != BOOL:
            raise SpecError(f"{at}: must be a condition such as 'v > v_th'")
    resets = ()
    if reset is not None:
        if threshold is None:
            raise SpecError("reset: a reset needs a threshold")
        out = []
        for target, op, tree in P.statements(reset, "reset"):
            at = f"reset ({target} {op} {P.unparse(tree)})"
            if target not in variables:
                raise SpecError(f"{at}: {target!r} is not a state variable{P.closest(target, variables)} "
                                f"(variables: {', '.join(variables)})")
            tree = resolve(tree, at)
            d = dimension(tree, dims, at, {})
            want = var_dims[target] if op in ("=", "+=", "-=") else DIMENSIONLESS
            _check(d, want, at, f"{target} is in {format_dim(var_dims[target])}" if op in ("=", "+=", "-=")
                   else f"{op} needs a dimensionless factor")
            out.append((target, op, tree))
        resets = tuple(out)
    refr = None
    if refractory is not None:
        if threshold is None:
            raise SpecError("refractory: a refractory period needs a threshold")
        at = f"refractory ({refractory!r})"
        text_r = refractory if isinstance(refractory, str) else f"{float(refractory)!r} * ms"
        tree = resolve(P.expression(text_r, at), at)
        d = dimension(tree, dims, at, {})
        if d == BOOL:
            refr = ("condition", tree)
        elif d in (TIME, None):
            if depends(tree, "var") or depends(tree, "port"):
                raise SpecError(f"{at}: a refractory duration must depend on parameters only")
            refr = ("duration", tree)
        else:
            raise SpecError(f"{at}: must be a duration (e.g. '2 ms') or a condition (e.g. 'v > -40*mV'), "
                            f"got dimension {_fmt(d)}")
    if unless and refr is None:
        raise SpecError(f"{where}: '(unless refractory)' needs a refractory period")

    inits = []
    for name, value in (initial or {}).items():
        at = f"initial value of {name}"
        if name not in variables:
            raise SpecError(f"{at}: {name!r} is not a state variable{P.closest(name, variables)}")
        text_i = value if isinstance(value, str) else repr(float(value))
        tree = resolve(P.expression(text_i, at), at)
        if depends(tree, "port") or depends(tree, "xi") or depends(tree, "t"):
            raise SpecError(f"{at}: may use parameters, numbers, units and earlier variables only")
        d = dimension(tree, dims, at, {})
        if not isinstance(value, str) and d == DIMENSIONLESS:
            d = var_dims[name]  # a bare number is in the variable's base unit
        _check(d, var_dims[name], at, f"{name} is in {format_dim(var_dims[name])}")
        inits.append((name, tree))

    stochastic = any(depends(t, "xi") for t in rhs)
    method = _choose(method, variables, rhs, stochastic, threshold is not None)
    schemes = tuple(_scheme(method, v, t) for v, t in zip(variables, rhs))
    input_port = next((p for p in ports if p not in variables), ports[0] if ports else None)
    return System(variables, tuple(format_dim(var_dims[v]) for v in variables), tuple(rhs), schemes, unless, tuple(parameters),
                  tuple(format_dim(d) for d in parameters.values()), ports, input_port,
                  tuple((n, resolved_expr(n, (n,))) for n in exprs), tuple(expr_units), thr, resets, refr,
                  tuple(inits), method, stochastic,
                  (text, threshold, reset, None if refractory is None else str(refractory)))


def _check(got, want, at, what):
    if got is None or got == want:
        return
    raise SpecError(f"{at}: has dimension {_fmt(got)}, but {what} ({format_dim(want)})")


def _check_terms(tree, want, dims, at, free, lhs, unit):
    """Every top-level term of ``tree`` (through one division by a denominator) has dimension ``want``."""
    scale, terms = DIMENSIONLESS, _terms(tree)
    if len(terms) == 1 and tree[0] == "bin" and tree[1] == "/" and len(_terms(tree[2])) > 1:
        den = dimension(tree[3], dims, at, free)
        if den not in (None, BOOL) and not (isinstance(den, tuple) and den and den[0] == "free"):
            scale, terms = den, _terms(tree[2])
    expected = dmul(want, scale)
    for term in terms:
        _infer(term, expected, dims, free)
        d = dimension(term, dims, at, free)
        if isinstance(d, tuple) and d and d[0] == "free":
            free[d[1]] = expected
            continue
        if d is not None and d != expected:
            if scale == DIMENSIONLESS:
                raise SpecError(f"{at}: term {P.unparse(term)!r} has dimension {_fmt(d)}, but {lhs} needs "
                                f"{format_dim(expected)} (the unit of {lhs[1:-3]} over time)")
            raise SpecError(f"{at}: term {P.unparse(term)!r} has dimension {_fmt(d)}, but the numerator of {lhs} "
                            f"(divided by {P.unparse(tree[3])!r}) needs {format_dim(expected)}")
    d = dimension(tree, dims, at, free)
    _check(d, want, at, f"{lhs} needs {unit}/ms")


def _free_ports(t, dims, free) -> bool:
    return any(key not in dims and key not in free for key in _ports_in(t))


def _ports_in(t):
    if t[0] == "port":
        return [("port", t[1])]
    return [k for c in P.children(t) for k in _ports_in(c)]


def _infer(t, want, dims, free):
    """Bind the unit of a port from the dimension ``want`` its term must have (``I/c_m`` in
    ``dv/dt`` gives I the unit mV/ms * pF = pA)."""
    if want is None or want == BOOL or not _free_ports(t, dims, free):
        return
    k = t[0]
    if k == "port":
        free[("port", t[1])] = want
    elif k == "neg":
        _infer(t[1], want, dims, free)
    elif k == "bin" and t[1] in ("+", "-"):
        _infer(t[2], want, dims, free)
        _infer(t[3], want, dims, free)
    elif k == "bin" and t[1] in ("*", "/"):
        a, b = t[2], t[3]
        if _free_ports(a, dims, free) and not _free_ports(b, dims, free):
            db = dimension(b, dims, "", free)
            if db not in (None, BOOL):
                _infer(a, dmul(want, db) if t[1] == "/" else ddiv(want, db), dims, free)
        elif _free_ports(b, dims, free) and not _free_ports(a, dims, free):
            da = dimension(a, dims, "", free)
            if da not in (None, BOOL):
                _infer(b, ddiv(da, want) if t[1] == "/" else ddiv(want, da), dims, free)


def _linear(var, tree) -> bool:
    try:
        affine(tree, "var", var)
    except NotAffine:
        return False
    return True


def _choose(method, variables, rhs, stochastic, spiking) -> str:
    if method is None:
        method = "auto"
    if method not in METHODS:
        raise SpecError(f"method: unknown method {method!r}{P.closest(str(method), METHODS)} "
                        f"(allowed: {', '.join(METHODS)})")
    if stochastic and method not in ("auto", "euler_maruyama"):
        raise SpecError(f"method: the equations contain the white noise xi; use 'euler_maruyama', not {method!r}")
    if method != "auto":
        if method == "exponential_euler":
            for v, t in zip(variables, rhs):
                if not _linear(v, t):
                    raise SpecError(f"method: exponential_euler needs every equation linear in its own variable; "
                                    f"d{v}/dt = {P.unparse(t)} is not (use 'euler' or 'rk4')")
        if method == "euler_maruyama" and not stochastic:
            raise SpecError("method: euler_maruyama needs a noise term xi in the equations")
        return method
    if stochastic:
        return "euler_maruyama"
    if all(_linear(v, t) for v, t in zip(variables, rhs)):
        return "exponential_euler"
    return "exponential_euler" if spiking else "rk4"


def _scheme(method, var, tree):
    """The update rule of one variable under ``method`` (see :func:`step_variables`)."""
    if method == "rk4":
        return ("rk4",)
    if method == "euler":
        return ("euler",)
    if method == "euler_maruyama":
        try:
            lc, f = affine(tree, "xi", None)
        except NotAffine:
            raise SpecError(f"equations: d{var}/dt = {P.unparse(tree)}: the noise xi must enter linearly "
                            f"(as f + g*xi)") from None
        return ("em", f, neg(lc))
    # exponential Euler where linear in the variable, Euler otherwise
    num, den = tree, None
    if tree[0] == "bin" and tree[1] == "/" and not depends(tree[3], "var", var):
        num, den = tree[2], tree[3]
    try:
        lc, b = affine(num, "var", var)
    except NotAffine:
        return ("euler",)
    if lc is None:
        return ("euler",)
    return ("exp", lc, b, den)


# ------------------------------------------------------------------------------ generated JAX code

_FUNCS = {"exp": jnp.exp, "expm1": jnp.expm1, "log": jnp.log, "log1p": jnp.log1p, "log10": jnp.log10,
          "sqrt": jnp.sqrt, "sin": jnp.sin, "cos": jnp.cos, "tan": jnp.tan, "tanh": jnp.tanh, "sinh": jnp.sinh,
          "cosh": jnp.cosh, "arctan": jnp.arctan, "abs": jnp.abs, "sign": jnp.sign, "sigmoid": jax.nn.sigmoid,
          "clip": jnp.clip, "where": jnp.where, "minimum": jnp.minimum, "maximum": jnp.maximum}
_CMP = {"<": jnp.less, "<=": jnp.less_equal, ">": jnp.greater, ">=": jnp.greater_equal, "==": jnp.equal,
        "!=": jnp.not_equal}


def exprel(x):
    """``(e^x - 1) / x``, 1 at 0 (safe for gradients)."""
    small = jnp.abs(x) < 1e-6
    safe = jnp.where(small, 1.0, x)
    return jnp.where(small, 1.0 + x / 2, jnp.expm1(safe) / safe)


def evaluate(t, env: dict):
    """The JAX value of tree ``t``; ``env`` maps ``(kind, name)`` to arrays (``("t",)`` the time,
    ``("xi",)`` the noise). Called while JAX traces, so the tree becomes one XLA computation."""
    k = t[0]
    if k == "num":
        return t[1]
    if k == "unit":
        return unit_value(t[1])[1]
    if k in ("var", "param", "port", "t", "xi"):
        return env[t if k in ("t", "xi") else (k, t[1])]
    if k == "neg":
        return -evaluate(t[1], env)
    if k == "bin":
        op, a = t[1], evaluate(t[2], env)
        if op == "**":
            p = _constant(t[3])
            if p is not None and float(p).is_integer() and abs(p) <= 8:
                return jax.lax.integer_pow(jnp.asarray(a), int(p))
            return jnp.power(a, evaluate(t[3], env))
        b = evaluate(t[3], env)
        return a + b if op == "+" else a - b if op == "-" else a * b if op == "*" else a / b
    if k == "cmp":
        return _CMP[t[1]](evaluate(t[2], env), evaluate(t[3], env))
    if k == "and":
        return jnp.logical_and(evaluate(t[1], env), evaluate(t[2], env))
    if k == "or":
        return jnp.logical_or(evaluate(t[1], env), evaluate(t[2], env))
    if k == "not":
        return jnp.logical_not(evaluate(t[1], env))
    if k == "call":
        args = [evaluate(a, env) for a in t[2]]
        if t[1] == "exprel":
            return exprel(jnp.asarray(args[0]))
        return _FUNCS[t[1]](*args)
    raise ValueError(f"cannot evaluate {t!r}")  # pragma: no cover - resolution leaves no other node


def step_variables(system: System, values: dict, env: dict, dt, key=None) -> dict:
    """The integrated differential variables after one step of ``dt`` (before port increments,
    refractoriness, threshold and reset); ``values`` maps variable names to arrays, ``env`` holds
    the parameters, ports and time."""
    def field_at(vals, tt):
        e = dict(env)
        e.update({("var", v): x for v, x in vals.items()})
        e[("t",)] = tt
        return e

    e0 = field_at(values, env[("t",)])
    if system.method == "rk4":
        def f(vals, tt):
            e = field_at(vals, tt)
            return {v: evaluate(r, e) for v, r in zip(system.variables, system.rhs)}

        t0 = env[("t",)]
        k1 = f(values, t0)
        k2 = f({v: values[v] + dt / 2 * k1[v] for v in values}, t0 + dt / 2)
        k3 = f({v: values[v] + dt / 2 * k2[v] for v in values}, t0 + dt / 2)
        k4 = f({v: values[v] + dt * k3[v] for v in values}, t0 + dt)
        return {v: values[v] + dt / 6 * (k1[v] + 2 * k2[v] + 2 * k3[v] + k4[v]) for v in system.variables}
    out = {}
    keys = jax.random.split(key, len(system.variables)) if system.stochastic else None
    for i, (v, scheme) in enumerate(zip(system.variables, system.schemes)):
        x = values[v]
        if scheme[0] == "exp":
            _, lc, b, den = scheme
            leak = evaluate(lc, e0)
            scale = dt if den is None else dt / evaluate(den, e0)
            if b is None:
                out[v] = x * jnp.exp(evaluate(neg(lc), e0) * scale)
                continue
            rest = evaluate(b, e0)
            if lc[0] == "num":
                x_inf = rest / leak
                out[v] = x_inf + (x - x_inf) * jnp.exp(-leak * scale)
            else:  # a coefficient that may vanish: Euler where it does
                zero = leak == 0
                safe = jnp.where(zero, 1.0, leak)
                x_inf = rest / safe
                out[v] = jnp.where(zero, x + scale * rest, x_inf + (x - x_inf) * jnp.exp(-safe * scale))
        elif scheme[0] == "em":
            _, f, g = scheme
            drift = 0.0 if f is None else evaluate(f, e0)
            x_new = x + drift * dt
            if g is not None:
                noise = jax.random.normal(keys[i], jnp.shape(x), jnp.result_type(x))
                x_new = x_new + evaluate(g, e0) * jnp.sqrt(dt) * noise
            out[v] = x_new
        else:
            out[v] = x + dt * evaluate(system.rhs[i], e0)
    return out


def jax_step(system: System, n: int, params: dict, dt, old: dict, refractory, ports: dict, t, key=None) -> dict:
    """The new state fields (variables, ``refractory``, ``spike``, ``key``) after one step of
    ``dt`` ms of :class:`EquationModel` (module docstring), as JAX operations generated from the
    trees of ``system``: ``old`` maps variables to arrays, ``refractory`` is the clock (ms) or
    the boolean condition state (None without a refractory period), ``ports`` maps every port
    to its input, ``params`` the parameters to arrays, ``key`` the PRNG key of a stochastic model."""
    s = system
    env = {("param", p): params[p] for p in s.parameters}
    for p in s.ports:
        if p not in s.variables:
            env[("port", p)] = ports[p]
    env[("t",)] = t
    fields = {}
    noise_key = None
    if s.stochastic:
        new_key, noise_key = jax.random.split(key)
        fields["key"] = new_key
    new = step_variables(s, old, env, dt, noise_key)
    for p in s.ports:
        if p in s.variables:
            new[p] = new[p] + ports[p]
    free = None
    if s.refractory is not None:
        if s.refractory[0] == "duration":
            free = refractory <= 0
        else:
            free = jnp.logical_not(refractory)
        for v in s.unless_refractory:
            new[v] = jnp.where(free, new[v], old[v])
    if s.threshold is not None:
        env_new = dict(env)
        env_new.update({("var", v): x for v, x in new.items()})
        env_new[("t",)] = t + dt
        still = None
        if s.refractory is not None and s.refractory[0] == "condition":
            still = jnp.logical_and(refractory, evaluate(s.refractory[1], env_new))
            spike = jnp.logical_and(jnp.logical_not(still), evaluate(s.threshold, env_new))
        elif free is not None:
            spike = jnp.logical_and(free, evaluate(s.threshold, env_new))
        else:
            spike = jnp.asarray(evaluate(s.threshold, env_new), bool)
        spike = jnp.broadcast_to(spike, (n,))
        for target, op, tree in s.reset:
            value = evaluate(tree, env_new)
            cur = new[target]
            updated = (value if op == "=" else cur + value if op == "+=" else cur - value if op == "-="
                       else cur * value if op == "*=" else cur / value)
            new[target] = jnp.where(spike, updated, cur)
            env_new[("var", target)] = new[target]
        fields["spike"] = spike
        if s.refractory is not None:
            if s.refractory[0] == "duration":
                t_ref = evaluate(s.refractory[1], env)
                fields["refractory"] = jnp.where(spike, t_ref, jnp.maximum(refractory - dt, 0.0))
            else:
                fields["refractory"] = jnp.logical_or(spike, still)
    fields.update(new)
    return fields
