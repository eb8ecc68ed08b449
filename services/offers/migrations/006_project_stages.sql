-- A harvested or dropped project takes no more needs: offers keeps each project's stage from
-- mcvt.projects (its creation, then its stage changes). NULL for a project recorded before this
-- column: taken as open.
ALTER TABLE projects ADD COLUMN stage text;
