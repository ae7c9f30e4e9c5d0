-- The desk's people (docs/api.md, "People"): a coach or a parent can be deactivated. A deactivated coach
-- gets no new enrolment; a deactivated parent gets no message (a queued one is dropped when its delivery
-- comes). The rows, their sessions and their learning record stay.
ALTER TABLE coaches ADD COLUMN deactivated_at timestamptz;
ALTER TABLE parents ADD COLUMN deactivated_at timestamptz;
