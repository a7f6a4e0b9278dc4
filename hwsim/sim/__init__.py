"""The discrete-event layer: op graphs on engines, shared memory channels and links (SimPy).

``simulate(graph, accelerator_or_system)`` runs one inference or batch and returns a
``Report`` with its timeline; ``serve`` plays a stream of requests through a batching
server (``load_sweep`` and ``max_throughput_under`` build on it); ``simulate_pipelined``
runs inferences through a layer pipeline; ``to_chrome_trace`` turns a timeline into Chrome
trace-event data (Perfetto). The building blocks (``FairShareChannel``, ``EngineBank``,
``DmaEngine``, ``Link``) live in ``hwsim.sim.components`` for accelerator families that
supply their own process.
"""

from hwsim.sim.capacity import Capacity, load_sweep, max_throughput_under
from hwsim.sim.components import FairShareChannel, LinkSpec
from hwsim.sim.host import HostStandIn
from hwsim.sim.pipeline import PipelineResult, simulate_pipelined, split_stages
from hwsim.sim.plan import OpTiming, decompose
from hwsim.sim.serve import BatchPolicy, PoissonArrivals, ServeResult, ServiceTimes, serve
from hwsim.sim.simulate import RunTotals, simulate, simulate_totals
from hwsim.sim.system import Device, Placement, System, default_placement
from hwsim.sim.trace import to_chrome_trace

__all__ = [
    "BatchPolicy", "Capacity", "Device", "FairShareChannel", "HostStandIn", "LinkSpec",
    "OpTiming", "PipelineResult", "Placement", "PoissonArrivals", "RunTotals", "ServeResult",
    "ServiceTimes", "System", "decompose", "default_placement", "load_sweep",
    "max_throughput_under", "serve", "simulate", "simulate_pipelined", "simulate_totals",
    "split_stages", "to_chrome_trace",
]
