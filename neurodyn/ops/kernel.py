"""One abstraction for the native CPU kernels: :class:`NativeKernel`.

A native kernel is a C function compiled by numba (``numba.cfunc``) that XLA calls through its
typed FFI (``jax.ffi.ffi_call``; the call-frame readers are :mod:`neurodyn.ops._frame`, the FFI
structs :mod:`neurodyn.ops.ffi`), so no Python runs when a compiled loop calls it. Each kernel
is one ``NativeKernel`` object that declares

* ``name``: its FFI target (one target per *variant*: a hashable value naming what is compiled,
  e.g. the dtype and which operands are per neuron; ``variant(static, *operands)`` gives it,
  ``()`` by default, and the target is ``name`` plus the variant's ``str`` parts);
* ``handler(variant)``: the handler factory, returning the ``numba.cfunc`` of a variant. It
  lives with the kernel's numba loops in a private module ``ops/_<name>_kernel.py`` that is
  imported only here, on first use (numba is never imported by ``import neurodyn``);
* ``ffi(target, static, *operands)``: the call itself (``jax.ffi.ffi_call`` with the result
  shapes, aliases and any metadata array);
* ``reference(static, *operands)``: the same operation as a ``jax.numpy`` formula. It is what the
  self-check compares with and what gives the kernel's JVP (``jax.jvp`` of the formula; set
  ``differentiable=False`` for a kernel that is never differentiated);
* ``fallback(static, *operands)``: what runs where the native kernel cannot (another platform,
  no numba, a failed self-check, ``backend="jax"``); the reference formula unless given;
* ``check(variant) -> (static, operands)``: a small case for the self-check, run eagerly on the
  first use of each variant and compared with the reference (``tolerance``: ``{dtype name:
  (rtol, atol)}``, exact where a dtype is not listed; or a ``compare(got, want) -> problem``);
  a kernel that fails it warns once and its fallback serves;
* ``vmap(static, backend, axis_size, in_batched, *operands) -> (out, out_batched)``: the vmap
  rule (a ``jax.custom_batching.custom_vmap`` rule, e.g. fold the batch into the kernel's own
  loop); without one, under ``jax.vmap`` the fallback runs, batched by JAX;
* ``defaults``: the backend per platform when none is named (``{"cpu": "numba"}``: the native
  kernel on CPU, the ``jax.numpy`` formula on GPU / TPU), ``backends`` the names accepted, and
  ``others``: implementations of further backends by name (e.g. brainevent's).

Where the native kernels can serve at all (numba imports, the FFI layout, a writable numba
cache) is decided once for all of them in :mod:`neurodyn.ops.backends`.

Adding a kernel (say an elementwise ``y = a x + b`` on CPU), in two files::

    # ops/_axpb_kernel.py -- the numba side, imported on first use only
    import numba
    import numpy as np

    from . import _frame, ffi

    @numba.njit(cache=True)                       # the loop: cached on disk by numba
    def loop(a, x, b, y):
        for i in range(x.shape[0]):
            y[i] = a[0] * x[i] + b[0]

    def handler(variant):                          # variant: the dtype name
        real = np.dtype(variant[0]).type
        major, minor = ffi.api_version()

        @numba.cfunc(numba.types.int64(numba.types.voidptr))
        def run(frame_address):
            frame = _frame.frame_of(frame_address)
            if _frame.metadata_query(frame, major, minor):   # XLA's version query
                return 0
            args, rets = ffi.FRAME_ARGS, ffi.FRAME_RETS
            loop(_frame.array(frame, args, 0, real), _frame.array(frame, args, 1, real),
                 _frame.array(frame, args, 2, real), _frame.array(frame, rets, 0, real))
            return 0

        return run

    # ops/axpb.py -- the public function
    import jax
    import jax.numpy as jnp
    import numpy as np

    from .kernel import NativeKernel

    def _handler(variant):
        from . import _axpb_kernel
        return _axpb_kernel.handler(variant)

    AXPB = NativeKernel(
        "neurodyn_axpb", title="the numba a x + b kernel", handler=_handler,
        variant=lambda static, a, x, b: (np.dtype(x.dtype).name,),
        ffi=lambda target, static, a, x, b: jax.ffi.ffi_call(
            target, jax.ShapeDtypeStruct(x.shape, x.dtype))(a.reshape(1), x, b.reshape(1)),
        reference=lambda static, a, x, b: a * x + b,
        check=lambda variant: (None, (np.float32(2), np.arange(5, dtype=variant[0]), np.float32(1))),
        tolerance={"float32": (1e-6, 0.0)})

    def axpb(a, x, b, *, backend=None):
        return AXPB(None, a, x, b, backend=AXPB.backend(backend))

The call runs the native kernel on CPU (checked once against ``a * x + b``), the formula
elsewhere; ``jax.grad`` differentiates the formula; ``jax.vmap`` batches the formula (declare
``vmap=`` to keep the kernel under ``vmap``). Tests go in ``tests/ops/`` (the kernel against an
independent reference, its target in the compiled program, its vmap and grad).
"""

