-- Erasing a child (docs/security.md, "Erasure"): one row per erased child, written when the erasure is
-- asked for and completed when Postgres has been scrubbed. The row is what "already done" reads.
CREATE TABLE child_erasures (
    child_id      uuid PRIMARY KEY REFERENCES children (id),
    requested_by  uuid NOT NULL,
    requested_at  timestamptz NOT NULL DEFAULT now(),
    completed_at  timestamptz,
    CONSTRAINT child_erasures_completed_after_requested CHECK (completed_at IS NULL OR completed_at >= requested_at)
);

-- An erased parent's phone becomes '+999' and eleven digits from this sequence: unique (parents.phone is)
-- and accepted by the phone CHECK, and no one's (country code 999 is not assigned).
CREATE SEQUENCE erased_phone_numbers;
