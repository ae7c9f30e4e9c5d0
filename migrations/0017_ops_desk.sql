-- The ops desk (docs/operations.md, "The ops queue"): what an admin or on-call engineer did to a stuck
-- row, and the two new ways a row can be resolved by a human.

-- A message a human decided not to send (Drop): final, like sent or failed.
ALTER TABLE outbound_messages DROP CONSTRAINT outbound_messages_status_check;
ALTER TABLE outbound_messages ADD CONSTRAINT outbound_messages_status_check
    CHECK (status IN ('queued', 'sending', 'sent', 'in_doubt', 'failed', 'dropped'));

-- A resent message's delivery is started by the reconciler when the desk's own start was lost.
ALTER TABLE workflow_reconciliations DROP CONSTRAINT workflow_reconciliations_kind_check;
ALTER TABLE workflow_reconciliations ADD CONSTRAINT workflow_reconciliations_kind_check
    CHECK (kind IN ('session', 'enrollment', 'message'));

-- One row per action taken from the desk, written in the transaction that changes the row. The row's
-- updated_at as the actor saw it is part of the key: the same request again finds its own action (and
-- changes nothing), an action on a row that changed meanwhile is refused before anything is written.
CREATE TABLE ops_actions (
    id            uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    admin_id      uuid NOT NULL REFERENCES admins (id),
    -- Where the admin acted: the desk (pages and API) or the command line (python -m coach_sessions ops).
    channel       text NOT NULL CHECK (channel IN ('desk', 'cli')),
    action        text NOT NULL CHECK (action IN ('resend', 'mark_delivered', 'drop', 'retry_calendar_sync')),
    target_kind   text NOT NULL CHECK (target_kind IN ('message', 'session')),
    target_id     uuid NOT NULL,
    seen_updated_at timestamptz NOT NULL,  -- the row's updated_at when the admin decided
    from_state    text NOT NULL CHECK (length(from_state) BETWEEN 1 AND 40),
    to_state      text NOT NULL CHECK (length(to_state) BETWEEN 1 AND 40),
    note          text CHECK (length(note) <= 500),
    created_at    timestamptz NOT NULL DEFAULT now(),
    UNIQUE (target_kind, target_id, action, seen_updated_at)
);
CREATE INDEX ops_actions_created_idx ON ops_actions (created_at DESC);
CREATE INDEX outbound_messages_needs_human_idx ON outbound_messages (updated_at)
    WHERE status IN ('in_doubt', 'failed');
CREATE INDEX scheduled_sessions_sync_failed_idx ON scheduled_sessions (scheduled_at)
    WHERE calendar_sync_status = 'failed';
