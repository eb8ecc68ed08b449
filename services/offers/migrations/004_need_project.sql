-- The territorial project a need serves (the projects service), if any.
ALTER TABLE needs ADD COLUMN project_id uuid;
