"""What "the database or the broker is out of reach" looks like, in one list (and a
transaction PostgreSQL aborted for a concurrent one, which passes as well).

The HTTP edge answers these with 503 and `Retry-After`; the consumer never dead-letters an event
for them, it lets the record be redelivered. Nothing is wrong with the request or the event.
"""

from __future__ import annotations

import asyncpg
from aiokafka.errors import KafkaConnectionError, KafkaTimeoutError

OUT_OF_REACH: tuple[type[Exception], ...] = (
    asyncpg.PostgresConnectionError,  # connection does not exist, failure, rejected
    asyncpg.CannotConnectNowError,  # starting up or shutting down
    asyncpg.AdminShutdownError,  # a shutdown or pg_terminate_backend
    asyncpg.CrashShutdownError,
    asyncpg.TooManyConnectionsError,
    asyncpg.InterfaceError,  # the connection closed under the client
    # A pooled connection the server cut while in use is left with its protocol mid-operation;
    # the next use fails so ("cannot switch to state ..."), and the pool replaces it.
    asyncpg.InternalClientError,
    OSError,  # refused, reset, aborted, unreachable (ConnectionError is one)
    TimeoutError,  # connecting, or waiting for a pooled connection
    KafkaConnectionError,
    KafkaTimeoutError,
    # PostgreSQL aborted the transaction for a concurrent one, still after `in_transaction`'s
    # attempts: nothing is wrong with the request or the event either, and trying later works.
    asyncpg.DeadlockDetectedError,
    asyncpg.SerializationError,
)
