"""The step of an equation model as one fused CPU kernel generated from its equations.

XLA compiles the JAX step of :func:`~.system.jax_step` into several elementwise passes per
population (its CPU fusions do not merge the several outputs), each reading the state again: for
the COBA cell of ``coba_ei_equations.toml`` that is about 50 % more time per step than the fused
kernel of the hand-written ``lif_coba`` (:mod:`neurodyn.ops.lif`). Here the parsed, checked
trees of the model (never its text) are rendered as the source of one per-neuron loop that
reads every state variable once and writes it once, in place, branch-free (selects) so that
numba vectorises it; :mod:`neurodyn.ops._equation_kernel` compiles it with numba (cached on disk,
keyed by a hash of the source) and XLA calls it through its FFI, as a
:class:`~neurodyn.ops.kernel.NativeKernel` (:data:`KERNEL`) whose reference formula is the JAX
step: ``jax.jvp`` / ``jax.grad`` differentiate the JAX step, ``jax.vmap`` folds the batch into
the neuron axis, the first use of each model, dtype and pattern of per-neuron operands is
checked against the JAX step, and other platforms run the JAX step.

What it covers (:func:`unsupported` says why not, and the JAX step then serves): a threshold,
reset statements, a refractory period (a duration or a condition), ``(unless refractory)``, every
variable stepped by exponential Euler or Euler (``method`` auto, ``exponential_euler`` or
``euler``; not RK4, not the noise of Euler–Maruyama), float32 or float64. By default (backend
None) it also leaves to the JAX step the models whose functions the loop would compute by a call
of the C library per number (:func:`library_calls`: ``log``, ``tanh``, ...; it pays for the
others: ``exp``, ``expm1`` and ``exprel`` are polynomials in the loop).

The loop repeats the JAX step operation for operation (the same order, constants folded as
Python folds them, ``x**n`` as ``jax.lax.integer_pow`` multiplies, ``a * b + c`` fused as XLA
fuses it), so both give the same numbers up to the functions computed by a different
implementation: ``exp`` is the polynomial of :mod:`neurodyn.ops._lif_kernel` (within 1.2 ulp,
as XLA's own, but not the same bits), ``expm1`` and ``exprel`` those of
:mod:`neurodyn.ops._equation_kernel` (within 2 and 3.2 ulp), ``log``, ``sin``, ... the C
library's. A model without them (Izhikevich, Euler) gives the JAX step's bits; the LIF, AdEx and
Traub–Miles cells differ in the last bits of ``v`` and fire the same spikes over hundreds of ms
(tests/models/test_equations_native.py).
"""

from __future__ import annotations

import functools
import hashlib
import math

import jax
import jax.numpy as jnp
import numpy as np

from ...ops.kernel import NativeKernel
from . import parse as P
from .system import System, _constant, depends, jax_step, neg
from .units import unit_value

_MATH = {"expm1": "expm1", "log": "math.log", "log1p": "math.log1p", "log10": "math.log10", "sqrt": "math.sqrt",
         "sin": "math.sin", "cos": "math.cos", "tan": "math.tan", "tanh": "math.tanh", "sinh": "math.sinh",
         "cosh": "math.cosh", "arctan": "math.atan", "exp": "exp_of", "exprel": "exprel", "abs": "abs",
         "sign": "sign", "sigmoid": "sigmoid", "clip": "clip", "minimum": "minimum", "maximum": "maximum"}
#: functions the loop computes by a call of the C library per number (numba's ``math``), which
#: stops the loop's vectorisation: 3,200 cells with one tanh take 43 us per step in the kernel,
#: 8.7 us in the JAX step (XLA's vectorised tanh); exp, expm1 and exprel are polynomials in the loop
LIBRARY_CALLS = ("log", "log1p", "log10", "sin", "cos", "tan", "tanh", "sinh", "cosh", "arctan")
_ARITHMETIC = {"+": lambda a, b: a + b, "-": lambda a, b: a - b, "*": lambda a, b: a * b, "/": lambda a, b: a / b}


