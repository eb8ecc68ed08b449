-- Which replica applied a territory's records, and when: one row per territory, replica and
-- assignment of the internal topic's partitions (a tenure). Two rows of one territory from
-- different replicas whose spans overlap would mean two owners at once.
CREATE TABLE territory_tenures (
    territory_id text        NOT NULL,
    replica      text        NOT NULL,
    tenure       integer     NOT NULL,
    first_at     timestamptz NOT NULL,
    last_at      timestamptz NOT NULL,
    records      bigint      NOT NULL DEFAULT 1,
    PRIMARY KEY (territory_id, replica, tenure)
);
