"""The one path from a spec dict to a ready-to-run :class:`RunSpec`.

Every table is read against declared fields (:mod:`neurodyn.schema`): the run fields at the top
level, each ``[populations.<name>]`` through the model registry, each ``[couplings.<name>]``
through the projection registry (graphs through the graph registry inside them), the ``init``
tables through the distribution registry, then ``[record]`` and ``[diagnostics]``. No model has
a branch of its own here.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from ..errors import SpecError
from ..precision import PRECISIONS, x64_enabled
from ..models import MODELS, PROJECTIONS  # the registries, filled by importing the models
from ..schema import Field, check_table, read_fields
from .initial import initial_values
from .record import read_diagnostics, read_record


def _stem(path, value, **context) -> str:
    if not value or any(c in value for c in "/\\"):
        raise SpecError(f"{path}: must be a plain file-name stem, got {value!r}")
    return value


PRECISION = Field("precision", "choice", default="float32", choices=PRECISIONS,
                  doc="floating-point precision (float64 needs neurodyn.set_precision('float64') in Python)")
RUN_FIELDS = (
    Field("name", "string", default="run", validator=_stem, doc="name of the run (and of its default output file)",
          default_text="the spec file's name"),
    Field("steps", "integer", minimum=1, doc="number of steps"),
    Field("dt", default=1.0, minimum=0.0, exclusive_minimum=True, unit="time unit of the models",
          doc="time per step (maps: 1 iteration)"),
    Field("seed", "integer", default=0, minimum=0, doc="seed of every random draw of the run"),
    PRECISION,
    Field("output", "string", default=None, doc="HDF5 output path", default_text='"hdf5_outputs/<name>.h5"'),
    Field("chunk", "integer", default=None, minimum=1, unit="steps", doc="steps per compiled call",
          default_text="automatic"),
)
SECTIONS = ("populations", "couplings", "record", "diagnostics")


def _init_table(path, value, **context) -> dict:
    return check_table(path, value)  # its variables are checked against the built model


POPULATION_FIELDS = (
    Field("n", "integer", default=1, minimum=1, doc="number of neurons (oscillators, units)"),
    Field("init", "custom", default=None, validator=_init_table, type_text="table",
          doc="initial values: init.<variable> = a number, n numbers or { dist = ... } (see distributions.md)",
          default_text="the model's own initial state"),
)


@dataclass
class RunSpec:
    """A validated spec: the model, its initial state and how to run and record it."""

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


def requested_precision(data: dict) -> str:
    """The spec's ``precision`` (validated), so an entry point can switch precision before building."""
    return PRECISION.validate("precision", data["precision"]) if "precision" in data else PRECISION.default


def build_spec(data: dict, text: str = "") -> RunSpec:
    """Validate a spec dict and build the model, its initial state and the run settings.

    ``text`` is the spec as stored in the output file. A float64 spec needs JAX's 64-bit mode
    on (:func:`neurodyn.set_precision`); this function never switches it.
    """
    import jax

    from ..core.network import Network

    run = read_fields("", data, RUN_FIELDS, allowed=SECTIONS)
    if run["precision"] == "float64" and not x64_enabled():
        raise SpecError("precision: the spec asks for float64 but JAX computes in float32; call "
                        "neurodyn.set_precision('float64') first (the neurodyn command line does)")
    dtype = np.float64 if run["precision"] == "float64" else np.float32
    seed, steps = run["seed"], run["steps"]

    pops_data = check_table("populations", data.get("populations", {}))
    if not pops_data:
        raise SpecError("populations: the spec defines no population (add a [populations.<name>] table)")
    context = {"dt": run["dt"], "dtype": dtype, "spec_seed": seed}
    populations, sizes, inits = {}, {}, {}
    for pname, table in pops_data.items():
        path = f"populations.{pname}"
        if "." in pname:
            raise SpecError(f"{path}: a population name cannot contain '.'")
        entry, values = MODELS.read(path, table, before=POPULATION_FIELDS, context=context)
        inits[pname] = values.pop("init") or {}
        populations[pname] = entry.build(path, values, context)
        sizes[pname] = values["n"]

    projections = {name: PROJECTIONS.build(f"couplings.{name}", table, context={"models": populations, "dtype": dtype})
                   for name, table in check_table("couplings", data.get("couplings", {})).items()}
    model = Network(populations, projections)

    key = jax.random.PRNGKey(seed)
    state = model.init(key)
    init_key = jax.random.fold_in(key, 1)
    for i, pname in enumerate(sorted(populations)):
        values = initial_values(f"populations.{pname}.init", inits[pname],
                                populations[pname].VARIABLES, sizes[pname], jax.random.fold_in(init_key, i), dtype)
        if values:
            state = state.replace_population(pname, state[pname]._replace(**values))

    rec = read_record(data.get("record", {}), observables=tuple(model.observe(state)), models=populations, steps=steps)
    diagnostics = read_diagnostics(data.get("diagnostics", {}), models=populations, variables=rec["variables"])
    output = Path(run["output"] if run["output"] is not None else f"hdf5_outputs/{run['name']}.h5")
    units = {f"{p}.{v}": u for p, m in populations.items() for v, u in m.units.items()}
    time_units = {getattr(m, "time_unit", "ms") for m in populations.values()}
    return RunSpec(run["name"], steps, run["dt"], seed, run["precision"], model, state, rec["variables"],
                   rec["every"], rec["transient"], rec["spikes"], output, run["chunk"], text, data, units,
                   time_units.pop() if len(time_units) == 1 else "ms", diagnostics)
