-- Territories' settings travel as events (mcvt.territory.settings_changed.v1), versioned.
-- offers_public: other territories may read this territory's published offers (off by default).
ALTER TABLE territories
    ADD COLUMN offers_public boolean NOT NULL DEFAULT false,
    ADD COLUMN version       integer NOT NULL DEFAULT 1;


-- RGPD erasure: personal fields blanked, the row and its id kept; set once, never cleared.
ALTER TABLE actors ADD COLUMN erased_at timestamptz;
