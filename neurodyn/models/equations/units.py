"""A small dimension algebra for equation-defined models: units, dimensions and the base units
the models compute in.

A dimension is a vector of rational exponents over the SI base dimensions (mass, length, time,
current, temperature, amount); a unit is a dimension and a factor. Every quantity of an equation
model is converted once, when the model is built, to the **base units** of neurodyn's spiking
models, the units SONATA and the hand-written models use:

=============  ==========  ================================================
dimension      base unit   derived from the base units below
=============  ==========  ================================================
time           ms
voltage        mV
current        pA
conductance    nS          pA / mV
capacitance    pF          pA ms / mV
resistance     GOhm        mV / pA
length         um
temperature    K
amount         amol        (so that concentrations are in mM = amol / um^3)
=============  ==========  ================================================

(the SI base scales that give them: mass 1e-12 kg, length 1e-6 m, time 1e-3 s, current 1e-12 A).
A parameter written ``"281 pF"`` is the number 281 in the model, ``"1 nA"`` is 1000,
``"120 mS/cm**2"`` is 1.2 (nS / um^2). Dimension checks happen once, on the parsed text; the
compiled step sees plain numbers.

Why a dimension algebra of our own rather than pint or brainunit: the checks are needed at parse
time only, on symbols, not on arrays (pint's quantities do not trace through ``jax.jit``, and a
library dependency for one table of prefixes is not worth it); the table below is the whole of
it and the tests exercise it (``tests/models/test_equations.py``).
"""

from __future__ import annotations

import functools
import math
import re
from fractions import Fraction

from ...errors import SpecError

# dimensions: exponents of (kg, m, s, A, K, mol)
DIMS = ("kg", "m", "s", "A", "K", "mol")
Dim = tuple  # tuple[Fraction, ...] of length 6

DIMENSIONLESS: Dim = (Fraction(0),) * 6
# the SI value of one base unit of each SI base dimension (see the module docstring)
_BASE_SI = (1e-12, 1e-6, 1e-3, 1e-12, 1.0, 1e-18)


def dim(**exponents) -> Dim:
    """A dimension from keyword exponents: ``dim(kg=1, m=2, s=-3, A=-1)`` is a voltage."""
    return tuple(Fraction(exponents.get(d, 0)) for d in DIMS)


def dmul(a: Dim, b: Dim) -> Dim:
    return tuple(x + y for x, y in zip(a, b))


def ddiv(a: Dim, b: Dim) -> Dim:
    return tuple(x - y for x, y in zip(a, b))


def dpow(a: Dim, p) -> Dim:
    return tuple(x * Fraction(p) for x in a)


TIME = dim(s=1)
VOLTAGE = dim(kg=1, m=2, s=-3, A=-1)
CURRENT = dim(A=1)
CONDUCTANCE = ddiv(CURRENT, VOLTAGE)
CAPACITANCE = ddiv(dmul(CURRENT, TIME), VOLTAGE)
RESISTANCE = ddiv(VOLTAGE, CURRENT)
LENGTH = dim(m=1)
TEMPERATURE = dim(K=1)
AMOUNT = dim(mol=1)
CONCENTRATION = ddiv(AMOUNT, dpow(LENGTH, 3))


def base_factor(d: Dim) -> float:
    """The SI value of one base unit of dimension ``d``."""
    return math.prod(b ** float(e) for b, e in zip(_BASE_SI, d))


# SI symbols: (dimension, SI factor)
_SYMBOLS = {
    "s": (TIME, 1.0), "second": (TIME, 1.0),
    "V": (VOLTAGE, 1.0), "volt": (VOLTAGE, 1.0),
    "A": (CURRENT, 1.0), "amp": (CURRENT, 1.0), "ampere": (CURRENT, 1.0),
    "S": (CONDUCTANCE, 1.0), "siemens": (CONDUCTANCE, 1.0),
    "F": (CAPACITANCE, 1.0), "farad": (CAPACITANCE, 1.0),
    "ohm": (RESISTANCE, 1.0), "Ohm": (RESISTANCE, 1.0),
    "Hz": (dpow(TIME, -1), 1.0), "hertz": (dpow(TIME, -1), 1.0),
    "m": (LENGTH, 1.0), "meter": (LENGTH, 1.0), "metre": (LENGTH, 1.0),
    "K": (TEMPERATURE, 1.0), "kelvin": (TEMPERATURE, 1.0),
    "mol": (AMOUNT, 1.0), "M": (CONCENTRATION, 1e3), "molar": (CONCENTRATION, 1e3),
    "C": (dmul(CURRENT, TIME), 1.0), "coulomb": (dmul(CURRENT, TIME), 1.0),
}
_PREFIXES = {"f": 1e-15, "p": 1e-12, "n": 1e-9, "u": 1e-6, "µ": 1e-6, "m": 1e-3, "c": 1e-2, "k": 1e3, "M": 1e6,
             "G": 1e9}
