-- The territorial project the matched need serves, if any (from the need's events).
ALTER TABLE matches ADD COLUMN project_id text;
