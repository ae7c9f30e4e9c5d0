-- Writers from before 0007 (a rolling deploy; the benchmark's A/B runs the previous commit on this schema).
--
-- A worker from before 0007 claims a message ('queued' → 'sending') without naming its attempt; with
-- 0007's CHECK that claim would fail, and such a worker, still running during a rolling deploy (or the
-- benchmark's A/B, which runs the previous commit's worker on this schema), could deliver nothing.
-- Its claim is given a name and a short lease here instead, so the CHECK holds for every writer: a
-- second dispatch leaves it alone for a minute, then takes it for dead (in_doubt), as before 0007.
CREATE FUNCTION outbound_messages_name_unnamed_claim() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    IF NEW.status = 'sending' AND NEW.claimed_by IS NULL THEN
        NEW.claimed_by := 'worker-before-0007';
        NEW.claimed_attempt := greatest(NEW.attempts, 1);
        NEW.lease_until := now() + interval '1 minute';
    END IF;
    RETURN NEW;
END
$$;

CREATE TRIGGER outbound_messages_name_unnamed_claim
    BEFORE INSERT OR UPDATE OF status ON outbound_messages
    FOR EACH ROW EXECUTE FUNCTION outbound_messages_name_unnamed_claim();

-- The same for an API process from before 0007: it stores a key's outcome in one INSERT, naming no
-- state. Such a row is a finished one ('done', its outcome given), which the CHECK of 0007 accepts.
ALTER TABLE api_idempotency_keys ALTER COLUMN state SET DEFAULT 'done';
