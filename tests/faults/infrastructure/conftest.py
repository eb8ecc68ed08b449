"""Faults of the infrastructure: the broker paused, PostgreSQL restarted; a broker of the
package's own, since the tests pause it."""

from tests.brokers import kafka, tansu  # noqa: F401
