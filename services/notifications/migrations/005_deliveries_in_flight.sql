-- The claim counts each subscription's deliveries in flight (leased and pending). Beside
-- `deliveries_leased` (rows whose lease is set), the planner chose the pending queue's index,
-- whose predicate the count also names, and read the whole queue: each claim cost in
-- proportion to the queue, so the longer the queue, the slower the deliveries that drain it
-- (seen under load: 60-100 ms a claim with 16,000 deliveries due). An index whose predicate is
-- the count's keeps it to the few rows in flight.
DROP INDEX deliveries_leased;
CREATE INDEX deliveries_in_flight ON deliveries (subscription_id)
    WHERE leased_until IS NOT NULL AND status = 'pending';
-- A queue table: every delivery is inserted, leased and settled, leaving dead index entries in
-- front of the queue that each claim steps over; vacuum it after a small share of changes.
ALTER TABLE deliveries SET (autovacuum_vacuum_scale_factor = 0.01,
    autovacuum_vacuum_insert_scale_factor = 0.01, autovacuum_analyze_scale_factor = 0.02);