_PREFIXABLE = ("s", "V", "A", "S", "F", "ohm", "Ohm", "Hz", "m", "mol", "M", "C")


def _build_table() -> dict:
    table = {}
    for sym, (d, f) in _SYMBOLS.items():
        table[sym] = (d, f)
    for sym in _PREFIXABLE:
        d, f = _SYMBOLS[sym]
        for p, pf in _PREFIXES.items():
            table.setdefault(p + sym, (d, f * pf))
    table["um"] = (LENGTH, 1e-6)
    return table


#: every unit name an equation or a parameter may use: name -> (dimension, SI factor)
UNITS: dict[str, tuple] = _build_table()


def unit_value(name: str) -> tuple[Dim, float]:
    """``(dimension, value in base units)`` of one unit name (``"mV"`` -> (voltage, 1.0))."""
    d, si = UNITS[name]
    return d, si / base_factor(d)


# names used to print dimensions, in the base units
_NAMED = [("mV", VOLTAGE), ("pA", CURRENT), ("nS", CONDUCTANCE), ("pF", CAPACITANCE), ("ms", TIME),
          ("GOhm", RESISTANCE), ("um", LENGTH), ("K", TEMPERATURE), ("mM", CONCENTRATION), ("amol", AMOUNT)]


@functools.lru_cache(maxsize=None)
def format_dim(d: Dim) -> str:
    """A dimension in the base units: ``"mV"``, ``"mV/ms"``, ``"nS/um**2"``, ``"1"``.

    Memoised: the search below does Fraction arithmetic over every pair of named units, and
    registering the zoo alone formats a few hundred dimensions (0.1 s of every start-up)."""
    if d == DIMENSIONLESS:
        return "1"
    for name, nd in _NAMED:
        if d == nd:
            return name
    for name, nd in _NAMED:
        for other, od in _NAMED + [("um**2", dpow(LENGTH, 2)), ("ms**0.5", dpow(TIME, Fraction(1, 2)))]:
            if d == ddiv(nd, od):
                return f"{name}/{other}"
            if d == dmul(nd, od) and name != other:
                return f"{name}*{other}"
        if d == dpow(nd, -1):
            return f"1/{name}"
        for p in (2, 3, Fraction(1, 2), Fraction(-1, 2)):
            if d == dpow(nd, p):
                return f"{name}**{_fmt_exp(p)}"
    parts = [f"{unit}**{_fmt_exp(e)}" if e != 1 else unit
             for unit, e in zip(("fg", "um", "ms", "pA", "K", "amol"), d) if e != 0]
    return "*".join(parts)


def _fmt_exp(e) -> str:
    e = Fraction(e)
    return str(e.numerator) if e.denominator == 1 else f"{float(e):g}"


_NUMBER = re.compile(r"^\s*([-+]?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?)\s*(.*?)\s*$")


def parse_quantity(text: str, where: str) -> tuple[float, Dim]:
    """``"281 pF"`` -> ``(281.0, capacitance)``: a number, then a unit expression of unit names,
    ``*``, ``/`` and integer powers (``"mS/cm**2"``, ``"1/ms"``); a bare number is dimensionless.
    The value is returned in the base units (module docstring)."""
    if not isinstance(text, str):
        raise SpecError(f"{where}: expected a number or a quantity such as \"10 mV\", got {text!r}")
    m = _NUMBER.match(text)
    if not m:
        raise SpecError(f"{where}: expected a number and a unit such as \"281 pF\", got {text!r}")
    value, unit = float(m.group(1)), m.group(2)
    if not math.isfinite(value):
        raise SpecError(f"{where}: must be a finite number, got {text!r}")
    if not unit:
        return value, DIMENSIONLESS
    if unit.startswith("/"):
        unit = "1" + unit  # "0.02 /ms"
    factor, d = parse_unit(unit, where)
    return value * factor, d


def parse_unit(text: str, where: str) -> tuple[float, Dim]:
    """A unit expression (``"mV"``, ``"nS/um**2"``, ``"1"``) -> ``(factor to base units, dimension)``."""
    from .parse import unit_expression

    return unit_expression(text, where)
