"""Use cases for centers: register, inspect, resize pools, drain, delete."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import datetime
from typing import Any, Protocol

from suanli.domain.accelerators import AcceleratorCatalog
from suanli.domain.centers import AgentPresence, Center, CenterSpec, CenterState, Pool
from suanli.domain.errors import Forbidden, InvalidSpec
from suanli.services.clock import Clock
from suanli.services.ports import Store


class PriceHints(Protocol):
    """Prices (services/pricing.py): a new pool's first rate comes from its declared price, and
    a pool's price hint for the scheduler is the price of its rate in force."""

    def hinted(
        self, center: str, pools: Sequence[Pool], now: datetime, *, new_center: bool = False
    ) -> tuple[Pool, ...]: ...

    def open(self, center: str, pools: Sequence[Pool], now: datetime, *, new_center: bool = False) -> list[Any]: ...


class CenterService:
    def __init__(
        self,
        store: Store,
        catalog: AcceleratorCatalog,
        clock: Clock,
        on_change: Callable[[], None],
        offline_after_s: float = 30.0,
        prices: PriceHints | None = None,
    ) -> None:
        self.store = store
        self.catalog = catalog
        self.clock = clock
        self.on_change = on_change
        self.offline_after_s = offline_after_s  # the agents' silence after which a center goes OFFLINE
        self.prices = prices  # None: no rate cards (the simulator's centers)

    def presence(self, center: Center) -> AgentPresence:
        """Whether the center's agent is connected, silent lately, or never connected."""
        return center.agent_presence(self.clock.now(), self.offline_after_s)

    def _canonical_pools(self, pools: Sequence[Pool]) -> tuple[Pool, ...]:
        resolved = []
        for i, pool in enumerate(pools):
            try:
                model = self.catalog.canonical(pool.accelerator)
            except InvalidSpec as error:
                raise InvalidSpec(error.message, field=f"pools[{i}].accelerator") from None
            resolved.append(pool.model_copy(update={"accelerator": model}))
        names = [p.name for p in resolved]
        if len(set(names)) != len(names):
            raise InvalidSpec("pool names must be unique within a center", field="pools")
        return tuple(resolved)

    def add(self, spec: CenterSpec, organization: str = "default") -> Center:
        """Registers a center owned by ``organization``: its admins and center operators alone may
        change it (``owned_by``)."""
        now = self.clock.now()
        pools = self._canonical_pools(spec.pools)
        if self.prices is not None:
            pools = self.prices.hinted(spec.name, pools, now, new_center=True)
        spec = spec.model_copy(update={"pools": pools})
        center = self.store.create_center(spec, now, organization)
        if self.prices is not None:  # after the center exists: a name already taken stores no rates
            self.prices.open(spec.name, pools, now, new_center=True)
        self.on_change()
        return center

    def get(self, name: str) -> Center:
        return self.store.get_center(name)

    def owned_by(self, name: str, organization: str | None) -> Center:
        """The center, if ``organization`` may change it (None: any organization may, a platform
        admin); Forbidden naming its owner otherwise."""
        center = self.store.get_center(name)
        if organization is not None and center.organization != organization:
            raise Forbidden(
                f"center {name} belongs to the organization {center.organization}; only its admins and "
                "center operators may change it"
            )
        return center

    def list(self) -> list[Center]:
        return self.store.list_centers()

    def set_pools(self, name: str, pools: Sequence[Pool]) -> Center:
        """Replaces the pools. With prices, a pool's price is its rate's once it has one: the
        price given here only starts a new pool's first rate (docs/pricing.md)."""
        current = self.store.get_center(name)
        now = self.clock.now()
        resolved = self._canonical_pools(pools)
        if self.prices is not None:
            resolved = self.prices.hinted(name, resolved, now)
        center = self.store.update_center(name, expected_version=current.version, now=now, pools=resolved)
        if self.prices is not None:
            self.prices.open(name, resolved, now)
        self.on_change()
        return center

    def set_state(self, name: str, state: CenterState) -> Center:
        current = self.store.get_center(name)
        if current.state is state:
            return current
        center = self.store.update_center(name, expected_version=current.version, now=self.clock.now(), state=state)
        self.on_change()
        return center

    def set_problem(self, name: str, problem: str) -> Center:
        """Records what the center's agent says is wrong with its backend ("" once it recovers)."""
        current = self.store.get_center(name)
        if current.problem == problem:
            return current
        center = self.store.update_center(name, expected_version=current.version, now=self.clock.now(), problem=problem)
        self.on_change()
        return center

    def drain(self, name: str) -> Center:
        return self.set_state(name, CenterState.DRAINING)

    def delete(self, name: str) -> None:
        self.store.delete_center(name)
        self.on_change()
