"""Declared spec schemas: typed fields and registries of named builders.

A :class:`Field` declares one value of a spec table: its kind, its default (or that it is
required), its unit, its allowed range or choices and a one-line doc. :meth:`Field.validate`
checks a value and returns it; a failure is a :class:`~neurodyn.errors.SpecError` reading
``"<dotted.path>: <what is wrong>, got <value> (<what is accepted>)"``.

A :class:`Registry` maps names to :class:`Entry` objects: a builder with its fields, a one-line
summary, the citation and an ``example`` table that builds a small instance. Models, projections,
graph builders and initial-value distributions register beside their code into the registries
below (:data:`MODELS`, :data:`PROJECTIONS`, :data:`GRAPHS`, :data:`DISTRIBUTIONS`);
:mod:`neurodyn.spec` reads every spec table through :meth:`Registry.build`, and the reference
pages in ``docs/spec`` are generated from the same declarations
(``python -m neurodyn.spec.reference docs/spec``).

Registering a new entry::

    GRAPHS.register("ring", ring, (Field("n", "integer", minimum=1, doc="number of nodes"),
                                   Field("k", "integer", default=1, minimum=1, doc="neighbours a side")),
                    summary="Ring lattice", example={"n": 6})

The builder is called with the validated fields as keyword arguments, plus the names of the
registry's build context that the entry asks for (``context=("dtype",)``).
"""

from __future__ import annotations

import difflib
import math
import numbers
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Callable, Iterator

from .errors import SpecError


class _Required:
    def __repr__(self) -> str:
        return "REQUIRED"


REQUIRED = _Required()
"""The default of a field that a spec must give."""

KINDS = ("number", "integer", "per_node", "choice", "bool", "string", "custom")


def _describe(value) -> str:
    return f"{type(value).__name__} {value!r}"


def _fmt(x) -> str:
    return f"{x:g}" if isinstance(x, float) else str(x)


def did_you_mean(name, allowed) -> str:
    """``"; did you mean 'x'?"``, naming the allowed name closest to ``name``, or ``""`` if none is close.

    Closeness is :func:`difflib.get_close_matches` (Ratcliff/Obershelp similarity >= 0.6), tried on
    the names as given, then ignoring case, then on the last dotted part (``pop.var``). Every
    "unknown name" error of a spec (fields, models, projections, measures, metrics, ports, values)
    ends with it."""
    if not isinstance(name, str) or not name:
        return ""
    allowed = [str(a) for a in allowed]
    close = difflib.get_close_matches(name, allowed, n=1)
    if not close:
        lower = {a.lower(): a for a in allowed}
        close = [lower[c] for c in difflib.get_close_matches(name.lower(), list(lower), n=1)]
    if not close and "." in name:
        tails = {a.rpartition(".")[2]: a for a in allowed if a.rpartition(".")[0] == name.rpartition(".")[0]}
        close = [tails[c] for c in difflib.get_close_matches(name.rpartition(".")[2], list(tails), n=1)]
    return f"; did you mean {close[0]!r}?" if close else ""


def unknown_name(where: str, noun: str, name, allowed, *, label: str = "allowed") -> SpecError:
    """The error for a name that is not one of ``allowed``:
    ``"<where>: unknown <noun> 'x' (<label>: a, b, c); did you mean 'a'?"``."""
    allowed = list(allowed)
    prefix = f"{where}: " if where else ""
    return SpecError(f"{prefix}unknown {noun} {name!r} ({label}: {', '.join(map(str, allowed)) or 'none'})"
                     f"{did_you_mean(name, allowed)}")


def check_table(path: str, value) -> dict:
    """``value`` if it is a table (dict), else a SpecError."""
    if not isinstance(value, dict):
        raise SpecError(f"{path}: expected a table, got {_describe(value)}")
    return value


def check_known(path: str, table: Mapping, allowed) -> None:
    """A SpecError naming the first key of ``table`` that is not in ``allowed`` (and listing them)."""
    for key in table:
        if key not in allowed:
            raise unknown_name(path, "field", key, allowed)


def check_choice(path: str, value, allowed) -> str:
    """``value`` if it is one of the strings ``allowed``, else a SpecError listing them."""
    if not isinstance(value, str):
        raise SpecError(f"{path}: expected a string, got {_describe(value)}")
    if value not in allowed:
        raise unknown_name(path, "value", value, allowed)
    return value


