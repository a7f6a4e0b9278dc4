"""The discrete-event layer: op graphs on engines, shared memory channels and links (SimPy).

``simulate(graph, accelerator_or_system)`` runs one inference or batch and returns a
``Report`` with its timeline; ``serve`` plays a stream of requests through a batching
server; ``simulate_pipelined`` runs inferences through a layer pipeline;
``to_chrome_trace`` turns a timeline into Chrome trace-event JSON data (Perfetto).
Building blocks (``FairShareChannel``, ``EngineBank``, ``DmaEngine``, ``Link``) are in
``hwsim.sim.components`` for accelerator families that supply their own process.
"""

from hwsim.sim.components import FairShareChannel, LinkSpec
from hwsim.sim.host import HostStandIn
from hwsim.sim.plan import OpTiming, decompose
from hwsim.sim.simulate import simulate
from hwsim.sim.system import Device, Placement, System, default_placement

__all__ = [
    "Device", "FairShareChannel", "HostStandIn", "LinkSpec", "OpTiming", "Placement",
    "System", "decompose", "default_placement", "simulate",
]