def unsupported(system: System) -> str:
    """``''`` when the kernel can step ``system``, else why not (the module docstring)."""
    if system.threshold is None:
        return "no threshold"
    if system.stochastic:
        return "a noise term"
    if any(s[0] not in ("exp", "euler") for s in system.schemes):
        return f"method {system.method}"
    return ""


@functools.lru_cache(maxsize=None)
def library_calls(system: System) -> tuple:
    """The functions of ``system`` that the kernel computes by C library calls per unit
    (:data:`LIBRARY_CALLS`, and ``**`` with an exponent that is not an integer up to 8: ``pow``),
    leaving out those of parameters and numbers only (computed once, before the loop, unless a
    parameter has one value per unit)."""
    found = set()

    def per_unit(t):
        return any(depends(t, kind) for kind in ("var", "port", "t"))

    def walk(t):
        if t is None:
            return
        if t[0] == "call" and t[1] in LIBRARY_CALLS and per_unit(t):
            found.add(t[1])
        if t[0] == "bin" and t[1] == "**" and per_unit(t):
            p = _constant(t[3])
            if p is None or not float(p).is_integer() or abs(p) > 8:
                found.add("**")
        for child in P.children(t):
            walk(child)

    for tree in (*system.rhs, system.threshold, *(tree for _, _, tree in system.reset),
                 system.refractory[1] if system.refractory is not None else None):
        walk(tree)
    return tuple(sorted(found))


class _Renderer:
    """Trees to numba source for one dtype: :meth:`value` returns the code of a value and whether
    it is the same for every neuron, with the constants folded exactly where
    :func:`~.system.evaluate` folds them (Python floats). A division or a function call whose
    operands are the same for every neuron is computed once, before the loop (``pre``); other
    temporaries go to ``lines``, the body of the loop. (Products are not moved: XLA contracts
    ``a * b + c`` into a fused multiply-add where the loop must too.)"""

    def __init__(self, dtype: str, pre: list, lines: list, shared: set):
        self.real, self.pre, self.lines, self.shared, self.count = f"np.{dtype}", pre, lines, shared, 0

    def const(self, c: float) -> str:
        c = float(c)
        text = repr(c) if math.isfinite(c) else "np.nan" if math.isnan(c) else "np.inf" if c > 0 else "-np.inf"
        return f"{self.real}({text})"

    def expr(self, t, names: dict) -> str:
        return self.value(t, names)[0]

    def value(self, t, names: dict) -> tuple:
        """``(code, same for every neuron)``."""
        code, c, shared = self._render(t, names)
        return (self.const(c), True) if c is not None else (code, shared)

    def temporary(self, code: str, shared: bool) -> str:
        self.count += 1
        name = f"tmp_{self.count}"
        (self.pre if shared else self.lines).append(f"{name} = {code}")
        return name

    def _render(self, t, names):
        """``(code, None, shared)`` or ``(None, constant, True)``."""
        k = t[0]
        if k == "num":
            return None, float(t[1]), True
        if k == "unit":
            return None, float(unit_value(t[1])[1]), True
        if k in ("var", "param", "port", "t"):
            code = names[(k, t[1]) if k != "t" else ("t",)]
            return code, None, code in self.shared
        if k == "neg":
            a, c, shared = self._render(t[1], names)
            return (None, -c, True) if c is not None else (f"(-{a})", None, shared)
        if k == "bin":
            op = t[1]
            if op == "**":
                return self._power(t, names)
            (a, ca, sa), (b, cb, sb) = self._render(t[2], names), self._render(t[3], names)
            if ca is not None and cb is not None:
                try:
                    return None, _ARITHMETIC[op](ca, cb), True
                except ZeroDivisionError:
                    pass
            a = self.const(ca) if ca is not None else a
            b = self.const(cb) if cb is not None else b
            code = f"({a} {op} {b})"
            if sa and sb and op == "/":
                return self.temporary(code, True), None, True
            return code, None, sa and sb
        if k == "cmp":
            (a, sa), (b, sb) = self.value(t[2], names), self.value(t[3], names)
            return f"({a} {t[1]} {b})", None, sa and sb
        if k in ("and", "or"):
            (a, sa), (b, sb) = self.value(t[1], names), self.value(t[2], names)
            return f"({a} {'&' if k == 'and' else '|'} {b})", None, sa and sb
        if k == "not":
            a, sa = self.value(t[1], names)
            return f"(not {a})", None, sa
        if k == "call":
            args = [self.value(a, names) for a in t[2]]
            shared = all(sa for _, sa in args)
            codes = [a for a, _ in args]
            if t[1] == "where":
                code = f"select({codes[0]}, {self.real}({codes[1]}), {self.real}({codes[2]}))"
            else:
                code = f"{_MATH[t[1]]}({', '.join(codes)})"
            return (self.temporary(code, True) if shared else code), None, shared
        raise ValueError(f"cannot render {P.unparse(t)!r}")  # pragma: no cover - resolution leaves no other node

    def _power(self, t, names) -> tuple:
        """``(code, None, shared)`` of ``a ** b``; an integer exponent up to 8 multiplied out as
        ``jax.lax.integer_pow`` does."""
        p = _constant(t[3])
        a, shared = self.value(t[2], names)
        if p is None or not float(p).is_integer() or abs(p) > 8:
            b, sb = self.value(t[3], names)
            code = f"({a} ** {b})"
            return (self.temporary(code, True), None, True) if shared and sb else (code, None, False)
        y = abs(int(p))
        if y == 0:
            return self.const(1.0), None, True
        x, acc = self.temporary(a, shared), None
        while y > 0:
            if y & 1:
                acc = x if acc is None else self.temporary(f"{acc} * {x}", shared)
            y >>= 1
            if y > 0:
                x = self.temporary(f"{x} * {x}", shared)
        return (f"({self.const(1.0)} / {acc})" if p < 0 else acc), None, shared


