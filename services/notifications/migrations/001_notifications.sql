-- Partners' webhook subscriptions. `scope` 'actor': what concerns the owner; 'territory': the
-- whole territory (facilitators and partners only). The secret is kept to sign deliveries; the
-- previous one signs too until `previous_secret_until` (rotation with a grace period).
CREATE TABLE subscriptions (
    id                    uuid PRIMARY KEY,
    actor_id              uuid        NOT NULL,
    territory_id          uuid        NOT NULL,
    url                   text        NOT NULL,
    event_types           text[]      NOT NULL,
    scope                 text        NOT NULL CHECK (scope IN ('actor', 'territory')),
    description           text        NOT NULL DEFAULT '',
    status                text        NOT NULL DEFAULT 'active'
                                      CHECK (status IN ('active', 'disabled')),
    disabled_reason       text,
    secret                text        NOT NULL,
    previous_secret       text,
    previous_secret_until timestamptz,
    failing_since         timestamptz,
    created_at            timestamptz NOT NULL DEFAULT now(),
    updated_at            timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX subscriptions_owner ON subscriptions (actor_id, created_at DESC, id DESC);
CREATE INDEX subscriptions_territory ON subscriptions (territory_id) WHERE status = 'active';

-- Every notification, in the order it was written (`seq`, assigned under a lock so that rows
-- commit in `seq` order: a stream resumed after `seq` misses none). `parties` are the actors the
-- object concerns; `audience` 'territory' reaches every actor of the territory, 'parties' only
-- them. The body is the CloudEvent as published (or the notice this service writes).
CREATE TABLE notifications (
    seq          bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    event_id     text        NOT NULL UNIQUE,
    type         text        NOT NULL,
    territory_id uuid        NOT NULL,
    parties      uuid[]      NOT NULL,
    audience     text        NOT NULL CHECK (audience IN ('parties', 'territory')),
    body         text        NOT NULL,
    created_at   timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX notifications_parties ON notifications USING gin (parties);
CREATE INDEX notifications_territory ON notifications (territory_id, seq);
CREATE INDEX notifications_created ON notifications (created_at);

-- One delivery per (subscription, event): the queue. Claimed with FOR UPDATE SKIP LOCKED under a
-- lease (`lease_id`, `leased_until`); no lock is held while the HTTP call runs.
CREATE TABLE deliveries (
    id              uuid PRIMARY KEY,
    subscription_id uuid        NOT NULL REFERENCES subscriptions (id) ON DELETE CASCADE,
    event_id        text        NOT NULL,
    event_type      text        NOT NULL,
    body            text        NOT NULL,
    status          text        NOT NULL DEFAULT 'pending'
                                CHECK (status IN ('pending', 'succeeded', 'failed')),
    attempts        integer     NOT NULL DEFAULT 0,
    next_attempt_at timestamptz NOT NULL DEFAULT now(),
    lease_id        uuid,
    leased_until    timestamptz,
    last_status     integer,
    last_error      text,
    event_time      timestamptz NOT NULL,
    created_at      timestamptz NOT NULL DEFAULT now(),
    updated_at      timestamptz NOT NULL DEFAULT now(),
    UNIQUE (subscription_id, event_id)
);
-- The claim looks at each subscription's oldest due rows, and counts the running leases.
CREATE INDEX deliveries_queue ON deliveries (subscription_id, next_attempt_at)
    WHERE status = 'pending';
CREATE INDEX deliveries_leased ON deliveries (subscription_id) WHERE leased_until IS NOT NULL;
CREATE INDEX deliveries_log ON deliveries (subscription_id, created_at DESC, id DESC);

-- Every attempt of a delivery: the log partners read. `attempt` counts within the delivery's
-- current schedule (a retry or a replay on request starts a new one).
CREATE TABLE delivery_attempts (
    id           bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    delivery_id  uuid        NOT NULL REFERENCES deliveries (id) ON DELETE CASCADE,
    attempt      integer     NOT NULL,
    started_at   timestamptz NOT NULL,
    duration_ms  integer     NOT NULL,
    status_code  integer,
    error        text,
    response     text        NOT NULL DEFAULT ''
);
CREATE INDEX delivery_attempts_of ON delivery_attempts (delivery_id, started_at);
