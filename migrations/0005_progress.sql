-- Progress dashboard: homework learning events, and guards on the assessments/homework tables of 0001.
--
-- The event-type CHECK is rebuilt from whatever list it holds now plus the new types, so this
-- migration keeps types that other migrations (0003, 0004) add, whatever order they were written in.
DO $$
DECLARE
    kept text[];
BEGIN
    SELECT array_agg(DISTINCT m[1]) INTO kept
      FROM pg_constraint c, regexp_matches(pg_get_constraintdef(c.oid), '''([a-z_]+)''', 'g') AS m
     WHERE c.conname = 'learning_events_event_type_check';
    kept := ARRAY(SELECT DISTINCT unnest(kept || ARRAY['homework_assigned', 'homework_completed']) ORDER BY 1);
    ALTER TABLE learning_events DROP CONSTRAINT learning_events_event_type_check;
    EXECUTE format(
        'ALTER TABLE learning_events ADD CONSTRAINT learning_events_event_type_check'
        ' CHECK (event_type = ANY (ARRAY[%s]))',
        (SELECT string_agg(quote_literal(t) || '::text', ', ') FROM unnest(kept) AS t)
    );
END $$;

-- A homework item is done once, never before it was given.
ALTER TABLE homework_assignments
    ADD CONSTRAINT homework_completed_after_assigned CHECK (completed_at IS NULL OR completed_at >= assigned_at);

-- The dashboard reads a child's scores per kind in time order.
CREATE INDEX assessments_child_kind_idx ON assessments (child_id, kind, assessed_at);
