"""The one path from a spec dict to a ready-to-run :class:`RunSpec`.

Every table is read against declared fields (:mod:`neurodyn.schema`): the run fields at the top
level, each ``[populations.<name>]`` through the model registry, each ``[couplings.<name>]``
through the projection registry (graphs through the graph registry inside them), the ``init``
tables through the distribution registry, then ``[record]`` and ``[diagnostics]``. No model has
a branch of its own here.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from ..core.simulate import MAX_STEPS
from ..errors import ResourceError, SpecError
from ..precision import PRECISIONS, check_representable, x64_enabled
from ..models import MODELS, PROJECTIONS  # the registries, filled by importing the models
from ..models.timescales import check_time_step
from ..resources import check_disk, check_memory
from ..schema import Field, check_table, read_fields
from ..signals import stop_point
from ..core.monitors import neuron_subsets, node_indices
from .initial import initial_values
from .record import read_diagnostics, read_record


def _stem(path, value, **context) -> str:
    if not value or any(c in value for c in "/\\") or not value.isprintable():
        raise SpecError(f"{path}: must be a plain file-name stem, got {value!r}")
    return value


def _output(path, value, **context) -> str:
    if not value or "\0" in value:
        raise SpecError(f"{path}: must be a file path, got {value!r}")
    return value


def _order(path, value, **context) -> list:
    if not isinstance(value, list) or not value or not all(isinstance(v, str) for v in value):
        raise SpecError(f"{path}: expected a list of population names, got {value!r}")
    return value


PRECISION = Field("precision", "choice", default="float32", choices=PRECISIONS,
                  doc="floating-point precision (float64 needs neurodyn.set_precision('float64') in Python)")
RUN_FIELDS = (
    Field("name", "string", default="run", validator=_stem, doc="name of the run (and of its default output file)",
          default_text="the spec file's name"),
    Field("steps", "integer", minimum=1, maximum=MAX_STEPS, doc="number of steps (the step counter is 32-bit)"),
    Field("dt", default=1.0, minimum=0.0, exclusive_minimum=True, unit="time unit of the models",
          doc="time per step (maps: 1 iteration)"),
    Field("seed", "integer", default=0, minimum=0, maximum=2**32 - 1,
          doc="seed of every random draw of the run (32-bit: JAX's keys hold 32 bits of it in float32)"),
    PRECISION,
    Field("output", "string", default=None, validator=_output, doc="HDF5 output path",
          default_text='"hdf5_outputs/<name>.h5"'),
    Field("chunk", "integer", default=None, minimum=1, maximum=MAX_STEPS, unit="steps", doc="steps per compiled call",
          default_text="automatic"),
    Field("order", "custom", default=None, validator=_order, type_text="list of strings",
          doc="update the populations one after the other in this order within a step, each reading the "
              "already updated state of those before it (deep reservoirs); every population once",
          default_text="none (all in parallel)"),
)
SECTIONS = ("populations", "couplings", "record", "diagnostics", "task")
BUILDING = "while the spec was built"  # a signal in neurodyn run's build stops at the next population or coupling


MAX_NODES = 2**31 - 1  # node indices are 32-bit


def _init_table(path, value, **context) -> dict:
    return check_table(path, value)  # its variables are checked against the built model


POPULATION_FIELDS = (
    Field("n", "integer", default=1, minimum=1, maximum=MAX_NODES, doc="number of neurons (oscillators, units)"),
    Field("init", "custom", default=None, validator=_init_table, type_text="table",
          doc="initial values: init.<variable> = a number, n numbers or { dist = ... } (see distributions.md)",
          default_text="the model's own initial state"),
)


@dataclass(kw_only=True)
class RunSpec:
    """A validated spec, plain data built by keyword: the model, its initial state and how to
    run and record it.

    The run layer runs it: :func:`neurodyn.runs.simulate_spec` in memory,
    :func:`neurodyn.runs.run_spec` into its file, as ``neurodyn run`` does -- the same numbers,
    bit for bit, in the precision JAX computes in (a float64 spec needs
    :func:`neurodyn.set_precision` first, see :func:`build_spec`).
    """

    name: str
    steps: int
    dt: float
    seed: int
    precision: str
    model: Any
    state: Any
    record: tuple[str, ...]
    every: int
    transient: int
    spikes: dict[str, float]
    output: Path
    chunk: int | None
    text: str
    data: dict = field(repr=False, default_factory=dict)
    units: dict[str, str] = field(default_factory=dict)
    time_unit: str = "ms"
    diagnostics: dict[str, str] = field(default_factory=dict)  # name -> recorded observable
    overrides: tuple[str, ...] = ()  # the --set assignments applied to the file, for the record
    task: Any = None  # the [task] table (neurodyn.spec.task.Task), if any
    spiking_statistics: bool = True  # record.spiking_statistics: stream the spiking monitor's statistics
    neurons: dict = field(default_factory=dict)  # record.neurons: population -> the node indices recorded
    rates: tuple[str, ...] = ()  # record.rates: populations whose population rate is recorded

    def simulate(self, **options):
        """The run in memory, as ``neurodyn run`` computes it (bit for bit): a thin caller of
        :func:`neurodyn.runs.simulate_spec`; ``options`` go there (``observers``, ``progress``, ...)."""
        from ..runs import simulate_spec  # the run layer above spec: the one allowed exception (tests/test_layers.py)

        return simulate_spec(self, **options)

    def run(self, out=None, **options):
        """The run into its HDF5 file (default :attr:`output`), as ``neurodyn run`` writes it: a
        thin caller of :func:`neurodyn.runs.run_spec`, which returns the :class:`~neurodyn.runs.RunResult`."""
        from ..runs import run_spec  # the run layer above spec: the one allowed exception (tests/test_layers.py)

        return run_spec(self, out, **options)


def _check_population_memory(path: str, table, dtype) -> None:
    """Refuse a population too large for the memory limit (:mod:`neurodyn.resources`) before
    any of its arrays exists: a lower bound of one array of n values per state variable and per
    field, plus two for the initial state being drawn."""
    table = check_table(path, table)
    n = POPULATION_FIELDS[0].validate(f"{path}.n", table.get("n", 1))
    name = table.get("model")
    entry = MODELS[name] if isinstance(name, str) and name in MODELS else None
    if entry is None:
        return  # reading the table names the problem
    arrays = len(getattr(entry.cls, "VARIABLES", ())) + len(entry.fields) + 2
    check_memory(f"{path} (n = {n:,}, {entry.name})", n * arrays * np.dtype(dtype).itemsize)


def _check_recorded_size(data: dict, run: dict, output: Path, populations: dict, dtype) -> None:
    """Refuse an output larger than the free disk (:mod:`neurodyn.resources`) before anything is
    built, counting only the recorded state variables (n values each); values that are not valid
    here are left for their own checks to name."""
    integer = lambda v: isinstance(v, int) and not isinstance(v, bool)
    rec = data.get("record", {})
    if not isinstance(rec, dict):
        return
    every, transient, variables = rec.get("every", 1), rec.get("transient", 0), rec.get("variables")
    chosen = rec.get("neurons") if isinstance(rec.get("neurons"), dict) else {}
    if not (integer(every) and every >= 1 and integer(transient) and 0 <= transient < run["steps"]):
        return
    values = 0
    for pname, table in populations.items():
        name, n = (table.get("model"), table.get("n", 1)) if isinstance(table, dict) else (None, None)
        if isinstance(name, str) and name in MODELS and integer(n) and 1 <= n <= MAX_NODES:
            if pname in chosen:  # a subset: its size, when it reads
                try:
                    n = len(node_indices(f"record.neurons.{pname}", chosen[pname], n))
                except SpecError:
                    pass
            values += n * sum(1 for var in getattr(MODELS[name].cls, "VARIABLES", ())
                              if not isinstance(variables, list) or f"{pname}.{var}" in variables)
    records = (run["steps"] - transient) // every
    check_disk(output, records * values * np.dtype(dtype).itemsize,
               f"{records:,} samples of the {values:,} recorded state variables alone, before compression")


def requested_precision(data: dict) -> str:
    """The spec's ``precision`` (validated), so an entry point can switch precision before building."""
    return PRECISION.validate("precision", data["precision"]) if "precision" in data else PRECISION.default


