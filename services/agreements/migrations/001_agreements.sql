-- Views of the offers, needs and actors agreements are made from, kept from their events.
-- Every version of an offer and of a need is kept: an agreement takes the one that was matched.
CREATE TABLE offer_versions (
    offer_id   uuid    NOT NULL,
    version    integer NOT NULL,
    state      jsonb   NOT NULL,
    PRIMARY KEY (offer_id, version)
);

CREATE TABLE need_versions (
    need_id    uuid    NOT NULL,
    version    integer NOT NULL,
    state      jsonb   NOT NULL,
    PRIMARY KEY (need_id, version)
);

-- Each actor's kind: whether an asset is public (a local authority's) and the impact's breakdown.
CREATE TABLE actor_kinds (
    actor_id     uuid PRIMARY KEY,
    territory_id uuid    NOT NULL,
    kind         text    NOT NULL,
    version      integer NOT NULL
);

CREATE TABLE agreements (
    id               uuid PRIMARY KEY,
    -- One agreement per confirmed match, however often match.confirmed is delivered.
    match_id         uuid        NOT NULL UNIQUE,
    territory_id     uuid        NOT NULL,
    provider_id      uuid        NOT NULL,
    beneficiary_id   uuid        NOT NULL,
    offer_id         uuid        NOT NULL,
    offer_version    integer     NOT NULL,
    need_id          uuid        NOT NULL,
    need_version     integer     NOT NULL,
    asset_id         uuid        NOT NULL,
    category         text        NOT NULL,
    provider_kind    text        NOT NULL,
    beneficiary_kind text        NOT NULL,
    public_asset     boolean     NOT NULL,
    status           text        NOT NULL,
    approval         text        NOT NULL,
    terms_version    integer     NOT NULL,
    pending_version  integer,
    starts_at        timestamptz,
    ends_at          timestamptz NOT NULL,
    lapses_at        timestamptz NOT NULL,
    termination      jsonb,
    version          integer     NOT NULL,
    created_at       timestamptz NOT NULL,
    updated_at       timestamptz NOT NULL
);
CREATE INDEX agreements_provider_page ON agreements (provider_id, created_at DESC, id DESC);
CREATE INDEX agreements_beneficiary_page ON agreements (beneficiary_id, created_at DESC, id DESC);
CREATE INDEX agreements_territory_page ON agreements (territory_id, created_at DESC, id DESC);

-- Every version of the terms stays readable; the hash is what signatures refer to.
CREATE TABLE agreement_terms (
    agreement_id uuid        NOT NULL REFERENCES agreements (id),
    version      integer     NOT NULL,
    terms        jsonb       NOT NULL,
    terms_hash   text        NOT NULL,
    proposed_by  text,
    changed      text[]      NOT NULL DEFAULT '{}',
    created_at   timestamptz NOT NULL,
    PRIMARY KEY (agreement_id, version)
);

-- A party signs a version once: the key refuses a second signature.
CREATE TABLE signatures (
    agreement_id  uuid        NOT NULL,
    terms_version integer     NOT NULL,
    party         text        NOT NULL,
    actor_id      uuid        NOT NULL,
    terms_hash    text        NOT NULL,
    signed_at     timestamptz NOT NULL,
    PRIMARY KEY (agreement_id, terms_version, party),
    FOREIGN KEY (agreement_id, terms_version) REFERENCES agreement_terms (agreement_id, version)
);

CREATE TABLE usage_reports (
    id           uuid PRIMARY KEY,
    agreement_id uuid        NOT NULL REFERENCES agreements (id),
    reported_by  text        NOT NULL,
    period_start timestamptz NOT NULL,
    period_end   timestamptz NOT NULL CHECK (period_end > period_start),
    quantity     numeric     NOT NULL CHECK (quantity >= 0),
    measurements jsonb       NOT NULL,
    status       text        NOT NULL,
    corrects     uuid REFERENCES usage_reports (id),
    reason       text        NOT NULL DEFAULT '',
    created_at   timestamptz NOT NULL,
    decided_at   timestamptz
);
CREATE INDEX usage_reports_agreement ON usage_reports (agreement_id, period_start);

CREATE TABLE evaluations (
    agreement_id uuid        NOT NULL REFERENCES agreements (id),
    period_start timestamptz NOT NULL,
    period_end   timestamptz NOT NULL,
    sequence     integer     NOT NULL,
    results      jsonb       NOT NULL,
    ratio        numeric     NOT NULL CHECK (ratio BETWEEN 0 AND 1),
    evaluated_at timestamptz NOT NULL,
    PRIMARY KEY (agreement_id, period_start, sequence)
);

