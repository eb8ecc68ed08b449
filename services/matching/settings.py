"""Settings of the matching service (environment variables, see the README)."""

from __future__ import annotations

import os
import socket

from pydantic import Field

from services.runtime.settings import ServiceSettings


class MatchingSettings(ServiceSettings):
    service_name: str = "matching"
    port: int = 8003
    database_url: str = "postgresql://postgres@127.0.0.1:5432/mcvt_matching"

    consumer_group: str = Field(
        default="matching.read-model",
        description="Consumer group of offers, needs, actors and governance events. A new name "
        "reads every topic from its beginning: how a fresh database is rebuilt. Its internal "
        "topic is `mcvt.<group>.territories`, read by the group `<group>.territories`.",
    )
    territory_partitions: int = Field(
        default=24,
        ge=1,
        description="Partitions of the internal topic keyed by territory, created with them: "
        "the most replicas that can share the territories.",
    )
    replica_id: str = Field(
        default_factory=lambda: f"{socket.gethostname()}-{os.getpid()}",
        min_length=1,
        description="This replica's name in the journal of territory tenures.",
    )
    propose_matches: bool = Field(
        default=True,
        description="False keeps the read model and the policies only, proposing and "
        "publishing nothing: a shadow rebuild beside the live instance.",
    )
    expiry_interval_s: float = Field(
        default=60.0, gt=0, description="How often proposals past their time-to-live expire."
    )
