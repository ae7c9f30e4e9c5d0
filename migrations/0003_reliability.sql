-- Consistency under faults: one active enrollment per child and coach, retry-safe API actions, and a
-- "system" decider for a cancellation request whose consent process failed.

-- An enrollment is active until every one of its sessions is completed, missed or cancelled (the
-- transition that resolves the last one ends it). A child has at most one active enrollment with a
-- coach: posting the same enrollment twice answers the existing one instead of creating a twin.
ALTER TABLE enrollments
    ADD COLUMN status text NOT NULL DEFAULT 'active' CHECK (status IN ('active', 'ended'));

-- Existing twins (created before this rule) keep only their newest enrollment active.
UPDATE enrollments e SET status = 'ended'
 WHERE EXISTS (
    SELECT 1 FROM enrollments newer
     WHERE newer.child_id = e.child_id AND newer.coach_id = e.coach_id
       AND (newer.created_at, newer.id) > (e.created_at, e.id)
 );

CREATE UNIQUE INDEX enrollments_one_active_per_child_and_coach
    ON enrollments (child_id, coach_id) WHERE status = 'active';

-- Idempotency-Key: the first answer to an action, returned again to a retry with the same key.
CREATE TABLE api_idempotency_keys (
    principal_id   uuid NOT NULL,
    key            text NOT NULL CHECK (length(key) BETWEEN 1 AND 200),
    -- The action and its arguments (a hash): the same key with another request is refused.
    fingerprint    text NOT NULL,
    -- {"session": …} for a success, {"error": code, "detail": …, "extra": {…}} for a refusal.
    outcome        jsonb NOT NULL,
    created_at     timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (principal_id, key)
);
CREATE INDEX api_idempotency_keys_created_at_idx ON api_idempotency_keys (created_at);

ALTER TABLE scheduled_sessions DROP CONSTRAINT scheduled_sessions_cancellation_decided_by_check;
ALTER TABLE scheduled_sessions ADD CONSTRAINT scheduled_sessions_cancellation_decided_by_check CHECK (
    cancellation_decided_by IN ('parent', 'auto', 'admin', 'coach', 'system')
);

-- Each worker process marks itself alive here every few seconds; /readyz reports a task queue whose
-- newest mark is stale as having no worker (actions would wait for nobody).
CREATE TABLE worker_heartbeats (
    identity    text PRIMARY KEY,
    task_queue  text NOT NULL,
    seen_at     timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX worker_heartbeats_task_queue_idx ON worker_heartbeats (task_queue, seen_at DESC);