@dataclass(frozen=True)
class Field:
    """One declared value of a spec table.

    Args:
        name: the key in the spec table (and the builder's keyword argument).
        kind: ``"number"`` (a finite float), ``"integer"``, ``"per_node"`` (a number or one number
            per node; the node count is the ``n`` of the validation context), ``"choice"`` (one of
            ``choices``), ``"bool"``, ``"string"`` or ``"custom"`` (checked and converted by
            ``validator``, e.g. a nested table).
        default: the value when the spec omits the field; :data:`REQUIRED` if it must be given.
        unit: unit of a dimensional value (``"rad"``, ``"steps"``; ``""`` when dimensionless).
        minimum, maximum: bounds of numbers and integers (and of every value of a per-node list);
            ``exclusive_minimum`` / ``exclusive_maximum`` make them strict.
        choices: the allowed strings of a ``"choice"``.
        doc: one line for the reference.
        validator: ``validator(path, value, **context) -> value`` for ``"custom"`` fields; it
            raises SpecError with ``path`` in front of the message.
        type_text, default_text: how the reference names the type of a custom field, or a
            default that depends on the context (``"the spec's seed"``).
        fields: the fields of a nested table the value may be (listed in the reference).
    """

    name: str
    kind: str = "number"
    default: Any = REQUIRED
    unit: str = ""
    minimum: float | None = None
    maximum: float | None = None
    exclusive_minimum: bool = False
    exclusive_maximum: bool = False
    choices: tuple = ()
    doc: str = ""
    validator: Callable | None = None
    type_text: str = ""
    default_text: str = ""
    fields: tuple = ()

    def __post_init__(self):
        if self.kind not in KINDS:
            raise ValueError(f"field {self.name!r}: kind must be one of {KINDS}, got {self.kind!r}")
        if self.kind == "choice" and not self.choices:
            raise ValueError(f"field {self.name!r}: a choice needs its choices")
        if self.kind == "custom" and self.validator is None:
            raise ValueError(f"field {self.name!r}: a custom field needs a validator")

    @property
    def required(self) -> bool:
        """Whether a spec must give this field."""
        return self.default is REQUIRED

    def validate(self, path: str, value, **context):
        """``value`` checked against this declaration (and converted: numbers to float, per-node
        lists to lists of floats); ``context`` carries what a check depends on (``n``)."""
        kind = self.kind
        if kind == "number":
            return self._number(path, value)
        if kind == "integer":
            return self._integer(path, value)
        if kind == "per_node":
            n = context.get("n")
            if isinstance(value, list):
                if n is not None and len(value) != n:
                    raise SpecError(f"{path}: expected {n} values (one per neuron), got {len(value)}")
                return [self._number(f"{path}[{i}]", v) for i, v in enumerate(value)]
            if isinstance(value, bool) or not isinstance(value, numbers.Real):
                raise SpecError(f"{path}: expected a number or a list of {n if n is not None else 'n'} numbers, "
                                f"got {_describe(value)}")
            return self._number(path, value)
        if kind == "choice":
            return check_choice(path, value, self.choices)
        if kind == "bool":
            if not isinstance(value, bool):
                raise SpecError(f"{path}: expected true or false, got {_describe(value)}")
            return value
        if kind == "string":
            if not isinstance(value, str):
                raise SpecError(f"{path}: expected a string, got {_describe(value)}")
            return value if self.validator is None else self.validator(path, value, **context)
        return self.validator(path, value, **context)

    def _number(self, path, value) -> float:
        if isinstance(value, bool) or not isinstance(value, numbers.Real):
            raise SpecError(f"{path}: expected a number, got {_describe(value)}")
        if not math.isfinite(value):
            raise SpecError(f"{path}: must be a finite number, got {value!r}")
        if not self._in_range(value):
            raise SpecError(f"{path}: must be {self._bounds_text()}, got {value!r}")
        return float(value)

    def _integer(self, path, value) -> int:
        if isinstance(value, bool) or not isinstance(value, numbers.Integral):
            raise SpecError(f"{path}: expected an integer, got {_describe(value)}")
        if not self._in_range(value):
            raise SpecError(f"{path}: must be an integer {self._bounds_text()}, got {value!r}")
        return int(value)

    def _in_range(self, v) -> bool:
        lo, hi = self.minimum, self.maximum
        if lo is not None and (v <= lo if self.exclusive_minimum else v < lo):
            return False
        return not (hi is not None and (v >= hi if self.exclusive_maximum else v > hi))

    def _bounds_text(self) -> str:
        lo, hi = self.minimum, self.maximum
        if lo is not None and hi is not None:
            left, right = "(" if self.exclusive_minimum else "[", ")" if self.exclusive_maximum else "]"
            return f"in {left}{_fmt(lo)}, {_fmt(hi)}{right}"
        if lo is not None:
            return f"{'>' if self.exclusive_minimum else '>='} {_fmt(lo)}"
        return f"{'<' if self.exclusive_maximum else '<='} {_fmt(hi)}"

    # ------------------------------------------------------------ reference text

    def type_description(self) -> str:
        """The kind as the reference names it."""
        if self.type_text:
            return self.type_text
        return {"number": "number", "integer": "integer", "per_node": "number or list of n numbers",
                "choice": "string", "bool": "boolean", "string": "string"}.get(self.kind, "value")

    def range_description(self) -> str:
        """The allowed values as the reference shows them (``""`` when anything of the type is)."""
        if self.kind == "choice":
            return ", ".join(f'"{c}"' for c in self.choices)
        if self.minimum is None and self.maximum is None:
            return ""
        return self._bounds_text()

    def default_description(self) -> str:
        """The default as the reference shows it."""
        if self.default_text:
            return self.default_text
        if self.required:
            return "required"
        if self.default is None:
            return "none"
        if isinstance(self.default, bool):
            return "true" if self.default else "false"
        if isinstance(self.default, str):
            return f'"{self.default}"'
        return repr(self.default) if isinstance(self.default, float) else str(self.default)


