"""Parsing equation text: a whitelisted walk of Python's ``ast``, never an evaluation.

The text of an equation model (docs/spec/equations.md) is read with :func:`ast.parse` and every
node is checked against a short whitelist: names, numbers, ``+ - * / **``, unary minus,
comparisons, ``and / or / not`` and calls of the functions in :data:`FUNCTIONS`. Anything else
(``__import__``, attribute access, subscripts, lambdas, keyword arguments, strings, ...) is a
one-line :class:`~neurodyn.errors.SpecError` naming the offending token. The result is a tree of
plain tuples (hashable, so a parsed model is a static, compile-time description):

``("num", value)``, ``("name", id)`` (resolved later to ``("var", id)``, ``("param", id)``,
``("port", id)``, ``("unit", id)``, ``("t",)`` or ``("xi",)``), ``("bin", op, a, b)`` with op in
``+ - * / **``, ``("neg", a)``, ``("call", function, (args...))``, ``("cmp", op, a, b)``,
``("and", a, b)``, ``("or", a, b)``, ``("not", a)``.

Equation lines (one per line, ``#`` starts a comment)::

    dv/dt = (g_l*(e_l - v) - w + I)/c_m : mV (unless refractory)   # a differential equation
    I_syn = g_e*(e_e - v) : pA                                     # a named expression
    I : pA                                                         # the unit of a port

Reset statements: ``v = v_r; w += b`` (``=``, ``+=``, ``-=``, ``*=``, ``/=``; ``;`` or new
lines between them).
"""

from __future__ import annotations

import ast
import difflib
import re
from dataclasses import dataclass

from ...errors import SpecError

#: the functions an equation may call: name -> number of arguments
FUNCTIONS = {"exp": 1, "expm1": 1, "exprel": 1, "log": 1, "log1p": 1, "log10": 1, "sqrt": 1, "sin": 1, "cos": 1,
             "tan": 1, "tanh": 1, "sinh": 1, "cosh": 1, "arctan": 1, "abs": 1, "sign": 1, "sigmoid": 1,
             "clip": 3, "where": 3, "minimum": 2, "maximum": 2}
_BINOPS = {ast.Add: "+", ast.Sub: "-", ast.Mult: "*", ast.Div: "/", ast.Pow: "**"}
_CMPOPS = {ast.Lt: "<", ast.LtE: "<=", ast.Gt: ">", ast.GtE: ">=", ast.Eq: "==", ast.NotEq: "!="}
_AUGOPS = {ast.Add: "+=", ast.Sub: "-=", ast.Mult: "*=", ast.Div: "/="}


def _token(node) -> str:
    try:
        return ast.unparse(node)
    except Exception:  # pragma: no cover - unparse handles every node ast.parse makes
        return type(node).__name__


def closest(name: str, known) -> str:
    """`` (did you mean 'x'?)`` for the closest of ``known``, or ``""``."""
    match = difflib.get_close_matches(name, list(known), n=1)
    return f" (did you mean {match[0]!r}?)" if match else ""


