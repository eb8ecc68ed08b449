-- Who proposed the pair: the engine, or a facilitator by hand.
ALTER TABLE matches ADD COLUMN origin text NOT NULL DEFAULT 'engine';
