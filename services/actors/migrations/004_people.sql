-- People: the members of an actor, identified by their e-mail, each with a role in it.
CREATE TABLE people (
    id         uuid PRIMARY KEY,
    email      text NOT NULL,
    name       text NOT NULL DEFAULT '',
    created_at timestamptz NOT NULL DEFAULT now()
);
-- One person per address, whatever the case people type it in.
CREATE UNIQUE INDEX people_email ON people (lower(email));

CREATE TABLE memberships (
    actor_id   uuid NOT NULL REFERENCES actors (id),
    person_id  uuid NOT NULL REFERENCES people (id),
    role       text NOT NULL CHECK (role IN ('admin', 'member')),
    created_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (actor_id, person_id)
);
CREATE INDEX memberships_person ON memberships (person_id);

-- Single-use sign-in links: only a digest of the token is kept.
CREATE TABLE sign_in_links (
    token_hash bytea PRIMARY KEY,
    person_id  uuid NOT NULL REFERENCES people (id),
    return_to  text,
    created_at timestamptz NOT NULL,
    expires_at timestamptz NOT NULL,
    used_at    timestamptz
);
CREATE INDEX sign_in_links_person ON sign_in_links (person_id);

-- A session: one person acting for one actor. Its id is the `key` claim of its access tokens,
-- so ending it (mcvt.session.ended.v1) ends them in every service.
CREATE TABLE sessions (
    id         text PRIMARY KEY,
    person_id  uuid NOT NULL REFERENCES people (id),
    actor_id   uuid NOT NULL REFERENCES actors (id),
    created_at timestamptz NOT NULL,
    ended_at   timestamptz,
    end_reason text
);
CREATE INDEX sessions_person ON sessions (person_id) WHERE ended_at IS NULL;
CREATE INDEX sessions_actor ON sessions (actor_id) WHERE ended_at IS NULL;

-- Refresh tokens of a session (its family), digests only; each is used once, then replaced.
CREATE TABLE refresh_tokens (
    token_hash bytea PRIMARY KEY,
    session_id text NOT NULL REFERENCES sessions (id),
    created_at timestamptz NOT NULL,
    expires_at timestamptz NOT NULL,
    used_at    timestamptz
);
CREATE INDEX refresh_tokens_session ON refresh_tokens (session_id);

-- Actors registered before people existed: their registration e-mail becomes their first admin.
INSERT INTO people (id, email, name)
SELECT DISTINCT ON (lower(email)) gen_random_uuid(), email, ''
FROM actors WHERE erased_at IS NULL AND email <> ''
ORDER BY lower(email), created_at;
INSERT INTO memberships (actor_id, person_id, role)
SELECT a.id, p.id, 'admin'
FROM actors a JOIN people p ON lower(p.email) = lower(a.email)
WHERE a.erased_at IS NULL;
