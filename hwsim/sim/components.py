"""Building blocks of the discrete-event simulator: channels, links, engines, DMA, timeline.

Components hold their SimPy ``env`` and their state; durations come only from bytes over
bandwidth (channels, links) or from the op costs handed to them by the caller. Process code
lives in generators named by verb (``transfer``, ``prefetch``).
"""

from __future__ import annotations

import heapq
from collections.abc import Generator
from dataclasses import dataclass
from functools import partial
from typing import TYPE_CHECKING, Any

import simpy

if TYPE_CHECKING:
    import pandas as pd

TIMELINE_COLUMNS = ["name", "resource", "start_s", "end_s", "category"]


class Timeline:
    """Collects timeline events: ``(name, resource, start_s, end_s, category)`` rows."""

    def __init__(self) -> None:
        self.rows: list[tuple[str, str, float, float, str]] = []

    def add(self, name: str, resource: str, start_s: float, end_s: float, category: str) -> None:
        """Record one event."""
        self.rows.append((name, resource, start_s, end_s, category))

    def frame(self) -> pd.DataFrame:
        """The events as a DataFrame with ``TIMELINE_COLUMNS``, ordered by start time."""
        import pandas as pd

        df = pd.DataFrame(self.rows, columns=TIMELINE_COLUMNS)
        return df.sort_values("start_s", kind="stable", ignore_index=True)


class _Flow:
    """One transfer in a channel: its finish tag on its class's virtual clock."""

    __slots__ = ("background", "done", "live", "tag")

    def __init__(self, tag: float, done: simpy.Event, background: bool) -> None:
        self.tag = tag
        self.done = done
        self.background = background
        self.live = True

    def __lt__(self, other: _Flow) -> bool:
        return self.tag < other.tag


class FairShareChannel:
    """A memory channel (or a link's wire) whose bandwidth is shared by the transfers in flight.

    Processor sharing, event-driven: with ``n`` demand transfers in flight each progresses at
    ``bw_bytes_per_s / n``; rates are re-divided only when a transfer starts or ends.
    *Background* transfers (prefetches) share the bandwidth the same way but only while no
    demand transfer is in flight, so they use idle bandwidth and never slow demand traffic;
    ``promote`` turns a background transfer into a demand one (an op now waits on it).

    Each class keeps a virtual clock ``V`` (bytes served to each of its flows so far); a
    transfer of ``N`` bytes arriving at ``V0`` ends when ``V`` reaches ``V0 + N``, so only one
    timer is pending at a time. ``V`` restarts at zero whenever its class falls idle, which
    keeps an isolated transfer exactly ``N / bw_bytes_per_s`` long.

    Parameters
    ----------
    env : the SimPy environment.
    bw_bytes_per_s : bandwidth of the channel, > 0.
    name : resource name used in the timeline.
    """

    def __init__(self, env: simpy.Environment, *, bw_bytes_per_s: float, name: str) -> None:
        if not bw_bytes_per_s > 0:
            raise ValueError(f"bw_bytes_per_s must be > 0, got {bw_bytes_per_s}")
        self.env = env
        self.bw_bytes_per_s = float(bw_bytes_per_s)
        self.name = name
        self.bytes_moved = 0.0
        self.busy_s = 0.0
        self._heaps: tuple[list[_Flow], list[_Flow]] = ([], [])
        self._live = [0, 0]
        self._virtual = [0.0, 0.0]
        self._flows: dict[simpy.Event, _Flow] = {}
        self._updated_s = 0.0
        self._epoch = 0

    def transfer(self, nbytes: float, *, background: bool = False) -> simpy.Event:
        """An event that fires when ``nbytes`` have crossed the channel (starting now)."""
        done = self.env.event()
        if nbytes <= 0:
            return done.succeed()
        self._advance()
        self.bytes_moved += nbytes
        self._push(_Flow(self._virtual[background] + nbytes, done, background))
        self._schedule()
        return done

    def promote(self, transfer: simpy.Event) -> None:
        """Serve a background ``transfer`` as demand traffic from now on (no-op if done)."""
        flow = self._flows.get(transfer)
        if flow is None or not flow.background:
            return
        self._advance()
        flow.live = False
        self._live[1] -= 1
        self._push(_Flow(self._virtual[0] + flow.tag - self._virtual[1], flow.done, False))
        self._schedule()

    @property
    def in_flight(self) -> int:
        """Number of transfers in the channel now (demand and background)."""
        return self._live[0] + self._live[1]

    def _push(self, flow: _Flow) -> None:
        heapq.heappush(self._heaps[flow.background], flow)
        self._live[flow.background] += 1
        self._flows[flow.done] = flow

    def _active(self) -> int:
        return 0 if self._live[0] else 1

    def _advance(self) -> None:
        elapsed_s = self.env.now - self._updated_s
        k = self._active()
        if self._live[k] and elapsed_s > 0:
            self._virtual[k] += elapsed_s * self.bw_bytes_per_s / self._live[k]
            self.busy_s += elapsed_s
        self._updated_s = self.env.now

    def _schedule(self) -> None:
        self._epoch += 1
        for k in (0, 1):
            heap = self._heaps[k]
            while heap and not heap[0].live:
                heapq.heappop(heap)
            if not heap:
                self._virtual[k] = 0.0
        k = self._active()
        if not self._live[k]:
            return
        remaining = max(self._heaps[k][0].tag - self._virtual[k], 0.0)
        timer = self.env.timeout(remaining * self._live[k] / self.bw_bytes_per_s)
        timer.callbacks.append(partial(self._finish, self._epoch))

    def _finish(self, epoch: int, _timer: simpy.Event) -> None:
        if epoch != self._epoch:
            return  # a transfer started or ended since this timer was set
        self._advance()
        k = self._active()
        heap = self._heaps[k]
        self._virtual[k] = heap[0].tag
        while heap and (not heap[0].live or heap[0].tag <= self._virtual[k]):
            flow = heapq.heappop(heap)
            if flow.live:
                self._live[k] -= 1
                del self._flows[flow.done]
                flow.done.succeed()
        self._schedule()


