-- Actors' roles in the access read model: what a service grants by role (a territory-wide
-- webhook) follows the roles of today. Rows kept before have none recorded (NULL, not known):
-- the next event of their actor fills it in.
ALTER TABLE access_actors ADD COLUMN roles text[];
