-- Reassigning a child to another coach (docs/domain.md, "Reassigning a child"): the request, and for each
-- session that moves the calendar event it leaves behind on the old coach's calendar, removed by the
-- ReassignmentWorkflow (workflows/reassignment.py) and marked here so that a retried step skips it.
CREATE TABLE reassignments (
    id             uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    child_id       uuid NOT NULL REFERENCES children (id),
    from_coach_id  uuid NOT NULL REFERENCES coaches (id),
    to_coach_id    uuid NOT NULL REFERENCES coaches (id),
    requested_by   uuid NOT NULL,
    reason         text CHECK (length(reason) BETWEEN 3 AND 500),
    message_id     uuid REFERENCES outbound_messages (id),
    created_at     timestamptz NOT NULL DEFAULT now(),
    completed_at   timestamptz,
    CHECK (from_coach_id <> to_coach_id),
    CHECK (completed_at IS NULL OR completed_at >= created_at)
);
-- One reassignment of a child under way at a time.
CREATE UNIQUE INDEX reassignments_one_under_way ON reassignments (child_id) WHERE completed_at IS NULL;

CREATE TABLE reassigned_sessions (
    reassignment_id   uuid NOT NULL REFERENCES reassignments (id),
    session_id        uuid NOT NULL REFERENCES scheduled_sessions (id),
    old_calendar_id   text NOT NULL,
    old_event_id      text,
    old_subject       text NOT NULL,
    old_event_removed_at timestamptz,
    PRIMARY KEY (reassignment_id, session_id)
);

ALTER TABLE workflow_reconciliations DROP CONSTRAINT workflow_reconciliations_kind_check;
ALTER TABLE workflow_reconciliations ADD CONSTRAINT workflow_reconciliations_kind_check
    CHECK (kind IN ('session', 'enrollment', 'message', 'reassignment'));

DO $$
DECLARE
    kept text[];
BEGIN
    SELECT array_agg(DISTINCT m[1]) INTO kept
      FROM pg_constraint c, regexp_matches(pg_get_constraintdef(c.oid), '''([a-z_]+)''', 'g') AS m
     WHERE c.conname = 'learning_events_event_type_check';
    kept := ARRAY(SELECT DISTINCT unnest(kept || ARRAY['coach_reassigned']) ORDER BY 1);
    ALTER TABLE learning_events DROP CONSTRAINT learning_events_event_type_check;
    EXECUTE format(
        'ALTER TABLE learning_events ADD CONSTRAINT learning_events_event_type_check'
        ' CHECK (event_type = ANY (ARRAY[%s]))',
        (SELECT string_agg(quote_literal(t) || '::text', ', ') FROM unnest(kept) AS t)
    );
END $$;
