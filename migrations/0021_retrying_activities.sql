-- Activities stuck retrying (docs/operations.md, "The ops queue"): each worker writes an activity here
-- once it has failed RETRYING_LISTED_AFTER attempts, and removes it when an attempt succeeds. The
-- error is its type's name only (an error's message may quote a person).
CREATE TABLE retrying_activities (
    workflow_id    text NOT NULL,
    activity_id    text NOT NULL,
    activity_type  text NOT NULL,
    attempt        integer NOT NULL CHECK (attempt >= 1),
    last_error     text NOT NULL CHECK (length(last_error) <= 200),
    first_failed_at timestamptz NOT NULL DEFAULT now(),
    updated_at     timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (workflow_id, activity_id)
);
CREATE INDEX retrying_activities_updated_idx ON retrying_activities (updated_at DESC);
