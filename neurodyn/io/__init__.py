"""HDF5 files: the run file (SONATA reports and spikes, /neurodyn metadata) written chunk by
chunk, reading it, the export to standard SONATA report files, trained reservoirs + readouts,
the listing of any file neurodyn writes (:mod:`neurodyn.io.inspect`), NIR export/import of
spiking networks (:mod:`neurodyn.io.nir`, :mod:`neurodyn.io.nir_network`; imports the optional
``nir`` package at first call), SONATA circuits in (:mod:`neurodyn.io.sonata_circuit`) and
a run's spikes to NWB (:mod:`neurodyn.io.nwb`; the optional ``pynwb``).
Running a spec or saving a trajectory into a run file is the run layer's (:mod:`neurodyn.runs`).

The names are imported at first use (PEP 562), so reading or describing a file
(``neurodyn info``) needs only h5py and NumPy; saving a run or a trained readout imports JAX.
"""

from __future__ import annotations

import importlib
import sys
import types
from typing import TYPE_CHECKING, Any

_LAZY = {"RunWriter": "hdf5", "load": "hdf5", "open_for_reading": "hdf5", "describe": "inspect",
         "inspect_file": "inspect", "export_sonata": "sonata", "save_trained": "trained", "load_trained": "trained",
         "to_nir": "nir", "write_nir": "nir", "from_nir": "nir", "read_nir": "nir",
         "network_to_nir": "nir_network", "network_from_nir": "nir_network", "read_circuit": "sonata_circuit",
         "export_nwb": "nwb"}

__all__ = ["RunWriter", "load", "save", "describe", "inspect_file", "open_for_reading", "export_sonata", "save_trained", "load_trained", "to_nir", "write_nir", "from_nir", "read_nir", "network_to_nir", "network_from_nir", "read_circuit", "export_nwb"]

if TYPE_CHECKING:
    from .hdf5 import RunWriter, load, open_for_reading
    from .inspect import describe, inspect_file
    from .sonata import export_sonata
    from .trained import load_trained, save_trained
    from .nir import from_nir, read_nir, to_nir, write_nir
    from .nir_network import network_from_nir, network_to_nir
    from .nwb import export_nwb
    from .sonata_circuit import read_circuit


def __getattr__(name: str) -> Any:
    if name not in _LAZY:
        raise AttributeError(f"module 'neurodyn.io' has no attribute {name!r}")
    value = getattr(importlib.import_module(f".{_LAZY[name]}", __name__), name)
    globals()[name] = value
    return value


def save(trajectory, path, **options):
    """Write a trajectory to ``path`` in the layout of ``neurodyn run``: the earlier home of
    :func:`neurodyn.runs.save`, kept so that scripts calling ``neurodyn.io.save`` keep working
    (``spec=``, ``meta=`` as there)."""
    from ..runs import save as save_run  # the run layer above io: a documented exception (tests/test_layers.py)

    return save_run(trajectory, path, **options)


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))


class _Package(types.ModuleType):
    """Importing a submodule binds it as an attribute of its package; where a public name is also
    the name of a submodule (``save``), the public name keeps its object."""

    def __setattr__(self, name: str, value) -> None:
        if isinstance(value, types.ModuleType) and _LAZY.get(name) not in (None, name):
            value = __getattr__(name)
        elif isinstance(value, types.ModuleType) and _LAZY.get(name) == name:
            value = getattr(value, name)
        super().__setattr__(name, value)


sys.modules[__name__].__class__ = _Package
