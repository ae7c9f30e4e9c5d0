-- Ending an enrolment early (docs/domain.md, "Ending an enrolment"): when, by whom and why, so that the
-- same request again answers the same ending; and the learning event it leaves.
ALTER TABLE enrollments
    ADD COLUMN ended_at  timestamptz,
    ADD COLUMN ended_by  uuid,
    ADD COLUMN end_reason text CHECK (length(end_reason) BETWEEN 3 AND 500),
    ADD CONSTRAINT enrollments_ended_early_has_time CHECK ((ended_by IS NULL) OR (ended_at IS NOT NULL AND status = 'ended'));

-- The event-type CHECK rebuilt from the list it holds now plus the new type (as 0005 does).
DO $$
DECLARE
    kept text[];
BEGIN
    SELECT array_agg(DISTINCT m[1]) INTO kept
      FROM pg_constraint c, regexp_matches(pg_get_constraintdef(c.oid), '''([a-z_]+)''', 'g') AS m
     WHERE c.conname = 'learning_events_event_type_check';
    kept := ARRAY(SELECT DISTINCT unnest(kept || ARRAY['enrollment_ended']) ORDER BY 1);
    ALTER TABLE learning_events DROP CONSTRAINT learning_events_event_type_check;
    EXECUTE format(
        'ALTER TABLE learning_events ADD CONSTRAINT learning_events_event_type_check'
        ' CHECK (event_type = ANY (ARRAY[%s]))',
        (SELECT string_agg(quote_literal(t) || '::text', ', ') FROM unnest(kept) AS t)
    );
END $$;
