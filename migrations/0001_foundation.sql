-- Foundation schema: people, enrollments, numbered sessions, learning events, outbound messages.
-- Invariants live here as constraints so no code path (API, worker, a psql session) can break them.

CREATE EXTENSION IF NOT EXISTS vector;

CREATE TABLE coaches (
    id           uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    name         text NOT NULL CHECK (length(btrim(name)) BETWEEN 1 AND 200),
    email        text NOT NULL CHECK (email ~ '^[^@\s]+@[^@\s]+$'),
    phone        text CHECK (phone ~ '^\+[1-9][0-9]{7,14}$'),
    calendar_id  text,
    timezone     text NOT NULL DEFAULT 'Asia/Kolkata',
    created_at   timestamptz NOT NULL DEFAULT now()
);
CREATE UNIQUE INDEX coaches_email_key ON coaches (lower(email));

CREATE TABLE parents (
    id          uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    name        text NOT NULL CHECK (length(btrim(name)) BETWEEN 1 AND 200),
    -- E.164: the WhatsApp number the provider sends to and webhooks come from.
    phone       text NOT NULL UNIQUE CHECK (phone ~ '^\+[1-9][0-9]{7,14}$'),
    email       text CHECK (email ~ '^[^@\s]+@[^@\s]+$'),
    created_at  timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE children (
    id          uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    name        text NOT NULL CHECK (length(btrim(name)) BETWEEN 1 AND 200),
    age         integer NOT NULL CHECK (age BETWEEN 2 AND 18),
    parent_id   uuid NOT NULL REFERENCES parents (id),
    coach_id    uuid NOT NULL REFERENCES coaches (id),
    created_at  timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX children_coach_id_idx ON children (coach_id);
CREATE INDEX children_parent_id_idx ON children (parent_id);

CREATE TABLE enrollments (
    id                uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    child_id          uuid NOT NULL REFERENCES children (id),
    coach_id          uuid NOT NULL REFERENCES coaches (id),
    start_date        date NOT NULL,
    session_time      time NOT NULL,
    weekdays          text[] NOT NULL CHECK (
        cardinality(weekdays) BETWEEN 1 AND 7
        AND weekdays <@ ARRAY['mon', 'tue', 'wed', 'thu', 'fri', 'sat', 'sun']
    ),
    session_count     integer NOT NULL CHECK (session_count BETWEEN 1 AND 52),
    duration_minutes  integer NOT NULL DEFAULT 45 CHECK (duration_minutes BETWEEN 15 AND 180),
    -- The coach's timezone when the enrollment was made: the weekly slot is read in it.
    timezone          text NOT NULL,
    created_at        timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX enrollments_child_id_idx ON enrollments (child_id);

CREATE TABLE scheduled_sessions (
    id                         uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    child_id                   uuid NOT NULL REFERENCES children (id),
    coach_id                   uuid NOT NULL REFERENCES coaches (id),
    enrollment_id              uuid NOT NULL REFERENCES enrollments (id),
    session_number             integer NOT NULL CHECK (session_number >= 1),
    scheduled_at               timestamptz NOT NULL,
    duration_minutes           integer NOT NULL CHECK (duration_minutes BETWEEN 15 AND 180),
    status                     text NOT NULL DEFAULT 'scheduled' CHECK (
        status IN ('scheduled', 'pending', 'completed', 'missed', 'rescheduled', 'cancelled')
    ),
    google_event_id            text,
    meet_link                  text,
    calendar_sync_status       text NOT NULL DEFAULT 'pending' CHECK (
        calendar_sync_status IN ('synced', 'pending', 'failed')
    ),
    calendar_sync_error        text,
    coach_notes                text CHECK (length(coach_notes) <= 4000),
    cancellation_status        text NOT NULL DEFAULT 'none' CHECK (
        cancellation_status IN ('none', 'pending', 'approved', 'rejected')
    ),
    cancellation_requested_at  timestamptz,
    cancellation_reason        text CHECK (length(cancellation_reason) <= 500),
    cancellation_expires_at    timestamptz,
    completed_at               timestamptz,
    created_at                 timestamptz NOT NULL DEFAULT now(),
    updated_at                 timestamptz NOT NULL DEFAULT now(),
    version                    integer NOT NULL DEFAULT 1 CHECK (version >= 1),
    CONSTRAINT scheduled_sessions_number_key UNIQUE (enrollment_id, session_number),
    CONSTRAINT completed_at_iff_completed CHECK ((status = 'completed') = (completed_at IS NOT NULL)),
    CONSTRAINT pending_cancellation_is_complete CHECK (
        cancellation_status <> 'pending'
        OR (cancellation_requested_at IS NOT NULL AND cancellation_expires_at IS NOT NULL
            AND cancellation_reason IS NOT NULL)
    )
);
CREATE INDEX scheduled_sessions_child_idx ON scheduled_sessions (child_id, session_number);
CREATE INDEX scheduled_sessions_coach_idx ON scheduled_sessions (coach_id, scheduled_at);

CREATE TABLE learning_events (
    id                     uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    child_id               uuid NOT NULL REFERENCES children (id),
    coach_id               uuid REFERENCES coaches (id),
    session_id             uuid REFERENCES scheduled_sessions (id),
    event_type             text NOT NULL CONSTRAINT learning_events_event_type_check CHECK (event_type = ANY (ARRAY[
        'session', 'assessment', 'video', 'quiz', 'badge', 'streak', 'level_up', 'daily_recommendations',
        'session_completed', 'session_cancelled', 'session_rescheduled', 'session_missed'
    ])),
    event_date             timestamptz NOT NULL DEFAULT now(),
    event_data             jsonb NOT NULL DEFAULT '{}'::jsonb CHECK (jsonb_typeof(event_data) = 'object'),
    -- A readable sentence ("Session 5 cancelled: parent requested") for the pre-session brief's search.
    content_for_embedding  text NOT NULL CHECK (length(btrim(content_for_embedding)) > 0),
    search_vector          tsvector GENERATED ALWAYS AS (to_tsvector('english', content_for_embedding)) STORED,
    embedding              vector(768),
    -- Set by retried writers (activities) so a retry never records the same event twice.
    idempotency_key        text UNIQUE,
    created_at             timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX learning_events_child_idx ON learning_events (child_id, event_date DESC);
CREATE INDEX learning_events_session_idx ON learning_events (session_id);
CREATE INDEX learning_events_search_idx ON learning_events USING gin (search_vector);
CREATE INDEX learning_events_embedding_idx ON learning_events USING hnsw (embedding vector_cosine_ops);

-- Progress dashboard inputs (roadmap): assessment scores and homework.
CREATE TABLE assessments (
    id           uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    child_id     uuid NOT NULL REFERENCES children (id),
    session_id   uuid REFERENCES scheduled_sessions (id),
    assessed_at  timestamptz NOT NULL DEFAULT now(),
    kind         text NOT NULL DEFAULT 'reading' CHECK (length(kind) BETWEEN 1 AND 50),
    score        numeric(5, 2) NOT NULL CHECK (score BETWEEN 0 AND 100),
    created_at   timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX assessments_child_idx ON assessments (child_id, assessed_at);

CREATE TABLE homework_assignments (
    id            uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    child_id      uuid NOT NULL REFERENCES children (id),
    session_id    uuid REFERENCES scheduled_sessions (id),
    title         text NOT NULL CHECK (length(btrim(title)) BETWEEN 1 AND 200),
    assigned_at   timestamptz NOT NULL DEFAULT now(),
    due_date      date,
    completed_at  timestamptz,
    created_at    timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX homework_child_idx ON homework_assignments (child_id, assigned_at);

-- Outbox of outbound messages: written in the same transaction as the state change that causes it,
-- delivered by an activity. The idempotency key makes a retried writer enqueue once.
CREATE TABLE outbound_messages (
    id                   uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    idempotency_key      text NOT NULL UNIQUE,
    channel              text NOT NULL DEFAULT 'whatsapp' CHECK (channel IN ('whatsapp')),
    template_name        text NOT NULL,
    destination          text NOT NULL CHECK (destination ~ '^\+[1-9][0-9]{7,14}$'),
    user_name            text NOT NULL,
    template_params      jsonb NOT NULL DEFAULT '[]'::jsonb CHECK (jsonb_typeof(template_params) = 'array'),
    session_id           uuid REFERENCES scheduled_sessions (id),
    child_id             uuid REFERENCES children (id),
    status               text NOT NULL DEFAULT 'queued' CHECK (
        status IN ('queued', 'sending', 'sent', 'in_doubt', 'failed')
    ),
    attempts             integer NOT NULL DEFAULT 0 CHECK (attempts >= 0),
    provider             text,
    provider_message_id  text,
    last_error           text,
    created_at           timestamptz NOT NULL DEFAULT now(),
    sent_at              timestamptz,
    updated_at           timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT sent_has_time CHECK ((status = 'sent') = (sent_at IS NOT NULL))
);
CREATE INDEX outbound_messages_session_idx ON outbound_messages (session_id);
CREATE INDEX outbound_messages_provider_id_idx ON outbound_messages (provider_message_id)
    WHERE provider_message_id IS NOT NULL;

-- The local calendar provider (no Google credentials): events kept here, clearly not Google's.
CREATE TABLE local_calendar_events (
    calendar_id  text NOT NULL,
    event_id     text NOT NULL,
    summary      text NOT NULL,
    start_at     timestamptz NOT NULL,
    end_at       timestamptz NOT NULL CHECK (end_at > start_at),
    meet_link    text NOT NULL,
    status       text NOT NULL DEFAULT 'confirmed' CHECK (status IN ('confirmed', 'cancelled')),
    created_at   timestamptz NOT NULL DEFAULT now(),
    updated_at   timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (calendar_id, event_id)
);
