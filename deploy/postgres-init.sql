-- One database per service (no service reads another's). Run once by the postgres image on an
-- empty data volume, as POSTGRES_USER, who therefore owns them. Every planned service is listed
-- so that adding a service later needs no re-initialisation of the volume.
CREATE DATABASE mcvt_actors;
CREATE DATABASE mcvt_offers;
CREATE DATABASE mcvt_matching;
CREATE DATABASE mcvt_agreements;
CREATE DATABASE mcvt_governance;
CREATE DATABASE mcvt_notifications;
CREATE DATABASE mcvt_projects;