def _convert(node, where: str):
    """The tuple tree of one whitelisted ``ast`` expression node (module docstring)."""
    if isinstance(node, ast.Constant):
        if isinstance(node.value, bool) or not isinstance(node.value, (int, float)):
            raise SpecError(f"{where}: {_token(node)!r} is not a number")
        return ("num", float(node.value))
    if isinstance(node, ast.Name):
        if node.id.startswith("__"):
            raise SpecError(f"{where}: name {node.id!r} is not allowed")
        return ("name", node.id)
    if isinstance(node, ast.BinOp):
        op = _BINOPS.get(type(node.op))
        if op is None:
            raise SpecError(f"{where}: operator in {_token(node)!r} is not allowed (use + - * / **)")
        return ("bin", op, _convert(node.left, where), _convert(node.right, where))
    if isinstance(node, ast.UnaryOp):
        if isinstance(node.op, ast.USub):
            return ("neg", _convert(node.operand, where))
        if isinstance(node.op, ast.UAdd):
            return _convert(node.operand, where)
        if isinstance(node.op, ast.Not):
            return ("not", _convert(node.operand, where))
        raise SpecError(f"{where}: operator in {_token(node)!r} is not allowed")
    if isinstance(node, ast.Compare):
        parts, left = [], node.left
        for op, right in zip(node.ops, node.comparators):
            sym = _CMPOPS.get(type(op))
            if sym is None:
                raise SpecError(f"{where}: comparison in {_token(node)!r} is not allowed (use < <= > >= == !=)")
            parts.append(("cmp", sym, _convert(left, where), _convert(right, where)))
            left = right
        tree = parts[0]
        for p in parts[1:]:
            tree = ("and", tree, p)
        return tree
    if isinstance(node, ast.BoolOp):
        kind = "and" if isinstance(node.op, ast.And) else "or"
        values = [_convert(v, where) for v in node.values]
        tree = values[0]
        for v in values[1:]:
            tree = (kind, tree, v)
        return tree
    if isinstance(node, ast.Call):
        if not isinstance(node.func, ast.Name):
            if isinstance(node.func, (ast.Attribute, ast.Subscript, ast.Lambda)):
                _convert(node.func, where)  # names the attribute, subscript or lambda
            raise SpecError(f"{where}: call of {_token(node.func)!r} is not allowed "
                            f"(functions: {', '.join(FUNCTIONS)})")
        name = node.func.id
        if name not in FUNCTIONS:
            raise SpecError(f"{where}: unknown function {name!r}{closest(name, FUNCTIONS)} "
                            f"(functions: {', '.join(FUNCTIONS)})")
        if node.keywords:
            raise SpecError(f"{where}: keyword arguments in {_token(node)!r} are not allowed")
        if len(node.args) != FUNCTIONS[name]:
            raise SpecError(f"{where}: {name} takes {FUNCTIONS[name]} argument(s), got {len(node.args)} "
                            f"in {_token(node)!r}")
        return ("call", name, tuple(_convert(a, where) for a in node.args))
    if isinstance(node, ast.Attribute):
        _convert(node.value, where)  # a forbidden name or call inside is named first
        raise SpecError(f"{where}: attribute access {_token(node)!r} is not allowed")
    if isinstance(node, ast.Subscript):
        raise SpecError(f"{where}: subscript {_token(node)!r} is not allowed")
    if isinstance(node, ast.Lambda):
        raise SpecError(f"{where}: lambda {_token(node)!r} is not allowed")
    raise SpecError(f"{where}: {_token(node)!r} is not allowed in an equation "
                    f"(names, numbers, + - * / **, comparisons and {', '.join(FUNCTIONS)})")


def _ast(text: str, mode: str, where: str):
    if "\\" in text or "\0" in text:
        raise SpecError(f"{where}: backslashes are not allowed in {text.strip()!r}")
    try:
        return ast.parse(text.strip(), mode=mode)
    except SyntaxError as e:
        bad = (e.text or text).strip()
        raise SpecError(f"{where}: cannot parse {bad!r} ({e.msg})") from None


def expression(text: str, where: str):
    """The tuple tree of one expression (module docstring)."""
    if not isinstance(text, str) or not text.strip():
        raise SpecError(f"{where}: expected an expression, got {text!r}")
    return _convert(_ast(_quantities(text), "eval", where).body, where)


_QUANTITY = re.compile(r"(?<![\w.])(\d+\.?\d*(?:[eE][-+]?\d+)?|\.\d+(?:[eE][-+]?\d+)?)\s+([A-Za-zµ_]\w*)")


def _quantities(text: str) -> str:
    """``"2 ms"`` -> ``"2*ms"`` where a number is followed by a unit name (``"v > -50 mV"`` reads
    as ``v > -50*mV``)."""
    from .units import UNITS

    return _QUANTITY.sub(lambda m: f"{m.group(1)}*{m.group(2)}" if m.group(2) in UNITS else m.group(0), text)


def names(tree) -> set:
    """Every ``("name", id)`` in a tree."""
    out = set()

    def walk(t):
        if t[0] == "name":
            out.add(t[1])
        for child in children(t):
            walk(child)

    walk(tree)
    return out