@functools.lru_cache(maxsize=None)
def uses_time(system: System) -> bool:
    """Whether an expression of ``system`` reads the time ``t``."""
    trees = [*system.rhs, system.threshold, *(tree for _, _, tree in system.reset)]
    if system.refractory is not None:
        trees.append(system.refractory[1])
    return any(depends(tree, "t") for tree in trees)


def layout(system: System) -> tuple:
    """``(state, operands)``: the names of the kernel's state arrays (the variables, then
    ``refractory``) and of its other operands (the ports, the parameters, ``dt``, and ``t`` if the
    equations read it: a time that changes every step would be one more operation per step)."""
    state = tuple(system.variables) + (("refractory",) if system.refractory is not None else ())
    time = ("t",) if uses_time(system) else ()
    return state, tuple(f"port {p}" for p in system.ports) + tuple(system.parameters) + ("dt",) + time


@functools.lru_cache(maxsize=None)
def loop_source(system: System, dtype: str, per_neuron: tuple) -> str:
    """The Python source of ``update(<state arrays>, spike, <operands>)``: one step of every
    neuron of ``system`` in ``dtype`` (the module docstring); ``per_neuron`` says which operands
    (:func:`layout`) are arrays of one value per neuron, the others being one number."""
    s = system
    pre: list = []
    lines: list = []
    time = uses_time(s)
    operand_args = [f"U_{p}" for p in s.ports] + [f"P_{p}" for p in s.parameters] + ["DT"] + (["T"] if time else [])
    local = [f"u_{p}" for p in s.ports] + [f"p_{p}" for p in s.parameters] + ["dt_"] + (["t_"] if time else [])
    shared = {name for name, per in zip(local, per_neuron) if not per}
    r = _Renderer(dtype, pre, lines, shared)
    zero = r.const(0.0)
    state_args = [f"X_{v}" for v in s.variables] + (["REF"] if s.refractory is not None else [])
    names = {("var", v): f"x_{v}" for v in s.variables}
    names.update({("param", p): f"p_{p}" for p in s.parameters})
    names.update({("port", p): f"u_{p}" for p in s.ports})
    names[("t",)] = "t_"
    for name, arg, per in zip(local, operand_args, per_neuron):
        (lines if per else pre).append(f"{name} = {arg}[i]" if per else f"{name} = {arg}")
    lines += [f"x_{v} = X_{v}[i]" for v in s.variables]

    def assign(name: str, code: str, is_shared: bool) -> None:
        (pre if is_shared else lines).append(f"{name} = {code}")
        if is_shared:
            shared.add(name)

    # integration (system.step_variables), every variable from the state at the start of the step
    for k, (v, scheme) in enumerate(zip(s.variables, s.schemes)):
        if scheme[0] == "euler":
            lines.append(f"n_{v} = x_{v} + dt_ * {r.expr(s.rhs[k], names)}")
            continue
        _, lc, b, den = scheme
        if den is None:
            scale, scale_shared = "dt_", "dt_" in shared
        else:
            code, den_shared = r.value(den, names)
            scale, scale_shared = f"(dt_ / {code})", den_shared and "dt_" in shared
        assign(f"scale_{v}", scale, scale_shared)
        if b is None:
            rate, rate_shared = r.value(neg(lc), names)
            assign(f"decay_{v}", f"exp_of({rate} * scale_{v})", rate_shared and scale_shared)
            lines.append(f"n_{v} = x_{v} * decay_{v}")
            continue
        lines.append(f"rest_{v} = {r.expr(b, names)}")
        if lc[0] == "num":
            assign(f"decay_{v}", f"exp_of({r.const(-lc[1])} * scale_{v})", scale_shared)
            lines.append(f"inf_{v} = rest_{v} / {r.const(lc[1])}")
            lines.append(f"n_{v} = inf_{v} + (x_{v} - inf_{v}) * decay_{v}")
        else:  # a coefficient that may vanish: Euler where it does
            lines.append(f"leak_{v} = {r.real}({r.expr(lc, names)})")
            lines.append(f"zero_{v} = leak_{v} == {zero}")
            lines.append(f"safe_{v} = select(zero_{v}, {r.const(1.0)}, leak_{v})")
            lines.append(f"inf_{v} = rest_{v} / safe_{v}")
            lines.append(f"n_{v} = select(zero_{v}, x_{v} + scale_{v} * rest_{v}, "
                         f"inf_{v} + (x_{v} - inf_{v}) * exp_of(-safe_{v} * scale_{v}))")
    for p in s.ports:
        if p in s.variables:
            lines.append(f"n_{p} = n_{p} + u_{p}")
    condition = s.refractory is not None and s.refractory[0] == "condition"
    if s.refractory is not None:
        lines.append("r_ = REF[i]")
        lines.append("free_ = r_ == 0" if condition else f"free_ = r_ <= {zero}")  # a condition: 0/1 bytes
        lines += [f"n_{v} = select(free_, n_{v}, x_{v})" for v in s.variables if v in s.unless_refractory]
    # threshold and reset on the new state, time t + dt
    new = dict(names)
    new.update({("var", v): f"n_{v}" for v in s.variables})
    new[("t",)] = "tn_"
    if time:
        assign("tn_", "t_ + dt_", "t_" in shared and "dt_" in shared)
    threshold = r.expr(s.threshold, new)
    if condition:  # refractory while the condition holds after a spike, on the new state
        lines.append(f"still_ = (r_ != 0) & {r.expr(s.refractory[1], new)}")
        lines.append(f"spike_ = (not still_) & {threshold}")
    elif s.refractory is not None:
        lines.append(f"spike_ = free_ & {threshold}")
    else:
        lines.append(f"spike_ = {threshold}")
    for target, op, tree in s.reset:
        value = r.expr(tree, new)
        updated = value if op == "=" else f"n_{target} {op[0]} {value}"
        lines.append(f"n_{target} = select(spike_, {r.real}({updated}), n_{target})")
    if condition:
        lines.append("REF[i] = np.uint8(spike_ | still_)")
    elif s.refractory is not None:
        t_ref = r.expr(s.refractory[1], names)
        lines.append(f"REF[i] = select(spike_, {r.real}({t_ref}), maximum(r_ - dt_, {zero}))")
    lines += [f"X_{v}[i] = n_{v}" for v in s.variables]
    lines.append("SPIKE[i] = np.uint8(spike_)")
    head = "".join(f"    {line}\n" for line in pre)
    body = "".join(f"        {line}\n" for line in lines)
    return (f"def update({', '.join(state_args + ['SPIKE'] + operand_args)}):\n{head}"
            f"    for i in range(SPIKE.shape[0]):\n{body}")


