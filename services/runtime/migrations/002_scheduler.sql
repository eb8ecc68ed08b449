-- Durable scheduler: one row per pending timer, keyed by (kind, key) so scheduling again moves it.
-- A finished one-off job's row is deleted in its handler's transaction; a periodic job keeps its
-- row and moves its due time. A job that keeps failing stays as 'parked' with its last error.
CREATE TABLE scheduled_jobs (
    kind         text        NOT NULL,
    key          text        NOT NULL,
    due_at       timestamptz NOT NULL,
    payload      jsonb       NOT NULL DEFAULT '{}',
    status       text        NOT NULL DEFAULT 'pending' CHECK (status IN ('pending', 'parked')),
    attempts     integer     NOT NULL DEFAULT 0,
    -- The claim of the worker running it: the job is not claimed again before leased_until, and
    -- only the holder of lease_id may finish it.
    lease_id     uuid,
    leased_until timestamptz,
    last_error   text,
    created_at   timestamptz NOT NULL DEFAULT now(),
    updated_at   timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (kind, key)
);
CREATE INDEX scheduled_jobs_due ON scheduled_jobs (due_at) WHERE status = 'pending';
CREATE INDEX scheduled_jobs_parked ON scheduled_jobs (kind) WHERE status = 'parked';
