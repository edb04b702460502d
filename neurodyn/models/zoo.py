"""The model zoo: published neuron and population models written as equations
(:mod:`neurodyn.models.equations`), registered by name with their published default parameters.

``model = "izhikevich"`` (or ``"adex"``, ``"hodgkin_huxley"``, ``"traub_miles"``, ``"qif"``,
``"eif"``, ``"fitzhugh_nagumo"``, ``"morris_lecar"``, ``"hindmarsh_rose"``, ``"wilson_cowan"``)
in a spec, :func:`preset` in Python. Each preset is an :class:`~.equations.EquationModel`, so
everything an equation model does (sweeps of any parameter, gradients, networks, diagnostics)
works on it. Parameters are given in the base units (ms, mV, pA, nS, pF; per-area models in
pA/um^2, nS/um^2, pF/um^2) in specs, or as quantities (``"4 nS"``) in Python. The equations,
the papers and what the tests check: docs/models/zoo.md.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass, field

import numpy as np

from ..errors import SpecError
from ..schema import MODELS, Field
from .equations import Equations
from .equations.model import model_class, read_parameters
from .equations.system import build_system
from .equations.units import format_dim, parse_quantity


@dataclass(frozen=True)
class Preset:
    """One zoo model: its equations, events, default parameters (quantities) and reference."""

    name: str
    equations: str
    parameters: dict
    summary: str
    citation: str
    threshold: str | None = None
    reset: str | None = None
    refractory: str | None = None
    ports: tuple = ("I",)
    initial: dict = field(default_factory=dict)
    method: str | None = None
    docs: dict = field(default_factory=dict)   # parameter -> one line
    variants: dict = field(default_factory=dict)  # name -> {parameter: quantity}
    example: dict = field(default_factory=dict)


PRESETS: dict[str, Preset] = {}


def _add(p: Preset) -> Preset:
    PRESETS[p.name] = p
    return p


_add(Preset(
    "izhikevich",
    """
    dv/dt = (k*v**2 + 5*v + 140*mV - u + i_ext + I)/ms : mV
    du/dt = a*(b*v - u) : mV
    """,
    dict(a="0.02 /ms", b="0.2", c="-65 mV", d="8 mV", k="0.04 /mV", i_ext="0 mV"),
    "Izhikevich's simple model: v' = 0.04 v^2 + 5 v + 140 - u + I, u' = a (b v - u); at v >= 30 mV, v = c, "
    "u += d (cells RS, IB, CH, FS, LTS).",
    "E. M. Izhikevich, IEEE Trans. Neural Netw. 14:1569 (2003)",
    threshold="v >= 30 mV", reset="v = c; u += d", initial={"v": "c", "u": "b*c"}, method="euler",
    docs=dict(a="recovery rate", b="sensitivity of u to v", c="reset potential", d="reset increment of u",
              k="quadratic coefficient", i_ext="constant input (mV per ms of the paper's time)"),
    variants={"RS": {}, "IB": dict(c="-55 mV", d="4 mV"), "CH": dict(c="-50 mV", d="2 mV"),
              "FS": dict(a="0.1 /ms", d="2 mV"), "LTS": dict(b="0.25", d="2 mV")},
    example={"n": 3, "i_ext": 10.0}))

_add(Preset(
    "adex",
    """
    dv/dt = (g_l*(e_l - v) + g_l*delta_t*exp((v - v_t)/delta_t) - w + i_ext + I)/c_m : mV
    dw/dt = (a*(v - e_l) - w)/tau_w : pA
    """,
    dict(c_m="281 pF", g_l="30 nS", e_l="-70.6 mV", v_t="-50.4 mV", delta_t="2 mV", tau_w="144 ms", a="4 nS",
         b="80.5 pA", v_r="-70.6 mV", v_peak="0 mV", i_ext="0 pA"),
    "Adaptive exponential integrate-and-fire: C v' = -g_L (v - E_L) + g_L D_T exp((v - V_T)/D_T) - w + I, "
    "tau_w w' = a (v - E_L) - w; at v > v_peak, v = v_r, w += b.",
    "R. Brette, W. Gerstner, J. Neurophysiol. 94:3637 (2005); firing patterns: R. Naud, N. Marcille, C. Clopath, "
    "W. Gerstner, Biol. Cybern. 99:335 (2008)",
    threshold="v > v_peak", reset="v = v_r; w += b", initial={"v": "e_l"},
    docs=dict(c_m="membrane capacitance", g_l="leak conductance", e_l="leak reversal", v_t="rheobase threshold",
              delta_t="slope factor", tau_w="adaptation time constant", a="subthreshold adaptation",
              b="spike-triggered adaptation", v_r="reset potential", v_peak="spike cut-off",
              i_ext="constant input current"),
    # Naud et al. (2008), Table 1 (each with its step current i_ext)
    variants={
        "tonic": dict(c_m="200 pF", g_l="10 nS", e_l="-70 mV", v_t="-50 mV", a="2 nS", tau_w="30 ms", b="0 pA",
                      v_r="-58 mV", i_ext="500 pA"),
        "adapting": dict(c_m="200 pF", g_l="12 nS", e_l="-70 mV", v_t="-50 mV", a="2 nS", tau_w="300 ms",
                         b="60 pA", v_r="-58 mV", i_ext="500 pA"),
        "initial_burst": dict(c_m="130 pF", g_l="18 nS", e_l="-58 mV", v_t="-50 mV", a="4 nS", tau_w="150 ms",
                              b="120 pA", v_r="-50 mV", i_ext="400 pA"),
        "bursting": dict(c_m="200 pF", g_l="10 nS", e_l="-58 mV", v_t="-50 mV", a="2 nS", tau_w="120 ms",
                         b="100 pA", v_r="-46 mV", i_ext="210 pA"),
        "irregular": dict(c_m="100 pF", g_l="12 nS", e_l="-60 mV", v_t="-50 mV", a="-11 nS", tau_w="130 ms",
                          b="30 pA", v_r="-48 mV", i_ext="160 pA"),
        "transient": dict(c_m="100 pF", g_l="10 nS", e_l="-65 mV", v_t="-50 mV", a="10 nS", tau_w="90 ms",
                          b="100 pA", v_r="-47 mV", i_ext="180 pA"),
        "delayed": dict(c_m="200 pF", g_l="12 nS", e_l="-70 mV", v_t="-50 mV", a="-10 nS", tau_w="300 ms",
                        b="0 pA", v_r="-58 mV", i_ext="300 pA"),
    },
    example={"n": 2, "i_ext": 1000.0}))

_HH_RATES = """
    alpha_m = 1/exprel(-(v + 40*mV)/(10*mV))/ms : 1/ms
    beta_m = 4*exp(-(v + 65*mV)/(18*mV))/ms : 1/ms
    alpha_h = 0.07*exp(-(v + 65*mV)/(20*mV))/ms : 1/ms
    beta_h = 1/(1 + exp(-(v + 35*mV)/(10*mV)))/ms : 1/ms
    alpha_n = 0.1/exprel(-(v + 55*mV)/(10*mV))/ms : 1/ms
    beta_n = 0.125*exp(-(v + 65*mV)/(80*mV))/ms : 1/ms
