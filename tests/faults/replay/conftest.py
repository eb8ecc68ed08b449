"""A whole stack and its replayed read models on a broker of the package's own."""

from tests.brokers import kafka, tansu  # noqa: F401
