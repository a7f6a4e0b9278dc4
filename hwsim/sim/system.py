"""Systems of devices joined by links, and where each op of a graph runs.

A ``System`` is a tuple of named ``Device`` s (each wraps an ``Accelerator``) plus the
``LinkSpec`` s between them. One device is the *host*: it runs every op no other device
``supports()``. A placement policy is any function ``(op, system) -> device name``;
``default_placement`` puts an op on the first non-host device that supports it, else on the
host. A single accelerator is the one-device system ``System.single(accelerator)``.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from hwsim.accelerator import Accelerator
from hwsim.graph import Op
from hwsim.sim.components import LinkSpec


@dataclass(frozen=True, kw_only=True)
class Device:
    """An accelerator (or host) in a system, under a name unique within that system."""

    name: str
    accelerator: Accelerator

    def __post_init__(self) -> None:
        if not self.name or "." in self.name:
            raise ValueError(f"Device.name must be non-empty without '.', got {self.name!r}")


@dataclass(frozen=True, kw_only=True)
class System:
    """Devices joined by links.

    devices : at least one; names unique.
    links : point-to-point links; every pair of devices that exchange activations needs one.
    host : name of the device that runs ops no other device supports (default: the last).
    name : label used as the report's accelerator name (default: device names joined by '+').
    """

    devices: tuple[Device, ...]
    links: tuple[LinkSpec, ...] = ()
    host: str = ""
    name: str = ""

    def __post_init__(self) -> None:
        object.__setattr__(self, "devices", tuple(self.devices))
        object.__setattr__(self, "links", tuple(self.links))
        if not self.devices:
            raise ValueError("System.devices must hold at least one device")
        names = [d.name for d in self.devices]
        if len(set(names)) != len(names):
            raise ValueError(f"System.devices must have unique names, got {names}")
        object.__setattr__(self, "host", self.host or names[-1])
        object.__setattr__(self, "name", self.name or "+".join(names))
        if self.host not in names:
            raise ValueError(f"System.host must name a device in {names}, got {self.host!r}")
        self._check_links(names)

    def _check_links(self, names: list[str]) -> None:
        pairs = set()
        for link in self.links:
            for end in (link.a, link.b):
                if end not in names:
                    raise ValueError(f"link {link.name!r}: {end!r} names no device in {names}")
            pair = frozenset((link.a, link.b))
            if pair in pairs:
                raise ValueError(f"System.links joins {link.a!r} and {link.b!r} twice")
            pairs.add(pair)

    @classmethod
    def single(cls, accelerator: Accelerator) -> System:
        """The system of one accelerator (device named after it, dots replaced)."""
        name = accelerator.name.replace(".", "_") or "device"
        return cls(devices=(Device(name=name, accelerator=accelerator),),
                   name=accelerator.name)

    @classmethod
    def with_host(cls, accelerator: Accelerator, host: Accelerator,
                  link: LinkSpec | None = None) -> System:
        """An accelerator card plus a host, joined by ``link`` (default PCIe Gen3 x16).

        Devices are named after their configs (dots replaced); a host named like the card
        becomes ``NAME-host``.
        """
        acc = Device(name=accelerator.name.replace(".", "_"), accelerator=accelerator)
        host_name = host.name.replace(".", "_")
        cpu = Device(name=host_name if host_name != acc.name else f"{host_name}-host",
                     accelerator=host)
        link = link or LinkSpec.pcie3_x16(a=cpu.name, b=acc.name)
        return cls(devices=(acc, cpu), links=(link,), host=cpu.name)

    @property
    def is_single(self) -> bool:
        """True for a one-device system (its resources keep their plain names)."""
        return len(self.devices) == 1

    def device(self, name: str) -> Device:
        """The device called ``name``."""
        for d in self.devices:
            if d.name == name:
                return d
        raise ValueError(f"no device {name!r} in system {self.name!r}")

    def link_between(self, a: str, b: str) -> LinkSpec:
        """The link joining devices ``a`` and ``b`` (either direction)."""
        for link in self.links:
            if {link.a, link.b} == {a, b}:
                return link
        raise ValueError(f"system {self.name!r} has no link between {a!r} and {b!r}")

    def qualified(self, device: str, resource: str) -> str:
        """Timeline name of a device's resource: plain in a single system, else ``dev.res``."""
        return resource if self.is_single else f"{device}.{resource}"

    @property
    def area_mm2(self) -> float:
        """Total silicon area of the devices."""
        return sum(d.accelerator.area_mm2 for d in self.devices)

    @property
    def static_power_w(self) -> float:
        """Total static power of the devices."""
        return sum(d.accelerator.static_power_w for d in self.devices)


Placement = Callable[[Op, System], str]


def default_placement(op: Op, system: System) -> str:
    """The first non-host device that supports ``op``, else the host."""
    for d in system.devices:
        if d.name != system.host and d.accelerator.supports(op):
            return d.name
    return system.host


def as_system(target: Accelerator | System) -> System:
    """``target`` itself if it is a ``System``, else the one-device system around it."""
    return target if isinstance(target, System) else System.single(target)