def children(t) -> tuple:
    """The sub-trees of a node."""
    kind = t[0]
    if kind in ("bin", "cmp"):
        return (t[2], t[3])
    if kind in ("and", "or"):
        return (t[1], t[2])
    if kind in ("neg", "not"):
        return (t[1],)
    if kind == "call":
        return t[2]
    return ()


def unparse(t) -> str:
    """A tree back as text (for error messages)."""
    kind = t[0]
    if kind == "num":
        v = t[1]
        return str(int(v)) if v == int(v) and abs(v) < 1e15 else repr(v)
    if kind in ("name", "var", "param", "port", "unit", "sub"):
        return t[1]
    if kind == "t":
        return "t"
    if kind == "xi":
        return "xi"
    if kind == "bin":
        return f"{_paren(t[2])}{t[1]}{_paren(t[3])}" if t[1] in ("*", "/", "**") else f"{unparse(t[2])} {t[1]} {_paren(t[3], t[1] == '-')}"
    if kind == "neg":
        return f"-{_paren(t[1])}"
    if kind == "cmp":
        return f"{unparse(t[2])} {t[1]} {unparse(t[3])}"
    if kind in ("and", "or"):
        return f"{_paren(t[1])} {kind} {_paren(t[2])}"
    if kind == "not":
        return f"not {_paren(t[1])}"
    if kind == "call":
        return f"{t[1]}({', '.join(unparse(a) for a in t[2])})"
    return str(t)


def _paren(t, always_sum: bool = True) -> str:
    text = unparse(t)
    return f"({text})" if t[0] in ("bin", "cmp", "and", "or") and (t[1] in ("+", "-") or t[0] != "bin") else text


# ------------------------------------------------------------------------------ equation lines

_DIFF = re.compile(r"^d\s*([A-Za-z_]\w*)\s*/\s*dt$")
_FLAGS = re.compile(r"^(.*?)\s*\(\s*([^()]*)\s*\)\s*$")


@dataclass(frozen=True)
class Line:
    """One parsed line: ``kind`` is ``"diff"`` (dx/dt = ...), ``"expr"`` (a named expression) or
    ``"declare"`` (``name : unit``); ``unit`` the text after the colon; ``flags`` e.g.
    ``("unless refractory",)``; ``number`` the line number in the text (1-based)."""

    kind: str
    name: str
    expr: tuple | None
    unit: str
    flags: tuple
    number: int
    text: str


def equation_lines(text: str, where: str = "equations") -> list[Line]:
    """The lines of an equations text (module docstring); blank lines and ``#`` comments skipped."""
    if not isinstance(text, str):
        raise SpecError(f"{where}: expected a string of equations, got {type(text).__name__}")
    lines = []
    for number, raw in enumerate(text.splitlines(), 1):
        line = raw.split("#", 1)[0].strip()
        if not line:
            continue
        at = f"{where}, line {number} ({line!r})"
        if ":" not in line:
            raise SpecError(f"{at}: missing ': unit' at the end (e.g. 'dv/dt = -v/tau : mV', ': 1' if dimensionless)")
        body, unit = line.rsplit(":", 1)
        unit, flags = unit.strip(), ()
        m = _FLAGS.match(unit)
        if m and m.group(1):
            unit, flags = m.group(1).strip(), tuple(f.strip() for f in m.group(2).split(",") if f.strip())
        for flag in flags:
            if flag != "unless refractory":
                raise SpecError(f"{at}: unknown flag {flag!r} (allowed: 'unless refractory')")
        if not unit:
            raise SpecError(f"{at}: missing the unit after ':'")
        body = body.strip()
        if "=" not in body:
            if not re.fullmatch(r"[A-Za-z_]\w*", body):
                raise SpecError(f"{at}: expected 'dx/dt = ...', 'name = ...' or 'name : unit'")
            lines.append(Line("declare", body, None, unit, flags, number, line))
            continue
        lhs, rhs = body.split("=", 1)
        lhs = lhs.strip()
        if rhs.startswith("="):
            raise SpecError(f"{at}: an equation needs '=', not '=='")
        m = _DIFF.match(lhs)
        if m:
            kind, name = "diff", m.group(1)
        elif re.fullmatch(r"[A-Za-z_]\w*", lhs):
            kind, name = "expr", lhs
        else:
            raise SpecError(f"{at}: the left side {lhs!r} must be 'dx/dt' or a name")
        if name.startswith("__"):
            raise SpecError(f"{at}: name {name!r} is not allowed")
        lines.append(Line(kind, name, expression(rhs, at), unit, flags, number, line))
    if not any(l.kind == "diff" for l in lines):
        raise SpecError(f"{where}: no differential equation (a line 'dx/dt = ... : unit')")
    return lines


