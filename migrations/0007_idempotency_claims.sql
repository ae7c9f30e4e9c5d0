-- Claims (issue 18, part 4): an Idempotency-Key is claimed before its action runs, and an outbox
-- row being sent names the delivery attempt that sends it. docs/reliability.md says what holds.

-- A key is 'claimed' while its first request runs the action (nothing kept yet), then 'done' with the
-- outcome every retry gets. A concurrent copy of the request waits for the outcome; a claim whose
-- lease ran out (its API process died mid-action) may be taken over, under a new token, by a retry.
-- Only the holder of the current token stores the outcome or releases (deletes) the claim.
ALTER TABLE api_idempotency_keys
    ADD COLUMN state text NOT NULL DEFAULT 'done' CHECK (state IN ('claimed', 'done')),
    ADD COLUMN claim_token uuid,
    ADD COLUMN lease_until timestamptz,
    ALTER COLUMN outcome DROP NOT NULL,
    ADD CONSTRAINT api_idempotency_keys_outcome_once_done CHECK (
        (state = 'claimed' AND outcome IS NULL AND claim_token IS NOT NULL AND lease_until IS NOT NULL)
        OR (state = 'done' AND outcome IS NOT NULL)
    );
-- Rows from before this migration are outcomes ('done'); a new row states what it is.
ALTER TABLE api_idempotency_keys ALTER COLUMN state DROP DEFAULT;

-- The delivery attempt holding a 'sending' row: the Temporal activity (workflow, run, activity id)
-- and its attempt number, and until when that attempt can be alive. A later attempt of the same
-- activity knows the holder died (in_doubt); another activity dispatching the same message leaves a
-- live attempt alone, and only a claim past its lease is marked in_doubt by someone else.
ALTER TABLE outbound_messages
    ADD COLUMN claimed_by text,
    ADD COLUMN claimed_attempt integer CHECK (claimed_attempt >= 1),
    ADD COLUMN lease_until timestamptz;
-- A row left 'sending' by a worker from before this migration: its lease has run out.
UPDATE outbound_messages
   SET claimed_by = 'before-0007', claimed_attempt = greatest(attempts, 1), lease_until = updated_at
 WHERE status = 'sending';
ALTER TABLE outbound_messages ADD CONSTRAINT outbound_messages_sending_has_claim CHECK (
    status <> 'sending' OR (claimed_by IS NOT NULL AND claimed_attempt IS NOT NULL AND lease_until IS NOT NULL)
);
