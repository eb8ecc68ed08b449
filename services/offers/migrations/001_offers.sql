-- Read model of actor events: who may publish, of which kind, located where by default.
CREATE TABLE actors (
    actor_id     uuid PRIMARY KEY,
    territory_id uuid NOT NULL,
    kind         text NOT NULL,
    status       text NOT NULL,
    lat          double precision,
    lon          double precision,
    commune      text,
    version      integer NOT NULL,
    CONSTRAINT actors_location_complete CHECK ((lat IS NULL) = (lon IS NULL))
);

CREATE TABLE assets (
    id           uuid PRIMARY KEY,
    owner_id     uuid NOT NULL,
    territory_id uuid NOT NULL,
    category     text NOT NULL,
    title        text NOT NULL,
    description  text NOT NULL,
    capacity     double precision NOT NULL CHECK (capacity > 0),
    unit         text NOT NULL,
    features     text[] NOT NULL,
    lat          double precision NOT NULL CHECK (lat BETWEEN -90 AND 90),
    lon          double precision NOT NULL CHECK (lon BETWEEN -180 AND 180),
    commune      text,
    availability jsonb NOT NULL,
    idle_share   double precision NOT NULL CHECK (idle_share BETWEEN 0 AND 1),
    version      integer NOT NULL,
    created_at   timestamptz NOT NULL,
    updated_at   timestamptz NOT NULL
);
CREATE INDEX assets_owner_page ON assets (owner_id, created_at DESC, id DESC);
-- Offer listings filter on their asset's category and position.
CREATE INDEX assets_category ON assets (category);
CREATE INDEX assets_position ON assets (lat, lon);

CREATE TABLE offers (
    id                       uuid PRIMARY KEY,
    asset_id                 uuid NOT NULL REFERENCES assets (id),
    owner_id                 uuid NOT NULL,
    territory_id             uuid NOT NULL,
    status                   text NOT NULL,
    title                    text NOT NULL,
    description              text NOT NULL,
    performance              jsonb NOT NULL,
    price                    jsonb NOT NULL,
    eligible_requester_kinds text[] NOT NULL,
    max_distance_km          double precision NOT NULL,
    valid_from               timestamptz NOT NULL,
    valid_to                 timestamptz NOT NULL,
    version                  integer NOT NULL,
    -- The version whose going-stale notice was sent: one notice per version of the offer.
    stale_notice_version     integer,
    created_at               timestamptz NOT NULL,
    updated_at               timestamptz NOT NULL
);
CREATE INDEX offers_territory_page ON offers (territory_id, created_at DESC, id DESC);
CREATE INDEX offers_owner_page ON offers (owner_id, created_at DESC, id DESC);
CREATE INDEX offers_asset ON offers (asset_id);
CREATE INDEX offers_validity ON offers (valid_to) WHERE status = 'published';

CREATE TABLE needs (
    id                   uuid PRIMARY KEY,
    owner_id             uuid NOT NULL,
    requester_kind       text NOT NULL,
    territory_id         uuid NOT NULL,
    status               text NOT NULL,
    title                text NOT NULL,
    description          text NOT NULL,
    category             text NOT NULL,
    quantity             double precision NOT NULL CHECK (quantity > 0),
    unit                 text NOT NULL,
    required_features    text[] NOT NULL,
    weekly_windows       jsonb NOT NULL,
    dated_windows        jsonb NOT NULL,
    min_duration_minutes integer NOT NULL CHECK (min_duration_minutes > 0),
    lat                  double precision NOT NULL CHECK (lat BETWEEN -90 AND 90),
    lon                  double precision NOT NULL CHECK (lon BETWEEN -180 AND 180),
    commune              text,
    max_distance_km      double precision NOT NULL,
    budget               jsonb NOT NULL,
    urgency              text NOT NULL,
    expires_at           timestamptz NOT NULL,
    version              integer NOT NULL,
    -- The version whose going-stale notice was sent: one notice per version of the need.
    stale_notice_version integer,
    created_at           timestamptz NOT NULL,
    updated_at           timestamptz NOT NULL
);
CREATE INDEX needs_territory_page ON needs (territory_id, created_at DESC, id DESC);
CREATE INDEX needs_owner_page ON needs (owner_id, created_at DESC, id DESC);
CREATE INDEX needs_category ON needs (category);
CREATE INDEX needs_position ON needs (lat, lon);
CREATE INDEX needs_expiry ON needs (expires_at) WHERE status IN ('open', 'matched');
