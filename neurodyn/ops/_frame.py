"""Reading XLA's FFI call frame from numba, as module-level functions cached on disk.

The FFI handlers of the compiled kernels (:mod:`neurodyn.ops.event`, :mod:`neurodyn.ops.lif`)
call these instead of inlining their own copies: numba then compiles a handler in a fraction of
a second once these are in its cache, where inlined frame readers cost seconds of type inference
in every process. The struct offsets are those of :mod:`neurodyn.ops.ffi`. The FFI API version a
handler reports is passed in by the handler (compiled in the process, from the installed jaxlib's
header), so nothing here depends on the jaxlib version.
"""

from __future__ import annotations

import numba
import numpy as np
from numba import carray, types
from numba.core.extending import intrinsic

from .ffi import BUFFER_DATA, BUFFER_DIMS, BUFFER_DTYPE, BUFFER_RANK, FRAME_ARGS, FRAME_EXTENSION, FRAME_RETS

#: the call frame's type: 16 int64 words, as :func:`frame_of` returns them
FRAME = types.Array(types.int64, 1, "C")
#: ``(frame, which, i)``: the readers are compiled once for these (eagerly, then from the disk
#: cache) -- left to numba, they were compiled again for every literal ``which`` and ``i`` a
#: kernel passes (23 variants each, 0.3-0.5 s apiece, most of a cold kernel's compile time)
_FRAME_INDEX = (FRAME, types.int64, types.int64)
#: element types :func:`array` is compiled for
ARRAY_DTYPES = (types.float32, types.float64, types.uint8, types.int32, types.int64)


@intrinsic
def address(typingctx, value):
    """``int64 -> void*``."""

    def codegen(context, builder, signature, args):
        return builder.inttoptr(args[0], context.get_value_type(types.voidptr))

    return types.voidptr(types.int64), codegen


@numba.njit(cache=True)
def frame_of(frame_address):
    """The call frame as 16 int64 words."""
    return carray(frame_address, (16,), np.int64)


@numba.njit([_FRAME_INDEX], cache=True)
def header(frame, which, i):
    """XLA_FFI_Buffer of argument (``which = FRAME_ARGS``) or result (``FRAME_RETS``) ``i``, as
    6 int64 words."""
    return carray(address(carray(address(frame[which]), (i + 1,), np.int64)[i]), (6,), np.int64)


@numba.njit([_FRAME_INDEX], cache=True)
def dims(frame, which, i):
    """The dimensions of argument / result ``i``."""
    b = header(frame, which, i)
    return carray(address(b[BUFFER_DIMS]), (max(b[BUFFER_RANK], 1),), np.int64)[:b[BUFFER_RANK]]


@numba.njit([_FRAME_INDEX], cache=True)
def buffer(frame, which, i):
    """``(data address, element count, dtype code)`` of argument / result ``i``."""
    size = 1
    for d in dims(frame, which, i):
        size *= d
    b = header(frame, which, i)
    return b[BUFFER_DATA], size, b[BUFFER_DTYPE] & 0xFFFFFFFF


@numba.njit([_FRAME_INDEX], cache=True)
def metadata_query(frame, major, minor):
    """Whether this call is XLA's registration-time query for the API version; answers it
    (``major.minor``) if so: the handler must then return 0 at once."""
    extension = frame[FRAME_EXTENSION]
    while extension != 0:
        node = carray(address(extension), (4,), np.int64)
        if node[1] & 0xFFFFFFFF == 1:
            metadata = carray(address(node[3]), (10,), np.int32)
            metadata[6], metadata[7], metadata[8] = major, minor, 0
            return True
        extension = node[2]
    return False


@numba.njit([_FRAME_INDEX + (types.NumberClass(t),) for t in ARRAY_DTYPES], cache=True)
def array(frame, which, i, dtype):
    """Argument / result ``i`` as a flat array of ``dtype`` (a NumPy scalar type)."""
    data, size, _ = buffer(frame, which, i)
    return carray(address(data), (size,), dtype)
