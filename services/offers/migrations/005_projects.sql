-- The territorial projects offers knows (read model of mcvt.projects): a need may serve only a
-- project of its requester's territory that the requester carries.
CREATE TABLE projects (
    project_id   uuid PRIMARY KEY,
    territory_id uuid NOT NULL,
    carrier_ids  uuid[] NOT NULL
);
