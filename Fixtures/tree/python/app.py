"""Small inventory service used as a parsing fixture."""
from __future__ import annotations

import asyncio
import functools
from dataclasses import dataclass, field
from typing import Iterable


def logged(func):
    """Decorator that prints each call."""
    @functools.wraps(func)
    def wrapper(*args, **kwargs):
        print(f"-> {func.__name__}({len(args)} args, {len(kwargs)} kwargs)")
        return func(*args, **kwargs)
    return wrapper


@dataclass(frozen=True)
class Item:
    sku: str
    name: str
    price_cents: int = 0
    tags: tuple[str, ...] = field(default_factory=tuple)

    @property
    def price(self) -> float:
        return self.price_cents / 100

    def __str__(self) -> str:
        return f"{self.name!r} ({self.sku}) @ {self.price:.2f}"


class Inventory:
    def __init__(self, items: Iterable[Item] = ()) -> None:
        self._items = {item.sku: item for item in items}

    @logged
    def tagged(self, tag: str) -> list[Item]:
        # comprehension with a condition
        return [i for i in self._items.values() if tag in i.tags]

    @staticmethod
    def totals(items: Iterable[Item]) -> dict[str, int]:
        return {i.sku: i.price_cents for i in items if i.price_cents > 0}

    async def refresh(self, delay: float = 0.01) -> int:
        await asyncio.sleep(delay)
        squares = {n: n * n for n in range(3)}
        return len(self._items) + sum(squares.values())


async def main() -> None:
    inv = Inventory([
        Item("A-1", "widget", 250, ("tools",)),
        Item("B-2", "gadget", 1999, ("tools", "toys")),
        Item("C-3", "sprocket"),
    ])
    for item in inv.tagged("tools"):
        print(item)
    count = await inv.refresh()
    print(f"refreshed {count=}")


if __name__ == "__main__":
    asyncio.run(main())
