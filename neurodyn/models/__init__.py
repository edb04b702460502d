"""Concrete dynamics, one module per family. Importing this package registers every model and
projection by name in :data:`neurodyn.schema.MODELS` and :data:`neurodyn.schema.PROJECTIONS`
(maps first: the registry lists names in registration order)."""

from ..schema import MODELS, PROJECTIONS
from .couplings import DiffusiveCoupling, LinearProjection, SimplicialCoupling
from .maps import Chialvo, Rulkov, RulkovPiecewise, chialvo_ring_star, chialvo_rulkov_chain
from .kuramoto import KuramotoGraph, KuramotoMeanField, PhaseLattice1D, natural_frequencies
from .reservoir import ESN
from .residual import ResESN, deep_res_esn, res_rmn
from .nvar import NVAR
from .deep_esn import DeepESN
from .ei_reservoir import AdaptiveEIReservoir, EIReservoir
from .plasticity import IPReservoir
from .spiking import LIF, SynapticLIF
from .ultralif import MaxPlusLIF, UltraDLIF, UltraDPLIF, UltraLIF, UltraPLIF
from .surrogate import PLIF, AdaLIF, DSpikeLIF, SurrogateLIF
from .synapses import SpikingProjection, fuse
from .poisson import PoissonInput
from .currents import CurrentInjection
from .sources import Modulator, PoissonSource, SpikeSource
from .stimuli import PoissonGenerator, SpikeGenerator
from .plastic import InhibitorySTDP, PairSTDP, PlasticProjection, RewardSTDP, TripletSTDP, TsodyksMarkram
from .ei import coba_ei, coba_initial_state, cuba_ei, ei_network
from .equations import EquationModel, Equations
from . import zoo
from .zoo import preset

__all__ = ["Chialvo", "Rulkov", "RulkovPiecewise", "DiffusiveCoupling", "SimplicialCoupling", "LinearProjection",
           "chialvo_ring_star", "chialvo_rulkov_chain", "KuramotoMeanField", "KuramotoGraph", "PhaseLattice1D",
           "natural_frequencies", "ESN", "NVAR", "DeepESN", "ResESN", "EIReservoir", "AdaptiveEIReservoir", "IPReservoir", "deep_res_esn", "res_rmn", "LIF", "SynapticLIF", "UltraLIF", "UltraPLIF", "UltraDLIF", "UltraDPLIF", "MaxPlusLIF", "SurrogateLIF", "PLIF", "AdaLIF", "DSpikeLIF", "SpikingProjection", "fuse", "PoissonInput", "CurrentInjection", "PoissonSource", "SpikeSource", "Modulator", "PoissonGenerator", "SpikeGenerator", "PlasticProjection", "PairSTDP", "TripletSTDP", "InhibitorySTDP", "RewardSTDP", "TsodyksMarkram", "ei_network", "coba_ei", "cuba_ei",
           "coba_initial_state", "Equations", "EquationModel", "preset", "zoo", "MODELS", "PROJECTIONS"]
