-- Each logged notification keeps its event's own time (the `time` partners read in it, the
-- deliveries' `event_time`): a replay of a time range reads the log by that time, and so queues
-- what a subscription missed while it was disabled. Rows logged before carry their log time.
ALTER TABLE notifications ADD COLUMN event_time timestamptz;
UPDATE notifications SET event_time = created_at;
ALTER TABLE notifications ALTER COLUMN event_time SET NOT NULL;
CREATE INDEX notifications_territory_time ON notifications (territory_id, event_time, seq);
