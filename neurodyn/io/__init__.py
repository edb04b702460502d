"""HDF5 input/output (SONATA reports and spikes, /neurodyn metadata)."""

from .hdf5 import RunWriter, describe, load

__all__ = ["RunWriter", "load", "describe"]
