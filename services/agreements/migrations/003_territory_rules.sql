-- The territories' rules that agreements apply, as governance publishes them
-- (mcvt.governance.territory_rules_changed.v1); a territory with none yet gets the settings'.
CREATE TABLE territory_rules (
    territory_id          uuid PRIMARY KEY,
    public_asset_approval boolean NOT NULL,
    time_credit_floor_minutes bigint NOT NULL,
    version               integer NOT NULL
);
