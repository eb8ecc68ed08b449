"""Time credits: one account per actor, kept by double entry.

Each statement in time credits moves its minutes from the payer (the beneficiary) to the payee
(the provider): two movements that add up to zero, so the sum of every balance is always zero.
A balance may not go below the floor (a territory's rule; a setting until governance publishes
rules): what would cross it is not moved and stays recorded as the statement's shortfall.
"""

from __future__ import annotations

from dataclasses import dataclass
from uuid import UUID


@dataclass(frozen=True)
class Movement:
    actor_id: UUID
    counterpart_id: UUID
    minutes: int  # negative for the payer
    balance_after: int


@dataclass(frozen=True)
class Transfer:
    movements: tuple[Movement, Movement] | None
    moved: int
    shortfall: int


def transfer(
    *, payer: UUID, payee: UUID, minutes: int, payer_balance: int, payee_balance: int, floor: int
) -> Transfer:
    """Move `minutes` from payer to payee, down to the payer's floor at most."""
    if minutes < 0:
        raise ValueError("a transfer moves a non-negative number of minutes")
    movable = max(0, min(minutes, payer_balance - floor))
    if movable == 0:
        return Transfer(None, 0, minutes)
    return Transfer(
        (
            Movement(payer, payee, -movable, payer_balance - movable),
            Movement(payee, payer, movable, payee_balance + movable),
        ),
        movable,
        minutes - movable,
    )
