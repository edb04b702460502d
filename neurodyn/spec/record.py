"""The ``[record]`` table (what is written, how often, spike thresholds) and the
``[diagnostics.<name>]`` tables (streaming diagnostics computed while the run writes)."""

from __future__ import annotations

from ..errors import SpecError
from ..schema import Field, check_choice, check_table, read_fields


def _variables(path, value, *, observables=(), **context) -> list:
    if not isinstance(value, list) or not value:
        raise SpecError(f"{path}: expected a non-empty list of names like {next(iter(observables), 'pop.x')!r}")
    for v in value:
        if v not in observables:
            raise SpecError(f"{path}: unknown variable {v!r} (allowed: {', '.join(observables)})")
    return value


def _population(path, value, *, models=(), **context) -> str:
    return check_choice(path, value, tuple(models))


SPIKE_FIELDS = (
    Field("population", "custom", validator=_population, type_text="string", doc="the population"),
    Field("variable", "string", default="x",
          doc="the state variable that spikes when it crosses the threshold, or a spike event of the model"),
    Field("threshold", default=None, doc="a spike is an upward crossing of this value (not for events)",
          default_text="1.0 (none for an event)"),
)


def _spikes(path, value, *, models=(), **context) -> dict:
    tables = value if isinstance(value, list) else [value]
    out = {}
    for i, s in enumerate(tables):
        spath = f"{path}[{i}]" if isinstance(value, list) else path
        f = read_fields(spath, s, SPIKE_FIELDS, context={"models": models})
        model = models[f["population"]]
        check_choice(f"{spath}.variable", f["variable"], model.VARIABLES)
        if f["variable"] in getattr(model, "EVENTS", ()):
            if f["threshold"] is not None:
                raise SpecError(f"{spath}.threshold: {f['variable']!r} is a spike event of the model; "
                                f"it takes no threshold")
        elif f["threshold"] is None:
            f["threshold"] = 1.0
        out[f"{f['population']}.{f['variable']}"] = f["threshold"]
    return out


RECORD_FIELDS = (
    Field("variables", "custom", default=None, validator=_variables, type_text="list of strings",
          doc="observables to record, named population.observable", default_text="every observable"),
    Field("every", "integer", default=1, minimum=1, unit="steps", doc="record every k-th step"),
    Field("transient", "integer", default=0, minimum=0, unit="steps",
          doc="steps run before recording starts (fewer than steps)"),
    Field("spikes", "custom", default=None, validator=_spikes, type_text="table or list of tables",
          doc="threshold crossings written as SONATA spikes", default_text="none", fields=SPIKE_FIELDS),
)

DIAGNOSTIC_FIELDS = (
    Field("population", "custom", validator=_population, type_text="string", doc="the population observed"),
    Field("variable", "string", default=None, doc="its observable",
          default_text="the diagnostic's own (theta for order_parameter, x for cross_correlation)"),
)


def read_record(table, *, observables, models, steps: int) -> dict:
    """The ``[record]`` table: ``variables`` (a tuple), ``every``, ``transient``, ``spikes``
    (``{"population.variable": threshold}``, threshold ``None`` for the models' spike events,
    which are always recorded)."""
    rec = read_fields("record", check_table("record", table), RECORD_FIELDS,
                      context={"observables": tuple(observables), "models": models})
    if rec["transient"] >= steps:
        raise SpecError(f"record.transient: must be smaller than steps ({steps}), got {rec['transient']}")
    rec["variables"] = tuple(rec["variables"] if rec["variables"] is not None else observables)
    rec["spikes"] = rec["spikes"] or {}
    for pop, model in models.items():  # every declared spike event is recorded
        for event in getattr(model, "EVENTS", ()):
            rec["spikes"].setdefault(f"{pop}.{event}", None)
    return rec


def read_diagnostics(table, *, models, variables) -> dict:
    """``{name: recorded observable}`` of the ``[diagnostics.<name>]`` tables; each needs its
    observable in ``record.variables``."""
    from ..diagnostics.streaming import STREAMS

    out = {}
    for name, d in check_table("diagnostics", table).items():
        path = f"diagnostics.{name}"
        if name not in STREAMS:
            raise SpecError(f"diagnostics: unknown diagnostic {name!r} (allowed: {', '.join(STREAMS)})")
        f = read_fields(path, d, DIAGNOSTIC_FIELDS, context={"models": models})
        observable = f"{f['population']}.{f['variable'] or STREAMS[name][1]}"
        if observable not in variables:
            raise SpecError(f"{path}: needs {observable!r} in record.variables")
        out[name] = observable
    return out
