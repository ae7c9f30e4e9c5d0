-- Parent consent for a coach's cancellation: request state on the session, the parent's replies,
-- and the learning event types the flow records.

ALTER TABLE learning_events DROP CONSTRAINT learning_events_event_type_check;
ALTER TABLE learning_events ADD CONSTRAINT learning_events_event_type_check CHECK (event_type = ANY (ARRAY[
    'session', 'assessment', 'video', 'quiz', 'badge', 'streak', 'level_up', 'daily_recommendations',
    'session_completed', 'session_cancelled', 'session_rescheduled', 'session_missed',
    'cancellation_requested', 'cancellation_rejected', 'cancellation_withdrawn', 'parent_callback_requested'
]));

ALTER TABLE scheduled_sessions
    ADD COLUMN cancellation_request_count integer NOT NULL DEFAULT 0 CHECK (cancellation_request_count >= 0),
    -- The CancellationConsentWorkflow of the current (or last) request: webhooks signal it.
    ADD COLUMN consent_workflow_id text,
    -- Our outbox row of the p26 request message (its provider_message_id matches the parent's tap).
    ADD COLUMN cancellation_message_id uuid REFERENCES outbound_messages (id),
    ADD COLUMN cancellation_decided_by text CHECK (
        cancellation_decided_by IN ('parent', 'auto', 'admin', 'coach')
    ),
    ADD COLUMN cancellation_decided_at timestamptz,
    ADD CONSTRAINT decided_cancellation_has_decider CHECK (
        cancellation_status NOT IN ('approved', 'rejected')
        OR (cancellation_decided_by IS NOT NULL AND cancellation_decided_at IS NOT NULL)
    );

ALTER TABLE outbound_messages
    ADD COLUMN recipient_role text NOT NULL DEFAULT 'parent' CHECK (recipient_role IN ('parent', 'coach'));

-- Every inbound WhatsApp message the webhook accepted (signature verified), once per provider id.
CREATE TABLE inbound_messages (
    id                   uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    provider_message_id  text NOT NULL UNIQUE,
    from_phone           text NOT NULL,
    context_message_id   text,
    button_payload       text,
    button_text          text,
    choice               text CHECK (choice IN ('approve', 'reschedule', 'call_me')),
    matched_session_id   uuid REFERENCES scheduled_sessions (id),
    outcome              text NOT NULL CHECK (outcome IN ('signalled', 'late', 'ignored')),
    payload              jsonb NOT NULL,
    received_at          timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX inbound_messages_session_idx ON inbound_messages (matched_session_id);
CREATE INDEX scheduled_sessions_pending_cancellation_idx ON scheduled_sessions (child_id)
    WHERE cancellation_status = 'pending';
