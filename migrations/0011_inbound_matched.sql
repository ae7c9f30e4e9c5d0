-- A tap that answers a pending request is recorded 'matched', with the consent workflow it answers, and
-- becomes 'signalled' only once that workflow holds the signal. A delivery whose signal failed (the
-- Temporal server down: answered 503) is signalled when the provider delivers it again, instead of
-- being answered "duplicate" and lost. A 'matched' row older than a few seconds is a tap still owed
-- its signal (docs/operations.md shows the query).
ALTER TABLE inbound_messages DROP CONSTRAINT inbound_messages_outcome_check;
ALTER TABLE inbound_messages ADD CONSTRAINT inbound_messages_outcome_check
    CHECK (outcome IN ('matched', 'signalled', 'late', 'ignored'));
-- signal_claimed_until: the delivery signalling it now; a concurrent copy of the same delivery is a
-- duplicate while that claim lives. A failed signal ends the claim at once, so the redelivery signals.
ALTER TABLE inbound_messages ADD COLUMN consent_workflow_id text,
                             ADD COLUMN signal_claimed_until timestamptz;
ALTER TABLE inbound_messages ADD CONSTRAINT matched_names_its_workflow
    CHECK (outcome <> 'matched' OR (consent_workflow_id IS NOT NULL AND matched_session_id IS NOT NULL));
