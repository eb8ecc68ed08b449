-- The territory's shared vision: drafted by a facilitator, adopted by a free_motion decision;
-- the adopted one of a territory is its newest `adopted_at`.
CREATE TABLE visions (
    id           uuid PRIMARY KEY,
    territory_id uuid        NOT NULL,
    title        text        NOT NULL,
    text         text        NOT NULL,
    themes       text[]      NOT NULL,
    aims         text[]      NOT NULL,
    drafted_by   uuid        NOT NULL,
    created_at   timestamptz NOT NULL,
    adopted_at   timestamptz,
    decision_id  uuid
);
CREATE INDEX visions_adopted ON visions (territory_id, adopted_at DESC) WHERE adopted_at IS NOT NULL;

-- Ideas; a duplicate points to the idea it was grouped into.
CREATE TABLE ideas (
    id           uuid PRIMARY KEY,
    territory_id uuid        NOT NULL,
    title        text        NOT NULL,
    description  text        NOT NULL,
    theme        text        NOT NULL,
    session      text        NOT NULL,
    vision_id    uuid REFERENCES visions (id),
    submitted_by uuid        NOT NULL,
    grouped_into uuid REFERENCES ideas (id),
    created_at   timestamptz NOT NULL
);
CREATE INDEX ideas_territory ON ideas (territory_id, created_at DESC, id DESC);

-- One support per actor and idea: the primary key says so.
CREATE TABLE supports (
    idea_id      uuid        NOT NULL REFERENCES ideas (id),
    actor_id     uuid        NOT NULL,
    supported_at timestamptz NOT NULL,
    PRIMARY KEY (idea_id, actor_id)
);

CREATE TABLE projects (
    id           uuid PRIMARY KEY,
    territory_id uuid        NOT NULL,
    title        text        NOT NULL,
    description  text        NOT NULL,
    theme        text        NOT NULL,
    vision_id    uuid REFERENCES visions (id),
    stage        text        NOT NULL,
    created_by   uuid        NOT NULL,
    created_at   timestamptz NOT NULL,
    updated_at   timestamptz NOT NULL
);
CREATE INDEX projects_territory ON projects (territory_id, stage, created_at DESC, id DESC);

CREATE TABLE carriers (
    project_id uuid NOT NULL REFERENCES projects (id),
    actor_id   uuid NOT NULL,
    PRIMARY KEY (project_id, actor_id)
);

CREATE TABLE project_ideas (
    project_id uuid NOT NULL REFERENCES projects (id),
    idea_id    uuid NOT NULL REFERENCES ideas (id),
    PRIMARY KEY (project_id, idea_id)
);

-- Every stage change, with who (null: a decision) and why.
CREATE TABLE stage_changes (
    id          bigserial PRIMARY KEY,
    project_id  uuid        NOT NULL REFERENCES projects (id),
    from_stage  text        NOT NULL,
    to_stage    text        NOT NULL,
    changed_by  uuid,
    decision_id uuid,
    reason      text        NOT NULL,
    changed_at  timestamptz NOT NULL
);
CREATE INDEX stage_changes_project ON stage_changes (project_id, id);

-- The needs a carrier opened at the offers service for the project (kept from need events),
-- and the agreement that serves each once it activates.
CREATE TABLE project_needs (
    need_id      uuid PRIMARY KEY,
    project_id   uuid        NOT NULL REFERENCES projects (id),
    title        text        NOT NULL,
    category     text        NOT NULL,
    quantity     double precision NOT NULL,
    unit         text        NOT NULL,
    status       text        NOT NULL,
    version      integer     NOT NULL,
    agreement_id uuid
);
CREATE INDEX project_needs_project ON project_needs (project_id);

CREATE TABLE pledges (
    id             uuid PRIMARY KEY,
    project_id     uuid        NOT NULL REFERENCES projects (id),
    contributor_id uuid        NOT NULL,
    kind           text        NOT NULL,
    amount         double precision NOT NULL,
    unit           text        NOT NULL,
    need_id        uuid,
    note           text        NOT NULL,
    status         text        NOT NULL,
    agreement_id   uuid,
    confirmed_by   uuid,
    created_at     timestamptz NOT NULL,
    fulfilled_at   timestamptz
);
CREATE INDEX pledges_project ON pledges (project_id, created_at DESC, id DESC);
CREATE INDEX pledges_need ON pledges (need_id) WHERE status = 'pledged';

-- A trial's evaluation: one per project (evaluated once; a harvest needs it).
CREATE TABLE evaluations (
    id                uuid PRIMARY KEY,
    project_id        uuid        NOT NULL UNIQUE REFERENCES projects (id),
    indicators        jsonb       NOT NULL,
    jobs_created      double precision NOT NULL,
    jobs_consolidated double precision NOT NULL,
    people_served     integer     NOT NULL,
    value_created_cents bigint    NOT NULL,
    evaluated_by      uuid        NOT NULL,
    evaluated_at      timestamptz NOT NULL
);
