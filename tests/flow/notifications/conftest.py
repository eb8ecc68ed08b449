"""Notifications with the other services over the real broker: a broker of the package's own."""

from tests.brokers import kafka, tansu  # noqa: F401
