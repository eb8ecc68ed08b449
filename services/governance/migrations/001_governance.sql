-- Members of each territory's colleges, kept from actor events (actor id, kind, status): no name.
-- `assigned` marks a college a facilitator chose; later actor events keep it.
CREATE TABLE members (
    actor_id     uuid PRIMARY KEY,
    territory_id uuid    NOT NULL,
    kind         text    NOT NULL,
    college      text    NOT NULL,
    assigned     boolean NOT NULL DEFAULT false,
    status       text    NOT NULL,
    version      integer NOT NULL
);
CREATE INDEX members_territory ON members (territory_id, college) WHERE status = 'active';

-- A territory's colleges and rules; a territory without a row has the defaults (version 1).
CREATE TABLE territories (
    territory_id     uuid PRIMARY KEY,
    weights          jsonb   NOT NULL,
    colleges_version integer NOT NULL,
    rules            jsonb   NOT NULL,
    rules_version    integer NOT NULL
);

CREATE TABLE proposals (
    id           uuid PRIMARY KEY,
    territory_id uuid        NOT NULL,
    kind         text        NOT NULL,
    title        text        NOT NULL,
    description  text        NOT NULL,
    method       text        NOT NULL,
    secret       boolean     NOT NULL,
    parameters   jsonb       NOT NULL,
    subject_id   text,
    weights      jsonb       NOT NULL, -- frozen at opening
    rules        jsonb       NOT NULL, -- frozen at opening
    opened_by    uuid,
    opens_at     timestamptz NOT NULL,
    closes_at    timestamptz NOT NULL,
    status       text        NOT NULL DEFAULT 'open' CHECK (status IN ('open', 'closed')),
    closed_at    timestamptz,
    closed_early boolean,
    outcome      text,
    tally        jsonb,
    decision_id  uuid,
    created_at   timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX proposals_territory ON proposals (territory_id, created_at DESC, id DESC);
-- One approval proposal per agreement, however often its event is delivered.
CREATE UNIQUE INDEX proposals_one_per_subject ON proposals (kind, subject_id)
    WHERE kind = 'approve_public_asset_agreement';

-- The electorate frozen when the proposal opened: who may vote, in which college.
CREATE TABLE electorate (
    proposal_id uuid NOT NULL REFERENCES proposals (id),
    actor_id    uuid NOT NULL,
    college     text NOT NULL,
    PRIMARY KEY (proposal_id, actor_id)
);

-- Every vote cast, with the history: a change marks the previous one not current.
CREATE TABLE votes (
    id          bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    proposal_id uuid        NOT NULL REFERENCES proposals (id),
    voter_id    uuid        NOT NULL,
    college     text        NOT NULL,
    choice      text        NOT NULL,
    cast_at     timestamptz NOT NULL,
    current     boolean     NOT NULL,
    salt        bytea, -- secret ballots: what the voter needs to open its commitment
    audit_seq   bigint      NOT NULL,
    receipt     text        NOT NULL
);
CREATE UNIQUE INDEX votes_one_current ON votes (proposal_id, voter_id) WHERE current;
CREATE INDEX votes_voter ON votes (proposal_id, voter_id, id);

-- The audit chain, one per territory: `body` is the entry's RFC 8785 JSON, `hash` covers the
-- previous hash and the body. `audit_heads` holds each chain's last entry (and the hash before
-- it); appends lock it.
CREATE TABLE audit_entries (
    territory_id uuid        NOT NULL,
    seq          bigint      NOT NULL,
    body         bytea       NOT NULL,
    previous     text        NOT NULL,
    hash         text        NOT NULL,
    recorded_at  timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (territory_id, seq)
);
CREATE UNIQUE INDEX audit_entries_hash ON audit_entries (hash);

CREATE TABLE audit_heads (
    territory_id uuid PRIMARY KEY,
    seq          bigint NOT NULL,
    previous     text   NOT NULL,
    hash         text   NOT NULL
);
