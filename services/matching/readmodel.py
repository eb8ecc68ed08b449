"""The read model in memory of one territory: its offer and need indexes and its policy.

A cache of the database read model (tables `offers`, `needs`, `policies`), held by the replica
that owns the territory (see `ownership`): loaded from the database before the owner applies
the territory's first record, then changed by the owner's consumer inside each record's
transaction. The database stays the truth: a proposal is written only after the rows of its
offer and need are locked and found at the versions that were scored, so an index that runs
ahead of a transaction that then fails, or behind one that has not yet committed, can cost a
proposal but never make a wrong one; the failed record is redelivered and the versions meet
again.
"""

from __future__ import annotations

from collections.abc import Iterable

from services.matching.candidates import NeedIndex, OfferIndex
from services.matching.model import NeedView, OfferView
from services.matching.policies import TerritoryPolicy, default_policy


class ReadModel:
    def __init__(self, *, proposing: bool = True) -> None:
        self.offers = OfferIndex()
        self.needs = NeedIndex()
        self._policies: dict[str, TerritoryPolicy] = {}
        self.proposing = proposing
        """False in a shadow instance: the read model is kept, nothing is proposed."""

    def load(
        self,
        offers: Iterable[OfferView],
        needs: Iterable[NeedView],
        policies: Iterable[TerritoryPolicy],
    ) -> None:
        """Fill the caches from the database's live offers and needs and latest policies."""
        for policy in policies:
            self._policies[policy.territory_id] = policy
        for offer in offers:
            self.offers.add(offer)
        for need in needs:
            self.needs.add(need)

    def policy(self, territory_id: str) -> TerritoryPolicy:
        """The policy in force in the territory: its latest decision's, else the default."""
        return self._policies.get(territory_id) or default_policy(territory_id)

    def set_policy(self, policy: TerritoryPolicy) -> None:
        self._policies[policy.territory_id] = policy

    def replace_needs(self, needs: Iterable[NeedView]) -> None:
        """Swap in a need index built afresh (views carry the policy's social priority)."""
        index = NeedIndex()
        for need in needs:
            index.add(need)
        self.needs = index
