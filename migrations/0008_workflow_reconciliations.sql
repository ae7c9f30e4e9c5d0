-- Workflows that must be told (or started) so that they agree with the database again.
--
-- A session's action commits in PostgreSQL inside its workflow's update; when the Temporal server dies
-- after that commit and before the update is in history, the workflow never hears of it. Every action
-- whose caller did not get its answer (a 503) asks for its session to be reconciled here; so does an
-- enrollment, in the transaction that creates it, until its workflow is known to be started. The
-- API's reconciler (api/services/reconciler.py) takes due rows, tells or starts the workflow (both
-- idempotent), and deletes the row; a row asked for again meanwhile is kept for the next pass.
CREATE TABLE workflow_reconciliations (
    kind            text        NOT NULL CHECK (kind IN ('session', 'enrollment')),
    target_id       uuid        NOT NULL,
    requested_at    timestamptz NOT NULL DEFAULT clock_timestamp(),
    due_at          timestamptz NOT NULL DEFAULT clock_timestamp(),
    attempts        integer     NOT NULL DEFAULT 0 CHECK (attempts >= 0),
    last_error      text        CHECK (length(last_error) <= 1000),
    PRIMARY KEY (kind, target_id)
);

CREATE INDEX workflow_reconciliations_due_idx ON workflow_reconciliations (due_at);
