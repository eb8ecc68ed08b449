"""Consumer services as processes, killed and paused on the real broker: a broker of the
package's own, which the kill tests hold (SIGSTOP) for the instant of a kill."""

from tests.brokers import kafka, tansu  # noqa: F401