@dataclass(frozen=True, kw_only=True)
class LinkSpec:
    """A point-to-point link between two devices (for example PCIe between host and card).

    a, b : names of the devices it joins (either direction).
    bw_bytes_per_s : bandwidth shared by the transfers in flight on the link, > 0.
    latency_s : fixed time before a transfer's bytes start to flow, >= 0.
    energy_j_per_byte : energy per byte moved (counted as ``other_j``), >= 0.
    """

    a: str
    b: str
    bw_bytes_per_s: float
    latency_s: float = 0.0
    energy_j_per_byte: float = 0.0

    def __post_init__(self) -> None:
        if not self.bw_bytes_per_s > 0:
            raise ValueError(f"LinkSpec.bw_bytes_per_s must be > 0, got {self.bw_bytes_per_s}")
        for name in ("latency_s", "energy_j_per_byte"):
            if not getattr(self, name) >= 0:
                raise ValueError(f"LinkSpec.{name} must be >= 0, got {getattr(self, name)}")
        if self.a == self.b:
            raise ValueError(f"LinkSpec must join two devices, got a == b == {self.a!r}")

    @property
    def name(self) -> str:
        """Resource name of the link in timelines: ``link:a-b``."""
        return f"link:{self.a}-{self.b}"

    @classmethod
    def pcie3_x16(cls, *, a: str, b: str) -> LinkSpec:
        """PCIe Gen3 x16: 15.75e9 bytes/s per direction (8 GT/s, 128b/130b), 1e-6 s latency."""
        return cls(a=a, b=b, bw_bytes_per_s=15.75e9, latency_s=1e-6)