def read_fields(path: str, table, fields, *, allowed=(), context: Mapping | None = None) -> dict:
    """Validate ``table`` against ``fields`` into ``{name: value}`` (defaults filled in).

    ``path`` is the table's dotted path (``""`` for the top level of a spec, whose fields are
    named bare). ``allowed`` are further keys the caller handles itself (listed first in the
    "unknown field" error). Fields are validated in order, and every validated value joins the
    context of the fields after it (per-node values see the ``n`` before them).
    """
    where = path or "spec"
    table = check_table(where, table)
    check_known(where, table, (*allowed, *(f.name for f in fields if f.name not in allowed)))
    ctx = dict(context or {})
    values = {}
    for f in fields:
        if f.name in table:
            value = f.validate(f"{path}.{f.name}" if path else f.name, table[f.name], **ctx)
        elif f.required:
            raise SpecError(f"{where}: missing required field {f.name!r}")
        else:
            value = f.default
        values[f.name] = ctx[f.name] = value
    return values


@dataclass(frozen=True)
class Entry:
    """A registered builder: ``builder(**fields, **{name: context.get(name) for name in context})``."""

    name: str
    builder: Callable
    fields: tuple[Field, ...]
    summary: str
    citation: str = ""
    example: dict = field(default_factory=dict)
    context: tuple[str, ...] = ()
    built_class: type | None = None
    class_loader: Callable[[], type] | None = field(default=None, compare=False)

    @property
    def cls(self) -> type | None:
        """The class the builder returns (for its surface and docs): given, or made on first use
        by ``class_loader`` (the zoo's equation classes are parsed only when asked for)."""
        if self.built_class is None and self.class_loader is not None:
            object.__setattr__(self, "built_class", self.class_loader())
        return self.built_class

    def build(self, path: str, values: Mapping, context: Mapping):
        """Call the builder with validated ``values``; a SpecError it raises gets ``path`` in front."""
        try:
            return self.builder(**values, **{k: context.get(k) for k in self.context})
        except SpecError as e:
            raise SpecError(f"{path}: {e}") from None


