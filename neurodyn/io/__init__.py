"""HDF5 input/output (SONATA reports and spikes, /neurodyn metadata)."""

from .hdf5 import RunWriter, describe, load, open_for_reading

__all__ = ["RunWriter", "load", "describe", "open_for_reading"]