# ---- the kernel: the JAX step as reference, vmap folding the batch into the neurons ------------
_SOURCES: dict = {}  # digest -> (system, dtype, loop source) of the variants seen in this process


def _digest(system: System, dtype: str, per_neuron: tuple) -> str:
    source = loop_source(system, dtype, per_neuron)
    digest = hashlib.sha256(source.encode()).hexdigest()[:16]
    _SOURCES[digest] = (system, dtype, source)
    return digest


def _split(system: System, ops: tuple) -> tuple:
    state, operands = layout(system)
    k = len(state)
    return ops[:k], ops[k:]


def _reference(system: System, *ops) -> tuple:
    """The JAX step (:func:`~.system.jax_step`) with the kernel's operands and results."""
    state, rest = _split(system, ops)
    n_ports, n_params = len(system.ports), len(system.parameters)
    old = dict(zip(system.variables, state))
    refractory = state[len(system.variables)] if system.refractory is not None else None
    ports = dict(zip(system.ports, rest[:n_ports]))
    params = dict(zip(system.parameters, rest[n_ports:n_ports + n_params]))
    dt, t = (*rest[n_ports + n_params:], 0.0)[:2]
    fields = jax_step(system, state[0].shape[0], params, dt, old, refractory, ports, t)
    names = layout(system)[0]
    return tuple(fields[f] for f in names) + (fields["spike"],)