class Link:
    """A link in a running simulation: a fixed latency, then a fair-share wire."""

    def __init__(self, env: simpy.Environment, spec: LinkSpec) -> None:
        self.env = env
        self.spec = spec
        self.wire = FairShareChannel(env, bw_bytes_per_s=spec.bw_bytes_per_s, name=spec.name)

    def send(self, nbytes: float) -> simpy.Process:
        """A process that ends when ``nbytes`` have crossed the link."""
        return self.env.process(self.transfer(nbytes))

    def transfer(self, nbytes: float) -> Generator[simpy.Event, Any, None]:
        """Wait the link latency, then move the bytes over the shared wire."""
        if self.spec.latency_s > 0:
            yield self.env.timeout(self.spec.latency_s)
        yield self.wire.transfer(nbytes)


class EngineBank:
    """``count`` identical compute units of one engine, granted first come, first served.

    Units are numbered so the timeline can show one row per unit; ``busy_s`` sums the
    unit-seconds the units were held.
    """

    def __init__(self, env: simpy.Environment, *, name: str, count: int) -> None:
        self.name = name
        self.count = count
        self.resource = simpy.Resource(env, capacity=count)
        self.busy_s = 0.0
        self._free = list(range(count))

    def request(self) -> simpy.resources.resource.Request:
        """A request event; yield it, then call ``take_unit``."""
        return self.resource.request()

    def take_unit(self) -> int:
        """Index of the lowest free unit, now held by the caller."""
        return heapq.heappop(self._free)

    def release(self, request: simpy.resources.resource.Request, unit: int,
                held_s: float) -> None:
        """Give back ``unit`` (granted by ``request``) after holding it ``held_s``."""
        self.busy_s += held_s
        heapq.heappush(self._free, unit)
        self.resource.release(request)

    def unit_label(self, unit: int) -> str:
        """Timeline row of ``unit``: the engine name, indexed when there are several."""
        return self.name if self.count == 1 else f"{self.name}[{unit}]"


class DmaEngine:
    """Prefetches weights into an engine's on-chip buffers, in program order.

    The engine has ``buffers`` weight buffers (two per unit when double buffered). The DMA
    walks its ops in order; for each it waits for a free buffer, then moves the op's bytes as
    a background transfer. An op that starts before the DMA reached it ``claim`` s its entry
    (it fetches its own weights and the DMA skips it); an op that was prefetched frees its
    buffer when it ends (``release``).
    """

    def __init__(self, env: simpy.Environment, channel: FairShareChannel, *, buffers: int,
                 timeline: Timeline | None = None) -> None:
        self.env = env
        self.channel = channel
        self.timeline = timeline
        self.buffers = simpy.Resource(env, capacity=buffers)
        self.arrived: dict[str, simpy.Event] = {}
        self._claimed: set[str] = set()
        self._held: dict[str, simpy.resources.resource.Request] = {}

    def start(self, queue: list[tuple[str, float]]) -> None:
        """Prefetch ``(op name, bytes)`` in the given order."""
        self.env.process(self.issue(queue))

    def issue(self, queue: list[tuple[str, float]]) -> Generator[simpy.Event, Any, None]:
        """For each op not yet started: take a buffer, start its background transfer."""
        for name, nbytes in queue:
            if name in self._claimed:
                continue
            request = self.buffers.request()
            yield request
            if name in self._claimed:
                self.buffers.release(request)
                continue
            self._held[name] = request
            arrived = self.channel.transfer(nbytes, background=True)
            arrived.callbacks.append(partial(self._record, name, self.env.now))
            self.arrived[name] = arrived

    def claim(self, name: str) -> simpy.Event | None:
        """The prefetch of op ``name`` (which is starting), or None if it was not issued."""
        if name in self.arrived:
            return self.arrived[name]
        self._claimed.add(name)
        return None

    def release(self, name: str) -> None:
        """Free the buffer of op ``name`` (it has finished)."""
        self.buffers.release(self._held.pop(name))

    def _record(self, name: str, start_s: float, _event: simpy.Event) -> None:
        if self.timeline is not None:
            self.timeline.add(name, self.channel.name, start_s, self.env.now, "prefetch")
