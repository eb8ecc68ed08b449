-- The territory's value summary, kept by a trigger in the transaction of every ledger change:
-- one row per territory, kind, month, category and beneficiary kind, so that the impact summary
-- reads a few thousand rows instead of scanning the whole ledger, and always equals its sum.
-- `estimated` counts the rows with an amount; none at all: « non estimé » (like sum() on NULLs).
CREATE TABLE value_summary (
    territory_id     uuid    NOT NULL,
    kind             text    NOT NULL,
    unit             text    NOT NULL,
    period_month     date    NOT NULL,
    category         text    NOT NULL,
    beneficiary_kind text    NOT NULL,
    amount           numeric NOT NULL,
    estimated        bigint  NOT NULL,
    rows             bigint  NOT NULL,
    PRIMARY KEY (territory_id, kind, unit, period_month, category, beneficiary_kind)
);

CREATE FUNCTION value_summary_apply() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP IN ('UPDATE', 'DELETE') THEN
        UPDATE value_summary SET amount = amount - coalesce(OLD.amount, 0),
               estimated = estimated - (OLD.amount IS NOT NULL)::int, rows = rows - 1
        WHERE territory_id = OLD.territory_id AND kind = OLD.kind AND unit = OLD.unit
          AND period_month = OLD.period_month AND category = OLD.category
          AND beneficiary_kind = OLD.beneficiary_kind;
    END IF;
    IF TG_OP IN ('INSERT', 'UPDATE') THEN
        INSERT INTO value_summary (territory_id, kind, unit, period_month, category,
                                   beneficiary_kind, amount, estimated, rows)
        VALUES (NEW.territory_id, NEW.kind, NEW.unit, NEW.period_month, NEW.category,
                NEW.beneficiary_kind, coalesce(NEW.amount, 0), (NEW.amount IS NOT NULL)::int, 1)
        ON CONFLICT (territory_id, kind, unit, period_month, category, beneficiary_kind)
        DO UPDATE SET amount = value_summary.amount + EXCLUDED.amount,
                      estimated = value_summary.estimated + EXCLUDED.estimated,
                      rows = value_summary.rows + 1;
    END IF;
    RETURN NULL;
END $$;
CREATE TRIGGER value_summary_apply AFTER INSERT OR UPDATE OR DELETE ON value_ledger
    FOR EACH ROW EXECUTE FUNCTION value_summary_apply();