def _variant(system: System, *ops) -> tuple:
    """What is compiled: the loop (the digest of its source), the dtype, which operands are per neuron."""
    state, rest = _split(system, ops)
    dtype = np.dtype(state[0].dtype).name
    per_neuron = tuple(x.ndim == 1 for x in rest)
    return _digest(system, dtype, per_neuron), dtype, per_neuron


def _handler(variant: tuple):
    from ...ops import _equation_kernel

    digest, dtype, per_neuron = variant
    system, _, source = _SOURCES[digest]
    return _equation_kernel.handler(source, dtype, len(layout(system)[0]), per_neuron, _flag_state(system))


def _flag_state(system: System) -> bool:
    """Whether the last state array is boolean (the refractory state of a refractory condition)."""
    return system.refractory is not None and system.refractory[0] == "condition"


def _ffi_call(target: str, system: System, *ops) -> tuple:
    """The FFI call: the state updated in place (results alias the state arguments), the operands
    shared by all neurons stacked into one array, then the per-neuron operands; the spikes last."""
    state, rest = _split(system, ops)
    n, dtype = state[0].shape[0], state[0].dtype
    shapes = [jax.ShapeDtypeStruct((n,), x.dtype) for x in state] + [jax.ShapeDtypeStruct((n,), jnp.bool_)]
    call = jax.ffi.ffi_call(target, shapes, vmap_method="sequential",
                            input_output_aliases={k: k for k in range(len(state))})
    shared = [x.reshape(()) for x in rest if x.ndim == 0]
    shared = jnp.stack(shared) if shared else jnp.zeros((1,), dtype)
    return tuple(call(*state, shared, *(x for x in rest if x.ndim == 1)))


def _vmap(system, backend, axis_size, in_batched, *ops):
    """Fold the batch into the neuron axis: one kernel call over ``B x n`` neurons (an operand
    shared by the whole batch stays one number); every operation of the loop is per neuron."""
    n = ops[0].shape[-1]
    k = len(layout(system)[0])
    flat = []
    for j, (x, batched) in enumerate(zip(ops, in_batched)):
        if j < k or batched or x.ndim == 1:
            x = x if batched else jnp.broadcast_to(x, (axis_size,) + x.shape)
            flat.append(jnp.broadcast_to(x.reshape(axis_size, -1), (axis_size, n)).reshape(-1))
        else:
            flat.append(x)
    out = KERNEL.batched(system, *flat, backend=backend)
    return tuple(y.reshape(axis_size, n) for y in out), tuple(True for _ in out)


