-- Read model of offers, needs and actors, kept from their events. Each row holds the newest
-- version seen; `state` is the contract payload of that version, from which the service makes
-- the views its indexes hold. Ids are kept as text, as the contracts carry them.
CREATE TABLE offers (
    offer_id     text PRIMARY KEY,
    territory_id text        NOT NULL,
    provider_id  text        NOT NULL,
    status       text        NOT NULL,
    version      integer     NOT NULL,
    state        jsonb       NOT NULL,
    updated_at   timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX offers_published ON offers (territory_id) WHERE status = 'published';
CREATE INDEX offers_provider ON offers (provider_id);

CREATE TABLE needs (
    need_id      text PRIMARY KEY,
    territory_id text        NOT NULL,
    requester_id text        NOT NULL,
    status       text        NOT NULL,
    version      integer     NOT NULL,
    state        jsonb       NOT NULL,
    updated_at   timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX needs_open ON needs (territory_id) WHERE status = 'open';
CREATE INDEX needs_requester ON needs (requester_id);

CREATE TABLE actors (
    actor_id     text PRIMARY KEY,
    territory_id text    NOT NULL,
    kind         text    NOT NULL,
    status       text    NOT NULL,
    version      integer NOT NULL
);

-- Matching policies per territory; a territory without a row runs on the default (version 1).
CREATE TABLE policies (
    territory_id text        NOT NULL,
    version      integer     NOT NULL CHECK (version >= 2),
    parameters   jsonb       NOT NULL,
    decision_id  text        NOT NULL UNIQUE,
    adopted_at   timestamptz NOT NULL,
    PRIMARY KEY (territory_id, version)
);

CREATE TABLE matches (
    id                    uuid PRIMARY KEY,
    territory_id          text             NOT NULL,
    offer_id              text             NOT NULL,
    offer_version         integer          NOT NULL,
    need_id               text             NOT NULL,
    need_version          integer          NOT NULL,
    provider_id           text             NOT NULL,
    requester_id          text             NOT NULL,
    status                text             NOT NULL,
    quantity              double precision NOT NULL CHECK (quantity > 0),
    unit                  text             NOT NULL,
    -- When the need uses the offer, in minutes: {"week": [[start, end], ...], "dated": [...]}.
    windows               jsonb            NOT NULL,
    score                 jsonb            NOT NULL,
    policy_version        integer          NOT NULL,
    proposed_at           timestamptz      NOT NULL,
    expires_at            timestamptz      NOT NULL,
    provider_accepted_at  timestamptz,
    requester_accepted_at timestamptz,
    confirmed_at          timestamptz,
    closed_at             timestamptz,
    reason                text,
    version               integer          NOT NULL,
    updated_at            timestamptz      NOT NULL
);
-- One live match per pair: a concurrent second proposal of the same pair inserts nothing.
CREATE UNIQUE INDEX matches_live_pair ON matches (need_id, offer_id)
    WHERE status IN ('proposed', 'accepted', 'confirmed');
CREATE INDEX matches_need ON matches (need_id);
CREATE INDEX matches_offer_live ON matches (offer_id)
    WHERE status IN ('proposed', 'accepted', 'confirmed');
CREATE INDEX matches_provider_page ON matches (provider_id, proposed_at DESC, id DESC);
CREATE INDEX matches_requester_page ON matches (requester_id, proposed_at DESC, id DESC);
CREATE INDEX matches_expiry ON matches (expires_at) WHERE status IN ('proposed', 'accepted');
CREATE INDEX matches_territory_open ON matches (territory_id)
    WHERE status IN ('proposed', 'accepted');
