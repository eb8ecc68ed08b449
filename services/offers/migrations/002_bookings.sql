-- Read model of confirmed matches (from mcvt.matches): what each holds of an asset, so that a
-- change of an asset, an offer or a need that would break a booking is refused here.
CREATE TABLE bookings (
    match_id   uuid PRIMARY KEY,
    offer_id   uuid NOT NULL,
    need_id    uuid NOT NULL,
    asset_id   uuid NOT NULL,
    quantity   double precision NOT NULL CHECK (quantity > 0),
    -- The time booked, in minutes: weekly [[start, end], ...] on the minute-of-week line, and
    -- dated [[start, end], ...] in absolute minutes of the territory's wall-clock time.
    week       jsonb NOT NULL,
    dated      jsonb NOT NULL,
    version    integer NOT NULL
);
CREATE INDEX bookings_offer ON bookings (offer_id);
CREATE INDEX bookings_need ON bookings (need_id);
CREATE INDEX bookings_asset ON bookings (asset_id);
