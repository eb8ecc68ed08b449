-- Addresses actors tells of (private topic mcvt.contacts): an actor's contact address and its
-- people's, mailed by default. `origin` says whether the address still follows actors
-- ('actors') or was chosen by the person ('person', confirmed by a link first).
ALTER TABLE mail_recipients ADD COLUMN origin text NOT NULL DEFAULT 'person'
    CHECK (origin IN ('person', 'actors'));