def _spec_keys(seed: int, populations: int):
    """The run's key ``PRNGKey(seed)`` and population ``i``'s key for its ``init`` table,
    ``fold_in(fold_in(key, 1), i)`` (computed on the host: :mod:`neurodyn.core.keys`)."""
    from ..core import keys

    key = keys.seed_key(seed)
    init_key = keys.fold_in(key, 1)
    return key, tuple(keys.fold_in(init_key, i) for i in range(populations))


def build_spec(data: dict, text: str = "", overrides=()) -> RunSpec:
    """Validate a spec dict and build the model, its initial state and the run settings.

    ``text`` is the spec as stored in the output file, ``overrides`` the ``--set`` assignments
    already applied to ``data`` (kept for the record). A float64 spec needs JAX's 64-bit mode
    on (:func:`neurodyn.set_precision`); this function never switches it.
    """
    import jax

    from ..core.network import Network

    run = read_fields("", data, RUN_FIELDS, allowed=SECTIONS)
    if run["precision"] == "float64" and not x64_enabled():
        raise SpecError("precision: the spec asks for float64 but JAX computes in float32; call "
                        "neurodyn.set_precision('float64') first (the neurodyn command line does)")
    dtype = np.float64 if run["precision"] == "float64" else np.float32
    check_representable(data, run["precision"])  # before a cast to float32 overflows (a NumPy warning, then inf)
    seed, steps = run["seed"], run["steps"]
    if not math.isfinite(steps * run["dt"]):
        raise SpecError(f"dt: {steps:,} steps of {run['dt']:g} is not a finite time; give a smaller dt")

    pops_data = check_table("populations", data.get("populations", {}))
    output = Path(run["output"] if run["output"] is not None else f"hdf5_outputs/{run['name']}.h5")
    _check_recorded_size(data, run, output, pops_data, dtype)
    if not pops_data:
        raise SpecError("populations: the spec defines no population (add a [populations.<name>] table)")
    context = {"dt": run["dt"], "dtype": dtype, "spec_seed": seed}
    populations, sizes, inits = {}, {}, {}
    for pname, table in pops_data.items():
        path = f"populations.{pname}"
        if "." in pname:
            raise SpecError(f"{path}: a population name cannot contain '.'")
        _check_population_memory(path, table, dtype)
        entry, values = MODELS.read(path, table, before=POPULATION_FIELDS, context=context)
        inits[pname] = values.pop("init") or {}
        populations[pname] = entry.build(path, values, context)
        sizes[pname] = values["n"]
        stop_point(BUILDING)
    check_time_step(run["dt"], populations)

    projections = {}
    for name, table in check_table("couplings", data.get("couplings", {})).items():
        try:
            projections[name] = PROJECTIONS.build(f"couplings.{name}", table,
                                                  context={"models": populations, "dtype": dtype})
        except ResourceError as e:  # its synapses or delay buffer would not fit: name the table
            raise ResourceError(f"couplings.{name}: {e}") from None
        stop_point(BUILDING)
    if run["order"] is not None and sorted(run["order"]) != sorted(populations):
        raise SpecError(f"order: must name every population once ({', '.join(populations)}), got {run['order']}")
    model = Network(populations, projections, order=tuple(run["order"]) if run["order"] is not None else None)

    key, init_keys = _spec_keys(seed, len(populations))
    state = model.init(key)
    stop_point(BUILDING)
    for i, pname in enumerate(sorted(populations)):
        values = initial_values(f"populations.{pname}.init", inits[pname],
                                populations[pname].VARIABLES, sizes[pname], init_keys[i], dtype)
        if values:
            state = state.replace_population(pname, state[pname]._replace(**values))

    observables = jax.eval_shape(model.observe, state)  # names and shapes, nothing computed
    rec = read_record(data.get("record", {}), observables=tuple(observables), models=populations, steps=steps)
    try:  # a subset selects observables of one value per node
        neuron_subsets(rec["neurons"], observables, (*rec["variables"], *rec["spikes"]))
    except SpecError as err:
        raise SpecError(f"record.{err}") from None
    diagnostics = read_diagnostics(data.get("diagnostics", {}), models=populations, variables=rec["variables"],
                                   shapes={name: np.shape(value) for name, value in observables.items()})
    task = None
    if "task" in data:
        from .task import read_task

        task = read_task(data["task"], steps=steps, spec_seed=seed, populations=populations, observables=observables)
    units = {f"{p}.{v}": u for p, m in populations.items() for v, u in m.units.items()}
    time_units = {getattr(m, "time_unit", "ms") for m in populations.values()}
    return RunSpec(name=run["name"], steps=steps, dt=run["dt"], seed=seed, precision=run["precision"], model=model,
                   state=state, record=rec["variables"], every=rec["every"], transient=rec["transient"],
                   spikes=rec["spikes"], output=output, chunk=run["chunk"], text=text, data=data, units=units,
                   time_unit=time_units.pop() if len(time_units) == 1 else "ms", diagnostics=diagnostics,
                   overrides=tuple(overrides), task=task, spiking_statistics=rec["spiking_statistics"],
                   neurons=rec["neurons"], rates=rec["rates"])
