CREATE TABLE territories (
    id         uuid PRIMARY KEY,
    name       text NOT NULL UNIQUE,
    created_at timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE actors (
    id           uuid PRIMARY KEY,
    territory_id uuid NOT NULL REFERENCES territories (id),
    kind         text NOT NULL,
    name         text NOT NULL,
    email        text NOT NULL,
    phone        text,
    lat          double precision,
    lon          double precision,
    commune      text,
    description  text NOT NULL DEFAULT '',
    siret        text,
    status       text NOT NULL,
    roles        text[] NOT NULL DEFAULT '{}',
    version      integer NOT NULL,
    created_at   timestamptz NOT NULL DEFAULT now(),
    updated_at   timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT actors_location_complete CHECK ((lat IS NULL) = (lon IS NULL))
);
-- Keyset pagination of a territory's actors, newest first.
CREATE INDEX actors_territory_page ON actors (territory_id, created_at DESC, id DESC);
-- One organisation is registered once per territory.
CREATE UNIQUE INDEX actors_territory_siret ON actors (territory_id, siret) WHERE siret IS NOT NULL;

CREATE TABLE api_keys (
    id           text PRIMARY KEY,
    actor_id     uuid NOT NULL REFERENCES actors (id),
    label        text NOT NULL,
    secret_hash  bytea NOT NULL,
    created_at   timestamptz NOT NULL DEFAULT now(),
    last_used_at timestamptz,
    revoked_at   timestamptz
);
CREATE INDEX api_keys_actor ON api_keys (actor_id);

-- Token signing keys (ES256). The newest unretired key signs; all unretired keys are published.
CREATE TABLE signing_keys (
    kid         text PRIMARY KEY,
    private_pem text NOT NULL,
    created_at  timestamptz NOT NULL DEFAULT now(),
    retired_at  timestamptz
);
