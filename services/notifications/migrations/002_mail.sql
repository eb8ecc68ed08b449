-- People who read their notifications by e-mail. One address per actor and person (`person` is
-- the person's id, or '' for the actor's own contact), confirmed by a link before any mail goes
-- to it; `token` (random, secret) is in every mail's unsubscribe link, which needs no sign-in.
CREATE TABLE mail_recipients (
    id           uuid PRIMARY KEY,
    actor_id     uuid        NOT NULL,
    territory_id uuid        NOT NULL,
    person       text        NOT NULL,
    email        text        NOT NULL,
    kinds        text[]      NOT NULL,
    frequency    text        NOT NULL CHECK (frequency IN ('immediate', 'daily')),
    token        text        NOT NULL UNIQUE,
    confirmed_at timestamptz,
    created_at   timestamptz NOT NULL DEFAULT now(),
    updated_at   timestamptz NOT NULL DEFAULT now(),
    UNIQUE (actor_id, person)
);
CREATE INDEX mail_recipients_territory ON mail_recipients (territory_id)
    WHERE confirmed_at IS NOT NULL;

-- Notifications waiting for a recipient's daily digest.
CREATE TABLE mail_digest_items (
    recipient_id uuid   NOT NULL REFERENCES mail_recipients (id) ON DELETE CASCADE,
    seq          bigint NOT NULL,
    PRIMARY KEY (recipient_id, seq)
);
