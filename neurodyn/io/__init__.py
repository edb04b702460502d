"""HDF5 input/output (SONATA reports and spikes, /neurodyn metadata), saving runs from Python,
the export to standard SONATA report files, and trained reservoirs + readouts."""

from .hdf5 import RunWriter, describe, load, open_for_reading
from .save import save, spec_writer, write_run
from .sonata import export_sonata
from .trained import load_trained, save_trained

__all__ = ["RunWriter", "load", "describe", "open_for_reading", "save", "spec_writer", "write_run", "export_sonata",
           "save_trained", "load_trained"]
