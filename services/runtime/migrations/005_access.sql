-- Access read model, kept from mcvt.actors by the `<service>.access` consumer group: who may call
-- this service (services/runtime/access.py). The actors service reads its own tables instead.
CREATE TABLE access_actors (
    actor_id     uuid PRIMARY KEY,
    territory_id uuid        NOT NULL,
    status       text        NOT NULL,
    version      integer     NOT NULL,
    updated_at   timestamptz NOT NULL DEFAULT now()
);

-- Revoked API keys: a token minted with one of them is refused. Keys are never un-revoked.
CREATE TABLE access_revoked_keys (
    key_id     text PRIMARY KEY,
    actor_id   uuid        NOT NULL,
    revoked_at timestamptz NOT NULL DEFAULT now()
);

-- Territories' settings that decide who reads what across territories.
CREATE TABLE access_territories (
    territory_id  uuid PRIMARY KEY,
    offers_public boolean NOT NULL,
    version       integer NOT NULL
);
