-- Territorial projects in the impact ledger.
-- An agreement made for a project's need is tagged with it (from the match, or the project's
-- evaluation naming it): its jobs are the project's to declare, never the agreement's.
ALTER TABLE agreements ADD COLUMN project_id uuid;
CREATE INDEX agreements_project ON agreements (project_id) WHERE project_id IS NOT NULL;

-- What a project's evaluation declares, one row per project and kind; the same trigger as the
-- agreements' ledger keeps the territory's value summary, so the summary adds both up once.
CREATE TABLE project_value (
    project_id       uuid        NOT NULL,
    kind             text        NOT NULL,
    evaluation_id    uuid        NOT NULL,
    territory_id     uuid        NOT NULL,
    period_month     date        NOT NULL,
    category         text        NOT NULL,
    beneficiary_kind text        NOT NULL,
    amount           numeric,
    unit             text        NOT NULL,
    recorded_at      timestamptz NOT NULL,
    PRIMARY KEY (project_id, kind)
);
CREATE INDEX project_value_territory ON project_value (territory_id);
CREATE TRIGGER value_summary_apply AFTER INSERT OR UPDATE OR DELETE ON project_value
    FOR EACH ROW EXECUTE FUNCTION value_summary_apply();
