"""Compiled CPU kernels that XLA calls directly: numba C functions behind XLA's typed FFI.

A kernel is a ``numba.cfunc`` taking XLA's ``XLA_FFI_CallFrame*``; it reads its operands from the
call frame itself (the numba readers of :mod:`neurodyn.ops._frame`), so no Python runs when a compiled loop calls it (the
cost of a call is that of a C function call). :func:`register_handler` answers XLA's metadata
handshake (the FFI API version) and registers the handler under a target name for
``jax.ffi.ffi_call``. Used through :class:`neurodyn.ops.kernel.NativeKernel` by the event
kernel (``neurodyn.ops.event``), the fused LIF step (``neurodyn.ops.lif``) and the BLAS products
(``neurodyn.ops.gram``).

Field offsets (8-byte words) of XLA's FFI C structs (jaxlib include/xla/ffi/api/c_api.h, API
0.x): XLA_FFI_CallFrame {struct_size, extension_start, api, ctx, stage, args {struct_size,
extension_start, size, types, args}, rets {..., rets}, ...}; XLA_FFI_Buffer {struct_size,
extension_start, dtype, data, rank, dims}; XLA_FFI_Extension_Base {struct_size, type, next};
XLA_FFI_Metadata_Extension {base, metadata}; XLA_FFI_Metadata {struct_size, api_version
{struct_size, extension_start, major, minor}, traits, ...} (int32 words 6, 7, 8).
"""

from __future__ import annotations

import functools

FRAME_EXTENSION, FRAME_ARGS, FRAME_RETS = 1, 9, 14
BUFFER_DTYPE, BUFFER_DATA, BUFFER_RANK, BUFFER_DIMS = 2, 3, 4, 5
XLA_F32, XLA_F64 = 11, 12  # XLA_FFI_DataType


@functools.cache
def api_version() -> tuple:
    """``(major, minor)`` of the XLA FFI API of the installed jaxlib (its ``c_api.h``), which a
    handler reports in XLA's metadata handshake; ``(0, 1)`` if the header is absent."""
    import os
    import re

    import jaxlib

    header = os.path.join(os.path.dirname(jaxlib.__file__), "include", "xla", "ffi", "api", "c_api.h")
    try:
        with open(header) as fh:
            text = fh.read()
        return (int(re.search(r"#define\s+XLA_FFI_API_MAJOR\s+(\d+)", text).group(1)),
                int(re.search(r"#define\s+XLA_FFI_API_MINOR\s+(\d+)", text).group(1)))
    except (OSError, AttributeError):
        return 0, 1


_HANDLERS: list = []  # XLA holds the handlers' addresses for the life of the process


def register_handler(name: str, handler) -> str:
    """Register the ``numba.cfunc`` ``handler`` as the CPU FFI target ``name``; returns ``name``."""
    import jax

    jax.ffi.register_ffi_target(name, jax.ffi.pycapsule(handler.address), platform="cpu")
    _HANDLERS.append(handler)
    return name

