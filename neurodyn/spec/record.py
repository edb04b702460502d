"""The ``[record]`` table (what is written, how often, spike thresholds) and the
``[diagnostics.<name>]`` tables (streaming diagnostics computed while the run writes)."""

from __future__ import annotations

from ..core.monitors import node_indices
from ..errors import SpecError
from ..schema import Field, check_choice, check_table, read_fields, unknown_name


def _variables(path, value, *, observables=(), **context) -> list:
    if not isinstance(value, list):
        raise SpecError(f"{path}: expected a list of names like {next(iter(observables), 'pop.x')!r} "
                        f"([] to record no variable)")
    for v in value:
        if not isinstance(v, str):
            raise SpecError(f"{path}: expected names (strings), got {type(v).__name__} {v!r}")
        if v not in observables:
            raise unknown_name(path, "variable", v, observables)
    return value


def _population(path, value, *, models=(), **context) -> str:
    return check_choice(path, value, tuple(models))


def _neurons(path, value, *, models=(), **context) -> dict:
    table = check_table(path, value)
    out = {}
    for pop, chosen in table.items():
        if pop not in models:
            raise unknown_name(path, "population", pop, tuple(models))
        n = getattr(models[pop], "n", None)
        if n is None:
            raise SpecError(f"{path}.{pop}: the model of population {pop!r} has no node count n to select from")
        out[pop] = node_indices(f"{path}.{pop}", chosen, int(n))
    return out


def _rates(path, value, *, models=(), **context) -> list:
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise SpecError(f"{path}: expected a list of population names like {next(iter(models), 'exc')!r}")
    for v in value:
        if v not in models:
            raise unknown_name(path, "population", v, tuple(models))
    return value


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
        if any(name.rpartition(".")[0] == f["population"] for name in out):
            raise SpecError(f"{spath}: population {f['population']!r} already has spikes; a population has one "
                            f"list of spikes, so give one variable for it")
        out[f"{f['population']}.{f['variable']}"] = f["threshold"]
    return out


RECORD_FIELDS = (
    Field("variables", "custom", default=None, validator=_variables, type_text="list of strings",
          doc="observables to record, named population.observable ([] records none)",
          default_text="every observable"),
    Field("every", "integer", default=1, minimum=1, unit="steps", doc="record every k-th step"),
    Field("transient", "integer", default=0, minimum=0, unit="steps",
          doc="steps run before recording starts (fewer than steps)"),
    Field("spikes", "custom", default=None, validator=_spikes, type_text="table or list of tables",
          doc="threshold crossings written as SONATA spikes", default_text="none", fields=SPIKE_FIELDS),
    Field("neurons", "custom", default=None, validator=_neurons, type_text="table",
          doc="record only these neurons: { population = [node indices] or \"start:stop[:step]\" }; the traces and "
              "spikes of the population's observables and its spiking statistics are those neurons' (the file's "
              "node_ids say which)", default_text="every neuron"),
    Field("rates", "custom", default=None, validator=_rates, type_text="list of strings",
          doc="population rate monitors: the spikes of all neurons of each population counted per recording "
              "interval, recorded as <population>.population_rate (Hz, stamped with the start of the interval)",
          default_text="none"),
    Field("spiking_statistics", "bool", default=True,
          doc="stream rate, CV of ISIs, Fano factor, E/I balance and synchrony of spiking populations "
              "into /diagnostics (computed inside the loop; false saves its cost, about 15-30 us per step "
              "on the 4,000-neuron COBA network)"),
)

DIAGNOSTIC_FIELDS = (
    Field("population", "custom", validator=_population, type_text="string", doc="the population observed"),
    Field("variable", "string", default=None, doc="its observable",
          default_text="the diagnostic's own (theta for order_parameter, x for cross_correlation)"),
)


def read_record(table, *, observables, models, steps: int) -> dict:
    """The ``[record]`` table: ``variables`` (a tuple), ``every``, ``transient``, ``spikes``
    (``{"population.variable": threshold}``, threshold ``None`` for the models' spike events,
    which are always recorded), ``neurons`` (``{population: node indices}``) and ``rates`` (a
    tuple of populations, each with spikes)."""
    rec = read_fields("record", check_table("record", table), RECORD_FIELDS,
                      context={"observables": tuple(observables), "models": models})
    if rec["transient"] >= steps:
        raise SpecError(f"record.transient: must be smaller than steps ({steps}), got {rec['transient']}")
    rec["variables"] = tuple(rec["variables"] if rec["variables"] is not None else observables)
    recorded = steps - rec["transient"]
    if rec["variables"] and rec["every"] > recorded:
        raise SpecError(f"record.every: {rec['every']:,} steps is more than the {recorded:,} steps recorded "
                        f"(steps - transient), so no sample would be written; lower it, or give "
                        f"record.variables = [] to record no variable")
    rec["spikes"] = rec["spikes"] or {}
    for pop, model in models.items():  # every declared spike event is recorded
        for event in getattr(model, "EVENTS", ()):
            rec["spikes"].setdefault(f"{pop}.{event}", None)
    sources = {}
    for name in rec["spikes"]:  # the file holds one spike list per population (SONATA /spikes/<pop>)
        pop = name.rpartition(".")[0]
        if pop in sources:
            raise SpecError(f"record.spikes: population {pop!r} records its spike events {name!r}; it cannot also "
                            f"have spikes from {sources[pop]!r} (a population has one list of spikes)")
        sources[pop] = name
    rec["neurons"] = rec["neurons"] or {}
    rec["rates"] = tuple(rec["rates"] or ())
    for pop in rec["rates"]:
        if pop not in sources:
            raise SpecError(f"record.rates: population {pop!r} has no spikes (its model has no spike event; give "
                            f"it a [record.spikes] table with a threshold)")
    if rec["rates"] and not recorded // rec["every"]:
        raise SpecError(f"record.every: {rec['every']:,} steps is more than the {recorded:,} steps recorded, so no "
                        f"population rate would be written")
    return rec


def read_diagnostics(table, *, models, variables, shapes=None) -> dict:
    """``{name: recorded observable}`` of the ``[diagnostics.<name>]`` tables; each needs its
    observable in ``record.variables``, with one value per node (``shapes``: observable ->
    shape of one sample, when known)."""
    from ..diagnostics.streaming import STREAMS

    out = {}
    for name, d in check_table("diagnostics", table).items():
        path = f"diagnostics.{name}"
        if name not in STREAMS:
            raise unknown_name("diagnostics", "diagnostic", name, STREAMS)
        f = read_fields(path, d, DIAGNOSTIC_FIELDS, context={"models": models})
        observable = f"{f['population']}.{f['variable'] or STREAMS[name][1]}"
        if observable not in variables:
            raise SpecError(f"{path}: needs {observable!r} in record.variables")
        if shapes is not None and len(shapes[observable]) != 1:
            raise SpecError(f"{path}.variable: {observable!r} is not one value per node (shape "
                            f"{shapes[observable]}); {name} reads a variable of every node, like "
                            f"{STREAMS[name][1]!r}")
        out[name] = observable
    return out
