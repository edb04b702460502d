"""Reading spec files (with one-line errors for files that are not UTF-8 TOML), reading the spec
stored in a run file, and writing the effective spec back as TOML."""

from __future__ import annotations

import codecs
import tomllib
from pathlib import Path

import tomli_w

from ..errors import SpecError

_UTF16_BOMS = (codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)


def read_spec_file(path) -> tuple[dict, str]:
    """Read a TOML spec file: (parsed dict, original text)."""
    path = Path(path)
    if not path.is_file():
        raise SpecError(f"spec file not found: {path}")
    try:
        raw = path.read_bytes()
    except OSError as e:
        raise SpecError(f"{path}: cannot read the spec file: {e.strerror}") from None
    if raw.startswith(_UTF16_BOMS):
        raise SpecError(f"{path}: the file is UTF-16 (or UTF-32) text; a spec is TOML in UTF-8 (save it as UTF-8)")
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as e:
        raise SpecError(f"{path}: not a UTF-8 text file (byte 0x{raw[e.start]:02x} at offset {e.start}); "
                        f"a spec is TOML text in UTF-8") from None
    try:
        return tomllib.loads(text), text
    except tomllib.TOMLDecodeError as e:
        raise SpecError(f"{path}: invalid TOML: {e}") from None


def read_stored_spec(path) -> tuple[dict, str, str | None]:
    """The spec stored in a run file of ``neurodyn run`` (the ``/neurodyn`` attribute ``spec``):
    (parsed dict, its text, the run's name or ``None``)."""
    import h5py

    try:
        with h5py.File(path, "r") as f:
            attrs = dict(f["neurodyn"].attrs) if "neurodyn" in f else {}
    except OSError as e:
        raise SpecError(f"{path}: cannot read the HDF5 file ({e})") from None
    text, name = (v.decode() if isinstance(v, bytes) else v for v in (attrs.get("spec"), attrs.get("name")))
    if not isinstance(text, str):
        raise SpecError(f"{path}: holds no stored spec (the /neurodyn attribute 'spec' of a file written by "
                        f"neurodyn run)")
    try:
        return tomllib.loads(text), text, None if name is None else str(name)
    except tomllib.TOMLDecodeError as e:
        raise SpecError(f"{path}: the stored spec is not valid TOML: {e}") from None


def dump_spec(data: dict) -> str:
    """The spec dict as TOML text (``tomllib.loads(dump_spec(d)) == d``)."""
    try:
        return tomli_w.dumps(data)
    except TypeError as e:
        raise SpecError(f"cannot write the spec as TOML: {e}") from None
