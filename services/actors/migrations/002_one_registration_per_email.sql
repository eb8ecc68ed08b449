-- One registration per e-mail and territory (case-insensitive: mail domains ignore case and
-- people type their address differently from one form to the next).
CREATE UNIQUE INDEX actors_territory_email ON actors (territory_id, lower(email));
