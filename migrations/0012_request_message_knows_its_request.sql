-- A cancellation request's p26 message names its request (the consent workflow id, consent-<session>-<n>).
--
-- The "already decided" notice (p28) is queued once per request, keyed by that id. A tap quoting an older
-- request's message (withdrawn, then a new request sent) was keyed by the session's current request
-- instead, and used up the notice the new request's own late taps were owed.
ALTER TABLE outbound_messages ADD COLUMN consent_workflow_id text;

-- Set where the session records its request's message, so every writer sets it (a worker from before
-- this migration during a rolling deploy, the benchmark's A/B, a test's plain SQL). A message's request
-- never changes once known: a later write that names the same message leaves it.
CREATE FUNCTION scheduled_sessions_name_request_message() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    IF NEW.cancellation_message_id IS NOT NULL AND NEW.consent_workflow_id IS NOT NULL THEN
        UPDATE outbound_messages SET consent_workflow_id = NEW.consent_workflow_id
         WHERE id = NEW.cancellation_message_id AND consent_workflow_id IS NULL;
    END IF;
    RETURN NULL;
END
$$;

CREATE TRIGGER scheduled_sessions_name_request_message
    AFTER INSERT OR UPDATE OF cancellation_message_id ON scheduled_sessions
    FOR EACH ROW EXECUTE FUNCTION scheduled_sessions_name_request_message();

-- Each session's current request message is known exactly. Older ones stay unnamed: a tap quoting one
-- gets a notice keyed by the message itself, still one per request.
UPDATE outbound_messages o SET consent_workflow_id = s.consent_workflow_id
  FROM scheduled_sessions s
 WHERE s.cancellation_message_id = o.id AND s.consent_workflow_id IS NOT NULL;
