"""The runtime every MCVT service shares: settings, database and migrations, transactional outbox
and its relay, idempotent inbox, Kafka wiring with dead-letter handling, authentication, problem
responses, health and the service factory. Written once here; services only add their domain.
"""
