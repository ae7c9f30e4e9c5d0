-- Pre-session brief: embeddings of learning events (one row per event and model) and the stored briefs.

-- Vectors of different models and sizes live side by side in one untyped `vector` column; each model
-- gets a partial HNSW index on its own cast (`embedding::vector(N)`), so a query names the model and its
-- size and uses only that model's rows. `learning_events.embedding` (0001) is superseded and stays NULL.
CREATE TABLE learning_event_embeddings (
    event_id    uuid NOT NULL REFERENCES learning_events (id) ON DELETE CASCADE,
    -- "<model>:<dimensions>", e.g. "wordllama-l2_supercat:256", "gemini-embedding-001:768".
    model       text NOT NULL CHECK (model ~ '^[a-z0-9._-]+:[0-9]+$'),
    -- Copied from the event so a per-child search filters this table alone (see the search SQL).
    child_id    uuid NOT NULL REFERENCES children (id),
    embedding   vector NOT NULL,
    created_at  timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (event_id, model),
    CONSTRAINT embedding_size_matches_model CHECK (vector_dims(embedding) = split_part(model, ':', 2)::integer)
);
-- Exact search through the child's rows when the planner finds that cheaper than the HNSW scan.
CREATE INDEX learning_event_embeddings_child_idx ON learning_event_embeddings (model, child_id);
CREATE INDEX learning_event_embeddings_wordllama_256_hnsw ON learning_event_embeddings
    USING hnsw ((embedding::vector(256)) vector_cosine_ops) WHERE model = 'wordllama-l2_supercat:256';
CREATE INDEX learning_event_embeddings_gemini_768_hnsw ON learning_event_embeddings
    USING hnsw ((embedding::vector(768)) vector_cosine_ops) WHERE model = 'gemini-embedding-001:768';

-- The last brief generated for a session (one row, replaced on each generation).
CREATE TABLE session_briefs (
    session_id    uuid PRIMARY KEY REFERENCES scheduled_sessions (id),
    child_id      uuid NOT NULL REFERENCES children (id),
    -- {"challenges", "motivators", "recommended_activities": [{"text", "event_ids"}], "session_focus": {...}}
    brief         jsonb NOT NULL CHECK (jsonb_typeof(brief) = 'object'),
    -- [{"id", "event_type", "event_date", "text"}]: the retrieved events the brief may cite.
    sources       jsonb NOT NULL CHECK (jsonb_typeof(sources) = 'array'),
    model         text NOT NULL CHECK (length(model) BETWEEN 1 AND 200),
    -- The learning record as of this instant was read: a child's event created later makes it stale.
    record_as_of  timestamptz NOT NULL,
    generated_at  timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX session_briefs_child_idx ON session_briefs (child_id);
-- Freshness check: "any event of this child created after record_as_of?"
CREATE INDEX learning_events_child_created_idx ON learning_events (child_id, created_at DESC);