from __future__ import annotations

from typing import Any, Callable

import numpy as np

from . import backends, ffi


class NativeKernel:
    """A native CPU kernel with its ``jax.numpy`` formula, self-check, JVP, vmap rule and
    default backend per platform (module docstring). Call it as ``kernel(static, *operands,
    backend=...)`` with ``backend`` from :meth:`backend`; ``static`` is a hashable value
    (compile-time constants of the call) handed to every declared function."""

    def __init__(self, name: str, *, title: str, handler: Callable, ffi: Callable, reference: Callable,
                 check: Callable, fallback: Callable | None = None, fallback_title: str = "its jax.numpy formula",
                 variant: Callable | None = None, vmap: Callable | None = None, differentiable: bool = True,
                 tolerance: dict | None = None, compare: Callable | None = None, defaults: dict | None = None,
                 backends: tuple = (backends.JAX, backends.NUMBA), others: dict | None = None):
        self.name, self.title = name, title
        self.handler, self.ffi, self.reference = handler, ffi, reference
        self.fallback = fallback or reference
        self.fallback_title = fallback_title
        self.check, self.tolerance, self.compare = check, tolerance or {}, compare
        self.variant = variant or (lambda static, *operands: ())
        self.vmap = vmap
        self.differentiable = differentiable
        self.defaults = dict(defaults if defaults is not None else {"cpu": "numba"})
        self.backends = tuple(backends)
        self.others = dict(others or {})
        self._targets: dict = {}
        if differentiable:
            import jax

            self._with_jvp = jax.custom_jvp(self._primal, nondiff_argnums=(0, 1))
            self._with_jvp.defjvp(self._jvp)

    def __repr__(self) -> str:
        return f"NativeKernel({self.name!r})"

    # ---- backend and target --------------------------------------------------------------------
    def backend(self, requested: str | None = None, platform: str | None = None, what: str | None = None) -> str:
        """The backend to run: ``requested`` (checked against :attr:`backends`; ``what`` names
        the caller in the error) or :attr:`defaults` for ``platform``; "numba" only on CPU where
        native kernels can serve (:func:`neurodyn.ops.backends.resolve`)."""
        return backends.resolve(what or self.title, requested, self.backends, self.defaults, platform)

    def target_name(self, variant) -> str:
        parts = [str(p) if not isinstance(p, tuple) else "".join("1" if q else "0" for q in p) for p in variant]
        return "_".join([self.name, *parts])

    def target(self, variant=()) -> str | None:
        """The FFI target of ``variant``, registered and self-checked on first use (once per
        process), or None (the kernel cannot serve: warned once)."""
        if variant not in self._targets:
            self._targets[variant] = self._register(variant)
        return self._targets[variant]

    def targets(self) -> dict:
        """The variants tried so far in this process and their FFI targets (None: failed)."""
        return dict(self._targets)

    def serves(self, variant=()) -> bool:
        """Whether the native kernel of ``variant`` runs here (native kernels available and its
        self-check passed)."""
        return backends.native_available() and self.target(variant) is not None

    def _register(self, variant) -> str | None:
        import jax

        if not backends.native_available():
            return None
        name = self.target_name(variant)
        try:
            ffi.register_handler(name, self.handler(variant))
            with jax.ensure_compile_time_eval():  # eager, even when first used inside a trace
                problem = self._self_check(name, variant)
        except Exception as e:  # noqa: BLE001 - any failure means: do not use this kernel
            problem = f"{type(e).__name__}: {e}"
        if problem:
            backends.warn_once(f"neurodyn: {self.title} failed its self-check ({problem}); using "
                               f"{self.fallback_title}")
            return None
        return name

    def _self_check(self, target: str, variant) -> str:
        """'' if the kernel equals its reference formula on the case ``check(variant)``, else what
        differs."""
        import jax
        import jax.numpy as jnp

        static, operands = self.check(variant)
        operands = tuple(None if x is None else jnp.asarray(x) for x in operands)
        # the kernel and its formula in one compiled program: run op by op, the formula
        # compiled a program per operation (25-30 for the event kernel's, ~2 s on first use)
        got, want = jax.jit(lambda *ops: (self.ffi(target, static, *ops), self.reference(static, *ops)))(*operands)
        if self.compare is not None:
            return self.compare(got, want)
        names = getattr(want, "_fields", None)
        for i, (a, b) in enumerate(zip(jax.tree.leaves(got), jax.tree.leaves(want))):
            a, b = np.asarray(a), np.asarray(b)
            tol = self.tolerance.get(b.dtype.name)
            same = a.shape == b.shape and (np.allclose(a, b, rtol=tol[0], atol=tol[1]) if tol
                                           else np.array_equal(a, b))
            if not same:
                return f"{names[i] if names else f'result {i}'} differs from the formula"
        return ""

    # ---- the call ------------------------------------------------------------------------------
    def __call__(self, static, *operands, backend: str = backends.NUMBA):
        """The operation with ``backend``: under ``jax.jvp`` / ``jax.grad`` the tangent is that of
        :attr:`reference` (if :attr:`differentiable`), under ``jax.vmap`` the :attr:`vmap` rule
        (or the fallback, batched by JAX), else the native kernel (its fallback where it cannot
        serve), :attr:`fallback` for "jax", ``others[backend]`` for another backend."""
        if self.differentiable:
            return self._with_jvp(static, backend, *operands)
        return self.batched(static, *operands, backend=backend)

    def _primal(self, static, backend, *operands):
        return self.batched(static, *operands, backend=backend)

    def _jvp(self, static, backend, primals, tangents):
        import jax

        out = self._with_jvp(static, backend, *primals)
        _, tangent = jax.jvp(lambda *ops: self.reference(static, *ops), primals, tangents)
        return out, tangent

    def batched(self, static, *operands, backend: str = backends.NUMBA):
        """The call under the kernel's vmap policy, without the JVP rule (a vmap rule folding a
        batch into the kernel calls this again)."""
        from jax.custom_batching import custom_vmap

        implementation = self.implementation(backend)
        if backend == backends.JAX and self.vmap is None:  # the formula: JAX batches it
            return implementation(static, *operands)
        run = custom_vmap(lambda *ops: implementation(static, *ops))

        @run.def_vmap
        def _(axis_size, in_batched, *ops):
            if self.vmap is None:
                return _fallback_rule(self, static, axis_size, in_batched, *ops)
            return self.vmap(static, backend, axis_size, in_batched, *ops)

        return run(*operands)

    def implementation(self, backend: str) -> Callable:
        """``f(static, *operands)`` of ``backend``, unbatched: :meth:`native`, :attr:`fallback`
        or one of :attr:`others`."""
        if backend == backends.NUMBA:
            return self.native
        if backend == backends.JAX:
            return self.fallback
        return self.others[backend]

    def native(self, static, *operands) -> Any:
        """The native kernel's call (the fallback if the variant's kernel cannot serve)."""
        target = self.target(self.variant(static, *operands))
        if target is None:
            return self.fallback(static, *operands)
        return self.ffi(target, static, *operands)


def _fallback_rule(kernel: NativeKernel, static, axis_size, in_batched, *operands):
    """The vmap policy of a kernel without a rule: its fallback, batched by JAX."""
    import jax

    axes = [0 if b else None for b in in_batched]
    out = jax.vmap(lambda *ops: kernel.fallback(static, *ops), in_axes=axes, axis_size=axis_size)(*operands)
    return out, jax.tree.map(lambda _: True, out)
