-- The claim counts each subscription's deliveries in flight. `deliveries_leased` held every row
-- ever leased and not yet settled, and the planner read the pending queue instead: each claim
-- cost in proportion to the queue, so the longer the queue, the slower the deliveries that
-- drain it (seen under load: 60-100 ms a claim with 16,000 deliveries due). An index of the
-- rows in flight alone keeps the count to the few leased at once.
DROP INDEX deliveries_leased;
CREATE INDEX deliveries_in_flight ON deliveries (subscription_id)
    WHERE leased_until IS NOT NULL AND status = 'pending';
-- A queue table: every delivery is inserted, leased and settled, leaving dead index entries in
-- front of the queue that each claim steps over; vacuum it after a small share of changes.
ALTER TABLE deliveries SET (autovacuum_vacuum_scale_factor = 0.01,
    autovacuum_vacuum_insert_scale_factor = 0.01, autovacuum_analyze_scale_factor = 0.02);
