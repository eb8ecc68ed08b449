"""Matching replicas as real processes (`python -m services.matching`) on the real broker."""

from __future__ import annotations

from tests.brokers import kafka, tansu  # noqa: F401  (a broker of the package's own)