def statements(text: str, where: str) -> tuple:
    """Reset statements ``"v = v_r; w += b"`` -> ``((target, op, tree), ...)``."""
    if not isinstance(text, str) or not text.strip():
        raise SpecError(f"{where}: expected statements such as 'v = v_r; w += b', got {text!r}")
    out = []
    for part in re.split(r"[;\n]", text):
        part = part.split("#", 1)[0].strip()
        if not part:
            continue
        at = f"{where} ({part!r})"
        tree = _ast(part, "exec", at)
        if len(tree.body) != 1:
            raise SpecError(f"{at}: expected one statement")
        stmt = tree.body[0]
        if isinstance(stmt, ast.Assign) and len(stmt.targets) == 1 and isinstance(stmt.targets[0], ast.Name):
            out.append((stmt.targets[0].id, "=", _convert(stmt.value, at)))
        elif isinstance(stmt, ast.AugAssign) and isinstance(stmt.target, ast.Name) and type(stmt.op) in _AUGOPS:
            out.append((stmt.target.id, _AUGOPS[type(stmt.op)], _convert(stmt.value, at)))
        elif isinstance(stmt, ast.Expr):
            _convert(stmt.value, at)  # names a forbidden token first, if any
            raise SpecError(f"{at}: expected an assignment 'x = ...' or 'x += ...'")
        else:
            target = getattr(stmt, "targets", [getattr(stmt, "target", None)])
            if target and target[0] is not None and not isinstance(target[0], ast.Name):
                raise SpecError(f"{at}: can only assign to a variable name, not {_token(target[0])!r}")
            raise SpecError(f"{at}: expected an assignment 'x = ...' or 'x += ...' (operators = += -= *= /=)")
    if not out:
        raise SpecError(f"{where}: no statement in {text!r}")
    return tuple(out)


def unit_expression(text: str, where: str):
    """``(factor to base units, dimension)`` of a unit expression (``"nS/um**2"``, ``"1"``)."""
    from .units import DIMENSIONLESS, UNITS, ddiv, dmul, dpow, unit_value

    text = text.strip()
    if text == "1":
        return 1.0, DIMENSIONLESS
    tree = expression(text, f"{where}: unit {text!r}")

    def walk(t):
        kind = t[0]
        if kind == "name":
            if t[1] not in UNITS:
                raise SpecError(f"{where}: unknown unit {t[1]!r}{closest(t[1], UNITS)}")
            d, f = unit_value(t[1])
            return f, d
        if kind == "num":
            return t[1], DIMENSIONLESS
        if kind == "bin" and t[1] in ("*", "/"):
            (fa, da), (fb, db) = walk(t[2]), walk(t[3])
            return (fa * fb, dmul(da, db)) if t[1] == "*" else (fa / fb, ddiv(da, db))
        if kind == "bin" and t[1] == "**":
            base, exp = walk(t[2]), t[3]
            sign = 1
            if exp[0] == "neg":
                sign, exp = -1, exp[1]
            if exp[0] != "num":
                raise SpecError(f"{where}: unit {text!r}: a power must be a number")
            p = sign * exp[1]
            return base[0] ** p, dpow(base[1], p)
        raise SpecError(f"{where}: {text!r} is not a unit (unit names, * / and ** only)")

    return walk(tree)
