"""Model specs: TOML files validated into ready-to-run objects, with clear errors.

A spec names populations (a model from the registry, its size, parameters and initial
conditions), couplings (a kind from the registry, the populations and variable it acts on, a
graph from the graph registry), the run (steps, dt, seed, precision, chunk), what to record and
the output path. Nothing in a spec is evaluated as code: every name is looked up in a registry
of :mod:`neurodyn.schema`, every value is checked against its declared field. The dotted paths
of the TOML tables (``couplings.star.strength``) are the names used by ``--set`` and by sweeps;
:func:`model_path` maps them to the built model. The field reference is generated into
``docs/spec`` by ``python -m neurodyn.spec.reference docs/spec``.

Modules: :mod:`.paths` (dotted paths, overrides), :mod:`.toml_io` (reading and writing TOML),
:mod:`.build` (the spec -> RunSpec path), :mod:`.initial` (initial values), :mod:`.record`
(recording and diagnostics tables), :mod:`.task` (the ``[task]`` table: datasets, split,
readout, scores), :mod:`.sweep` (a spec as a sweep target), :mod:`.load` (a file with its
command-line changes), :mod:`.reference` (the docs generator).
"""

from .build import RunSpec, build_spec, requested_precision
from .load import load_spec, read_spec
from .paths import apply_override, get_path, model_path, parse_value, set_path
from .toml_io import dump_spec, read_spec_file
from . import sweep as _sweep  # noqa: F401  (registers specs as sweep targets)

__all__ = ["RunSpec", "load_spec", "read_spec", "build_spec", "requested_precision", "read_spec_file", "dump_spec",
           "apply_override", "parse_value", "set_path", "get_path", "model_path"]
