"""Local development stack: a real Kafka-protocol broker and a real PostgreSQL on this machine.

Used by the pytest session fixtures and by the dev runner (`make run`). Production runs Apache
Kafka and PostgreSQL (docker-compose.yml, deploy/); nothing here is imported by a service.
"""