"""
_add(Preset(
    "hodgkin_huxley",
    """
    dm/dt = q*(alpha_m*(1 - m) - beta_m*m) : 1
    dh/dt = q*(alpha_h*(1 - h) - beta_h*h) : 1
    dn/dt = q*(alpha_n*(1 - n) - beta_n*n) : 1
    dv/dt = (g_na*m**3*h*(e_na - v) + g_k*n**4*(e_k - v) + g_l*(e_l - v) + i_ext + I)/c_m : mV
    q = 3**((temperature - 6.3)/10) : 1
    """ + _HH_RATES,
    dict(c_m="1 uF/cm**2", g_na="120 mS/cm**2", g_k="36 mS/cm**2", g_l="0.3 mS/cm**2", e_na="50 mV",
         e_k="-77 mV", e_l="-54.387 mV", temperature="6.3", i_ext="0 uA/cm**2"),
    "Hodgkin-Huxley squid axon (rest at -65 mV), per membrane area: C v' = g_Na m^3 h (E_Na - v) + g_K n^4 "
    "(E_K - v) + g_L (E_L - v) + I; rates scaled by 3^((T - 6.3)/10).",
    "A. L. Hodgkin, A. F. Huxley, J. Physiol. 117:500 (1952)",
    threshold="v > -20 mV", refractory="v > -40 mV", initial={"v": "-65 mV", "m": "0.0529", "h": "0.5961",
                                                            "n": "0.3177"},
    docs=dict(c_m="membrane capacitance per area", g_na="sodium conductance density",
              g_k="potassium conductance density", g_l="leak conductance density", e_na="sodium reversal",
              e_k="potassium reversal", e_l="leak reversal", temperature="temperature in degrees C (Q10 = 3)",
              i_ext="constant current density"),
    example={"n": 2, "i_ext": 0.1}))

_add(Preset(
    "traub_miles",
    """
    dm/dt = alpha_m*(1 - m) - beta_m*m : 1
    dn/dt = alpha_n*(1 - n) - beta_n*n : 1
    dh/dt = alpha_h*(1 - h) - beta_h*h : 1
    dv/dt = (g_l*(e_l - v) + g_e*(e_e - v) + g_i*(e_i - v) - g_na*m**3*h*(v - e_na) - g_kd*n**4*(v - e_k) + i_ext + I)/c_m : mV
    dg_e/dt = -g_e/tau_e : nS
    dg_i/dt = -g_i/tau_i : nS
    alpha_m = 1.28/exprel((13*mV - v + v_t)/(4*mV))/ms : 1/ms
    beta_m = 1.4/exprel((v - v_t - 40*mV)/(5*mV))/ms : 1/ms
    alpha_h = 0.128*exp((17*mV - v + v_t)/(18*mV))/ms : 1/ms
    beta_h = 4/(1 + exp((40*mV - v + v_t)/(5*mV)))/ms : 1/ms
    alpha_n = 0.16/exprel((15*mV - v + v_t)/(5*mV))/ms : 1/ms
    beta_n = 0.5*exp((10*mV - v + v_t)/(40*mV))/ms : 1/ms
    """,
    dict(c_m="200 pF", g_l="10 nS", e_l="-60 mV", g_na="20 uS", g_kd="6 uS", e_na="50 mV", e_k="-90 mV",
         v_t="-63 mV", e_e="0 mV", e_i="-80 mV", tau_e="5 ms", tau_i="10 ms", i_ext="0 pA"),
    "Traub-Miles Hodgkin-Huxley cell with exponential conductance synapses (COBAHH): C v' = g_L (E_L - v) + "
    "g_e (E_e - v) + g_i (E_i - v) - g_Na m^3 h (v - E_Na) - g_K n^4 (v - E_K) + I; ports g_e, g_i (nS).",
    "R. D. Traub, R. Miles, Neuronal Networks of the Hippocampus (1991); R. Brette et al., J. Comput. Neurosci. "
    "23:349 (2007), benchmark 3",
    threshold="v > -20 mV", refractory="3 ms", ports=("I", "g_e", "g_i"),
    initial={"v": "e_l", "m": "0.0", "h": "1.0", "n": "0.0"},
    docs=dict(c_m="capacitance (1 uF/cm2 of 20,000 um2)", g_l="leak conductance", e_l="leak reversal",
              g_na="sodium conductance", g_kd="delayed-rectifier potassium conductance", e_na="sodium reversal",
              e_k="potassium reversal", v_t="threshold shift of the rate functions", e_e="excitatory reversal",
              e_i="inhibitory reversal", tau_e="excitatory synaptic decay", tau_i="inhibitory synaptic decay",
              i_ext="constant input current"),
    example={"n": 2, "i_ext": 200.0}))

_add(Preset(
    "qif",
    "dv/dt = (k*(v - v_rest)*(v - v_c) + i_ext + I)/tau : mV",
    dict(tau="10 ms", v_rest="-65 mV", v_c="-50 mV", k="0.04 /mV", v_peak="-10 mV", v_reset="-70 mV",
         i_ext="0 mV"),
    "Quadratic integrate-and-fire: tau v' = k (v - v_rest)(v - v_c) + R I; at v > v_peak, v = v_reset.",
    "P. E. Latham, B. J. Richmond, P. G. Nelson, S. Nirenberg, J. Neurophysiol. 83:808 (2000); "
    "G. B. Ermentrout, N. Kopell, SIAM J. Appl. Math. 46:233 (1986)",
    threshold="v > v_peak", reset="v = v_reset", initial={"v": "v_rest"},
    docs=dict(tau="membrane time constant", v_rest="resting potential", v_c="critical potential",
              k="curvature", v_peak="spike cut-off", v_reset="reset potential", i_ext="constant input R I"),
    example={"n": 2, "i_ext": 5.0}))

_add(Preset(
    "eif",
    "dv/dt = (-(v - e_l) + delta_t*exp((v - v_t)/delta_t) + i_ext + I)/tau : mV (unless refractory)",
    dict(tau="10 ms", e_l="-65 mV", v_t="-59.9 mV", delta_t="3.48 mV", v_peak="-30 mV", v_reset="-68 mV",
         t_ref="1.7 ms", i_ext="0 mV"),
    "Exponential integrate-and-fire: tau v' = -(v - E_L) + D_T exp((v - V_T)/D_T) + R I; at v > v_peak, "
    "v = v_reset, refractory t_ref.",
    "N. Fourcaud-Trocme, D. Hansel, C. van Vreeswijk, N. Brunel, J. Neurosci. 23:11628 (2003)",
    threshold="v > v_peak", reset="v = v_reset", refractory="t_ref", initial={"v": "e_l"},
    docs=dict(tau="membrane time constant", e_l="leak reversal", v_t="threshold (exponential term)",
              delta_t="slope factor", v_peak="spike cut-off", v_reset="reset potential", t_ref="refractory period",
              i_ext="constant input R I"),
    example={"n": 2, "i_ext": 10.0}))

_add(Preset(
    "fitzhugh_nagumo",
    """
    dv/dt = (v - v**3/3 - w + i_ext + I)/tau : 1
    dw/dt = eps*(v + a - b*w)/tau : 1
    """,
    dict(a="0.7", b="0.8", eps="0.08", tau="1 ms", i_ext="0"),
    "FitzHugh-Nagumo: v' = v - v^3/3 - w + I, w' = eps (v + a - b w), time in units of tau.",
    "R. FitzHugh, Biophys. J. 1:445 (1961); J. Nagumo, S. Arimoto, S. Yoshizawa, Proc. IRE 50:2061 (1962)",
    threshold=None, ports=("I",), initial={"v": "-1.2", "w": "-0.625"},
    docs=dict(a="recovery offset", b="recovery damping", eps="time-scale ratio", tau="time unit",
              i_ext="constant input"),
    example={"n": 2, "i_ext": 0.5, "tau": 10.0}))

_add(Preset(
    "morris_lecar",
    """
    dw/dt = phi*(w_inf - w)/tau_w : 1
    dv/dt = (i_ext + I - g_l*(v - v_l) - g_ca*m_inf*(v - v_ca) - g_k*w*(v - v_k))/c_m : mV
    m_inf = 0.5*(1 + tanh((v - v1)/v2)) : 1
    w_inf = 0.5*(1 + tanh((v - v3)/v4)) : 1
    tau_w = 1/cosh((v - v3)/(2*v4)) : 1
    """,
    dict(c_m="20 uF/cm**2", g_l="2 mS/cm**2", g_ca="4 mS/cm**2", g_k="8 mS/cm**2", v_l="-60 mV", v_ca="120 mV",
         v_k="-84 mV", v1="-1.2 mV", v2="18 mV", v3="2 mV", v4="30 mV", phi="0.04 /ms", i_ext="0 uA/cm**2"),
    "Morris-Lecar barnacle muscle fibre (Hopf parameter set): C v' = I - g_L (v - V_L) - g_Ca m_inf(v) (v - V_Ca) - "
    "g_K w (v - V_K), w' = phi (w_inf(v) - w)/tau_w(v).",
    "C. Morris, H. Lecar, Biophys. J. 35:193 (1981); parameters: J. Rinzel, G. B. Ermentrout, in Methods in "
    "Neuronal Modeling (1989)",
    initial={"v": "-60 mV", "w": "0.0"},
    docs=dict(c_m="capacitance per area", g_l="leak conductance density", g_ca="calcium conductance density",
              g_k="potassium conductance density", v_l="leak reversal", v_ca="calcium reversal",
              v_k="potassium reversal", v1="m_inf midpoint", v2="m_inf slope", v3="w_inf midpoint",
              v4="w_inf slope", phi="recovery rate", i_ext="constant current density"),
    example={"n": 2, "i_ext": 1.0}))

_add(Preset(
    "hindmarsh_rose",
    """
    dx/dt = (y - a*x**3 + b*x**2 - z + i_ext + I)/tau : 1
    dy/dt = (c - d*x**2 - y)/tau : 1
    dz/dt = r*(s*(x - x_r) - z)/tau : 1
    """,
    dict(a="1", b="3", c="1", d="5", r="0.006", s="4", x_r="-1.6", tau="1 ms", i_ext="3.25"),
    "Hindmarsh-Rose bursting neuron: x' = y - a x^3 + b x^2 - z + I, y' = c - d x^2 - y, z' = r (s (x - x_R) - z), "
    "time in units of tau.",
    "J. L. Hindmarsh, R. M. Rose, Proc. R. Soc. Lond. B 221:87 (1984)",
    initial={"x": "-1.6", "y": "-12", "z": "0"},
    docs=dict(a="cubic coefficient", b="quadratic coefficient", c="recovery offset", d="recovery coefficient",
              r="slow time-scale ratio", s="adaptation strength", x_r="adaptation reference", tau="time unit",
              i_ext="constant input"),
    example={"n": 2, "tau": 20.0}))

_add(Preset(
    "wilson_cowan",
    """
    de/dt = (-e + (k_e - r_e*e)*s_e)/tau_e : 1
    di/dt = (-i + (k_i - r_i*i)*s_i)/tau_i : 1
    s_e = 1/(1 + exp(-a_e*(c1*e - c2*i + p + P - theta_e))) - 1/(1 + exp(a_e*theta_e)) : 1
    s_i = 1/(1 + exp(-a_i*(c3*e - c4*i + q + Q - theta_i))) - 1/(1 + exp(a_i*theta_i)) : 1
    """,
    dict(c1="16", c2="12", c3="15", c4="3", a_e="1.3", theta_e="4", a_i="2", theta_i="3.7", r_e="1", r_i="1",
         k_e="0.9945", k_i="0.9994", tau_e="10 ms", tau_i="10 ms", p="1.25", q="0"),
    "Wilson-Cowan excitatory and inhibitory populations: tau_e e' = -e + (k_e - r_e e) S_e(c1 e - c2 i + P), "
    "tau_i i' = -i + (k_i - r_i i) S_i(c3 e - c4 i + Q) (limit-cycle parameters).",
    "H. R. Wilson, J. D. Cowan, Biophys. J. 12:1 (1972)",
    ports=("P", "Q"), initial={"e": "0.1", "i": "0.05"},
    docs=dict(c1="E to E coupling", c2="I to E coupling", c3="E to I coupling", c4="I to I coupling",
              a_e="E sigmoid slope", theta_e="E sigmoid threshold", a_i="I sigmoid slope",
              theta_i="I sigmoid threshold", r_e="E refractoriness", r_i="I refractoriness",
              k_e="E saturation", k_i="I saturation", tau_e="E time constant", tau_i="I time constant",
              p="external input to E", q="external input to I"),
    example={"n": 2}))


def preset(name: str, n: int = 1, *, variant: str | None = None, dt: float = 0.1, dtype=None, **parameters):
    """The zoo model ``name`` (``PRESETS``) for ``n`` units with its published defaults, the
    parameters of ``variant`` (Izhikevich's ``"RS"``, ``"IB"``, ``"CH"``, ``"FS"``, ``"LTS"``;
    AdEx's Naud et al. patterns ``"tonic"``, ``"adapting"``, ...) and ``parameters`` on top
    (quantities such as ``"4 nS"``, numbers in the base unit, or ``n`` of them); ``dt`` in ms.
    ``method=...`` overrides the integration; ``initial={...}`` the initial values."""
    if name not in PRESETS:
        from .equations.parse import closest

        raise SpecError(f"unknown zoo model {name!r}{closest(name, PRESETS)} (models: {', '.join(PRESETS)})")
    p = PRESETS[name]
    method = parameters.pop("method", p.method)
    initial = {**p.initial, **parameters.pop("initial", {})}
    values = dict(p.parameters)
    if variant is not None:
        if variant not in p.variants:
            raise SpecError(f"{name}: unknown variant {variant!r} (variants: {', '.join(p.variants) or 'none'})")
        values.update(p.variants[variant])
    for key, value in parameters.items():
        if key not in values:
            from .equations.parse import closest

            raise SpecError(f"{name}: unknown parameter {key!r}{closest(key, values)} "
                            f"(parameters: {', '.join(values)})")
        if value is None:
            continue
        if not isinstance(value, str):  # numbers are in the base unit of the parameter's dimension
            unit = format_dim(parse_quantity(p.parameters[key], key)[1])
            value = (value, unit)
        values[key] = value
    return Equations(p.equations, threshold=p.threshold, reset=p.reset, refractory=p.refractory,
                     parameters=values, ports=p.ports, method=method, initial=initial, n=n, dt=dt, dtype=dtype,
                     cls=zoo_class(name))


def _register(p: Preset) -> None:
    fields = []
    if p.variants:
        fields.append(Field("variant", "choice", default=None, choices=tuple(p.variants),
                            doc="a published parameter set (its values replace the defaults below)",
                            default_text="the defaults below"))
    for key, text in p.parameters.items():
        value, d = parse_quantity(text, key)
        fields.append(Field(key, "per_node", default=None, unit="" if format_dim(d) == "1" else format_dim(d),
                            doc=p.docs.get(key, ""), default_text=f"{value:g}"))
    fields.append(Field("method", "choice", default=p.method or "auto",
                        choices=("auto", "exponential_euler", "euler", "rk4"),
                        doc="integration (docs/spec/equations.md)"))
    def build(*, n, dt, dtype, variant=None, method, **values):
        return preset(p.name, n, variant=variant, dt=dt, dtype=dtype, method=method, **values)

    MODELS.register(p.name, build, tuple(fields), summary=p.summary, citation=p.citation, example=p.example,
                    context=("dt", "dtype"), class_loader=functools.partial(zoo_class, p.name))


def _class(p: Preset) -> type:
    _, dims = read_parameters(dict(p.parameters), 1, p.name)
    system = build_system(p.equations, threshold=p.threshold, reset=p.reset, refractory=p.refractory,
                          parameters=dims, ports=p.ports, method=p.method, initial=p.initial, where=p.name)
    name = "".join(part.capitalize() for part in p.name.split("_"))
    cls = model_class(name, system, f"{p.summary} ({p.citation}; docs/models/zoo.md)")
    cls.__module__, cls.__qualname__ = __name__, name
    globals()[name] = cls  # importable by name (pickling a model for a remote sweep)
    return cls


@functools.cache
def zoo_class(name: str) -> type:
    """The class of zoo model ``name`` (an :class:`EquationModel` subclass with its surface), made
    from its equations on first use: parsing and checking the units of every preset when
    ``neurodyn.models`` is imported would cost each command-line run tens of milliseconds."""
    return _class(PRESETS[name])


_CLASS_NAMES = {"".join(part.capitalize() for part in name.split("_")): name for name in PRESETS}


def __getattr__(attr: str):
    """``neurodyn.models.zoo.Izhikevich`` and the other classes by name (unpickling a model for a
    remote sweep imports its class by name), made on first use."""
    if attr in _CLASS_NAMES:
        return zoo_class(_CLASS_NAMES[attr])
    raise AttributeError(f"module {__name__!r} has no attribute {attr!r}")


for _p in PRESETS.values():
    _register(_p)