class Registry(Mapping):
    """Named :class:`Entry` objects of one family, read from spec tables.

    Args:
        family: the family's name (the reference page is ``docs/spec/<family>.md``).
        title: the page title.
        key: the spec field naming the entry (``"model"``, ``"kind"``, ``"dist"``).
        noun: how an unknown name is called in errors (``"unknown model 'x'"``).
        context: what the spec provides when it builds an entry (entries pick from it).
        doc: a paragraph for the reference page.
    """

    def __init__(self, family: str, title: str, *, key: str = "kind", noun: str = "value",
                 context: tuple[str, ...] = (), doc: str = ""):
        self.family, self.title, self.key, self.noun, self.context, self.doc = family, title, key, noun, context, doc
        self._entries: dict[str, Entry] = {}

    def register(self, name: str, builder: Callable, fields=(), *, summary: str, citation: str = "",
                 example: dict | None = None, context: tuple[str, ...] = (), cls: type | None = None,
                 class_loader: Callable[[], type] | None = None) -> Entry:
        """Add an entry (see :class:`Entry`; ``class_loader`` makes its class on first use instead of
        ``cls``); a name can be registered once."""
        if name in self._entries:
            raise ValueError(f"{self.family}: {name!r} is already registered")
        unknown = set(context) - set(self.context)
        if unknown:
            raise ValueError(f"{self.family} {name!r}: context {sorted(unknown)} is not provided "
                             f"(available: {', '.join(self.context)})")
        names = [f.name for f in fields]
        if len(set(names)) != len(names) or self.key in names:
            raise ValueError(f"{self.family} {name!r}: field names must be unique and differ from {self.key!r}")
        entry = Entry(name, builder, tuple(fields), summary, citation, dict(example or {}), tuple(context), cls,
                      class_loader)
        self._entries[name] = entry
        return entry

    def get(self, name, path: str = "") -> Entry:
        """The entry called ``name``; an unknown name is a SpecError at ``path`` listing the known ones."""
        if not isinstance(name, str) or name not in self._entries:
            raise unknown_name(path, self.noun, name, self._entries)
        return self._entries[name]

    def read(self, path: str, table, *, before=(), context: Mapping | None = None) -> tuple[Entry, dict]:
        """The entry that ``table[key]`` names and the table's validated fields.

        ``before``: fields common to the family, validated ahead of the entry's own (a
        population's ``n`` and ``init``); ``context``: what validators may depend on.
        """
        table = check_table(path, table)
        if self.key not in table:
            raise SpecError(f"{path}: missing field {self.key!r} (one of: {', '.join(self._entries)})")
        entry = self.get(table[self.key], f"{path}.{self.key}")
        names = (self.key, *(f.name for f in before))
        values = read_fields(path, {k: v for k, v in table.items() if k != self.key},
                             (*before, *entry.fields), allowed=names, context=context)
        return entry, values

    def build(self, path: str, table, *, before=(), context: Mapping | None = None):
        """Read ``table`` (see :meth:`read`) and build its entry with the build ``context``."""
        context = dict(context or {})
        entry, values = self.read(path, table, before=before, context=context)
        return entry.build(path, values, context)

    def __getitem__(self, name: str) -> Entry:
        return self._entries[name]

    def __iter__(self) -> Iterator[str]:
        return iter(self._entries)

    def __len__(self) -> int:
        return len(self._entries)

    def __repr__(self) -> str:
        return f"Registry({self.family!r}: {', '.join(self._entries)})"


MODELS = Registry(
    "models", "Models", key="model", noun="model", context=("dt", "dtype", "spec_seed"),
    doc="A `[populations.<name>]` table builds one population: `model` names the model, `n` its size, "
        "`init` its initial values; the other fields are the model's own.")
PROJECTIONS = Registry(
    "couplings", "Couplings (projections)", context=("models", "dtype"),
    doc="A `[couplings.<name>]` table builds one projection of the network: `kind` names it. The spec path "
        "`couplings.<name>.<field>` is the model path `projections.<name>.<field>`. The examples couple a "
        "population named `neurons` of 4 Chialvo neurons (the spiking projection: 4 LIF neurons).")
GRAPHS = Registry(
    "graphs", "Graphs", context=("nodes",),
    doc="A `graph = { kind = ... }` table (of a coupling, or of a graph model) builds a graph; its node count must "
        "match the nodes it connects. Edge `[i, j]` means node i receives from node j.")
DISTRIBUTIONS = Registry(
    "distributions", "Initial-value distributions", key="dist", context=("key", "n", "dtype"),
    doc="`init.<variable> = { dist = ... }` in a population table draws that variable's initial values; "
        "a number or a list of n numbers gives them directly.")


def parse_value(text: str):
    """A value given as text (a ``--set`` value, a sweep measure's option): any TOML value
    (``0.1``, ``[1, 2]``, ``"ring"``, ``true``); bare words that are not TOML are taken as
    strings. Never evaluated as code."""
    try:
        return tomllib.loads(f"v = {text}")["v"]
    except tomllib.TOMLDecodeError:
        return text