-- Statements are immutable: a correction is a new statement of the same period (sequence + 1).
CREATE TABLE statements (
    id               uuid PRIMARY KEY,
    agreement_id     uuid        NOT NULL REFERENCES agreements (id),
    territory_id     uuid        NOT NULL,
    period_start     timestamptz NOT NULL,
    period_end       timestamptz NOT NULL,
    sequence         integer     NOT NULL CHECK (sequence >= 1),
    supersedes       uuid REFERENCES statements (id),
    terms_version    integer     NOT NULL,
    price_model      text        NOT NULL,
    amount_unit      text        NOT NULL,
    quantity         numeric     NOT NULL,
    ratio            numeric     NOT NULL,
    -- The exact amount as a fraction: the next statement rounds the cumulative exact amount.
    exact_numerator   numeric    NOT NULL,
    exact_denominator numeric    NOT NULL CHECK (exact_denominator > 0),
    fixed_amount     bigint      NOT NULL,
    variable_amount  bigint      NOT NULL,
    total_amount     bigint      NOT NULL CHECK (total_amount >= 0),
    shortfall        bigint      NOT NULL DEFAULT 0,
    payer_id         uuid        NOT NULL,
    payee_id         uuid        NOT NULL,
    issued_at        timestamptz NOT NULL,
    UNIQUE (agreement_id, period_start, sequence)
);
CREATE INDEX statements_agreement ON statements (agreement_id, period_start, sequence);

CREATE FUNCTION statements_immutable() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'statements are immutable: issue a correcting statement instead';
END $$;
CREATE TRIGGER statements_immutable BEFORE UPDATE OR DELETE ON statements
    FOR EACH ROW EXECUTE FUNCTION statements_immutable();

-- Time credits: double entry, one account per actor (its balance is the sum of its movements,
-- kept in the account row for the floor check under a row lock).
CREATE TABLE time_credit_accounts (
    actor_id        uuid PRIMARY KEY,
    territory_id    uuid   NOT NULL,
    balance_minutes bigint NOT NULL DEFAULT 0
);
CREATE TABLE time_credit_movements (
    id              bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    statement_id    uuid        NOT NULL REFERENCES statements (id),
    actor_id        uuid        NOT NULL REFERENCES time_credit_accounts (actor_id),
    counterpart_id  uuid        NOT NULL,
    minutes         bigint      NOT NULL,
    balance_after   bigint      NOT NULL,
    created_at      timestamptz NOT NULL,
    UNIQUE (statement_id, actor_id)
);
CREATE INDEX time_credit_movements_actor ON time_credit_movements (actor_id, id DESC);

-- Emission factors: the reference table (territory_id NULL) and the territories' own, each
-- with its source. Empty by default: no factor is given that one cannot check.
CREATE TABLE emission_factors (
    category     text    NOT NULL,
    territory_id uuid,
    value        numeric NOT NULL CHECK (value >= 0),
    unit         text    NOT NULL,
    title        text    NOT NULL,
    publisher    text    NOT NULL,
    year         integer NOT NULL,
    url          text,
    set_by       uuid,
    set_at       timestamptz NOT NULL DEFAULT now()
);
CREATE UNIQUE INDEX emission_factors_key
    ON emission_factors (category, coalesce(territory_id, '00000000-0000-0000-0000-000000000000'));

CREATE TABLE value_declarations (
    id           uuid PRIMARY KEY,
    agreement_id uuid        NOT NULL REFERENCES agreements (id),
    period_start timestamptz NOT NULL,
    kind         text        NOT NULL,
    amount       numeric     NOT NULL CHECK (amount >= 0),
    declared_by  text        NOT NULL,
    status       text        NOT NULL,
    created_at   timestamptz NOT NULL,
    decided_at   timestamptz
);
CREATE INDEX value_declarations_agreement ON value_declarations (agreement_id, created_at);

-- The value ledger: one row per agreement, period and kind; amount NULL is « non estimé ».
CREATE TABLE value_ledger (
    agreement_id uuid        NOT NULL REFERENCES agreements (id),
    period_start timestamptz NOT NULL,
    kind         text        NOT NULL,
    territory_id uuid        NOT NULL,
    period_month date        NOT NULL,
    category     text        NOT NULL,
    provider_kind    text    NOT NULL,
    beneficiary_kind text    NOT NULL,
    amount       numeric,
    unit         text        NOT NULL,
    recorded_at  timestamptz NOT NULL,
    PRIMARY KEY (agreement_id, period_start, kind)
);
CREATE INDEX value_ledger_territory ON value_ledger (territory_id, kind);
