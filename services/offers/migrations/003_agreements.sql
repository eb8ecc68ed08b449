-- What agreements bring to offers: the performance clause of an offer, and the idle share
-- measured from confirmed usage.

-- An asset's idle share measured from the confirmed usage of its agreements (mcvt.agreements);
-- NULL until measured: the owner's declared idle_share stands meanwhile.
ALTER TABLE assets ADD COLUMN measured_idle_share double precision
    CHECK (measured_idle_share BETWEEN 0 AND 1);

-- Confirmed usage counted in hours, per asset: what the measure reads.
CREATE TABLE asset_usage (
    report_id    uuid PRIMARY KEY,
    asset_id     uuid        NOT NULL,
    period_start timestamptz NOT NULL,
    period_end   timestamptz NOT NULL CHECK (period_end > period_start),
    hours        numeric     NOT NULL CHECK (hours >= 0)
);
CREATE INDEX asset_usage_asset ON asset_usage (asset_id, period_end);

-- The performance clause of an offer's agreements (contracts.offers.PerformanceClause); NULL:
-- the documented defaults.
ALTER TABLE offers ADD COLUMN clause jsonb;