def _check_case(variant: tuple) -> tuple:
    """37 neurons, some refractory: the state in [-2, 2], inputs in [-1, 1], parameters in
    [0.5, 1.5] (positive, as time constants are), per neuron where the variant has them so."""
    digest, dtype, per_neuron = variant
    system = _SOURCES[digest][0]
    rng = np.random.default_rng(0)
    n = 37
    names, operands = layout(system)
    state = [rng.uniform(-2, 2, n) for _ in system.variables]
    if system.refractory is not None:
        state.append(rng.choice([0.0, 0.0, 1.3], n))
    state = [np.asarray(x, dtype) for x in state]
    if _flag_state(system):
        state[-1] = state[-1] > 0
    values = []
    for name, per in zip(operands, per_neuron):
        if name == "dt":
            v = np.full(n, 0.1) if per else 0.1
        elif name == "t":
            v = np.full(n, 0.5) if per else 0.5
        elif name.startswith("port "):
            v = rng.uniform(-1, 1, n) if per else 0.3
        else:
            v = rng.uniform(0.5, 1.5, n) if per else 0.9
        values.append(v)
    return system, (*state, *(np.asarray(x, dtype) for x in values))


def _compare(got, want) -> str:
    for name, a, b in zip([*range(len(want))], got, want):
        a, b = np.asarray(a), np.asarray(b)
        if b.dtype == bool:
            same = np.array_equal(a, b)
        else:
            rtol = 1e-4 if b.dtype == np.float32 else 1e-10
            same = a.shape == b.shape and np.allclose(a, b, rtol=rtol, atol=rtol, equal_nan=True)
        if not same:
            return f"result {name} differs from the JAX step"
    return ""


#: the step of an equation model generated from its equations (the module docstring): one FFI
#: target per model, dtype and pattern of per-neuron operands, compiled on first use
KERNEL = NativeKernel(
    "neurodyn_equation", title="the numba kernel generated from the equations", handler=_handler,
    ffi=_ffi_call, reference=_reference, variant=_variant, vmap=_vmap, check=_check_case, compare=_compare,
    fallback_title="the JAX step generated from the equations")


def step(system: System, n: int, params: dict, dt, old: dict, refractory, ports: dict, t,
         backend: str | None) -> dict | None:
    """The new state fields of :func:`~.system.jax_step` computed by :data:`KERNEL`, or None
    where the kernel does not serve (``backend`` "jax" or the platform's default is, the model
    is not covered, or the operands are not ``n`` values or one number of one float dtype) or,
    with ``backend`` None, where it would not pay (:func:`library_calls`): the caller then runs
    the JAX step."""
    requested = backend
    backend = KERNEL.backend(backend, what="equations: backend")
    if backend != "numba" or unsupported(system) or (requested is None and library_calls(system)):
        return None
    state = [jnp.asarray(old[v]) for v in system.variables] + ([jnp.asarray(refractory)] if refractory is not None
                                                                else [])
    dtype = state[0].dtype
    kinds = [dtype] * len(system.variables) + ([jnp.bool_ if _flag_state(system) else dtype]
                                               if refractory is not None else [])
    if dtype not in (jnp.float32, jnp.float64) or any(x.dtype != k or x.shape != (n,) for x, k in zip(state, kinds)):
        return None
    rest = []
    for x in (*(ports[p] for p in system.ports), *(params[p] for p in system.parameters), dt,
              *((t,) if uses_time(system) else ())):
        x = jnp.asarray(x)
        if x.shape not in ((), (n,)) or not (jnp.issubdtype(x.dtype, jnp.floating) or jnp.issubdtype(x.dtype,
                                                                                                     jnp.integer)):
            return None
        rest.append(x.astype(dtype))
    out = KERNEL(system, *state, *rest, backend=backend)
    names = layout(system)[0]
    fields = dict(zip(names, out[:-1]))
    fields["spike"] = out[-1]
    return fields
