-- Sign-in for real people (issue 21): admins get a home, a signed-in page has a server session, and an
-- OpenID sign-in in flight keeps its state here, single use, so a replayed callback finds nothing.

-- Until now an admin was any token that said role "admin". Now an admin is a row, looked up like a coach,
-- whichever way they came in (OpenID sign-in, a provider's token, a development token).
CREATE TABLE admins (
    id          uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    name        text NOT NULL CHECK (length(btrim(name)) BETWEEN 1 AND 200),
    email       text NOT NULL CHECK (email ~ '^[^@\s]+@[^@\s]+$'),
    created_at  timestamptz NOT NULL DEFAULT now()
);
CREATE UNIQUE INDEX admins_email_key ON admins (lower(email));

-- One row per signed-in browser. The cookie holds a random token; only its SHA-256 is stored, so a copy
-- of this table signs nobody in. A session ends at its absolute expiry, after SESSION_IDLE_TIMEOUT
-- without a request, or at Sign out (ended_at); an ended row is kept for the audit trail until purged.
CREATE TABLE sign_in_sessions (
    token_sha256   bytea PRIMARY KEY CHECK (length(token_sha256) = 32),
    coach_id       uuid REFERENCES coaches (id) ON DELETE CASCADE,
    admin_id       uuid REFERENCES admins (id) ON DELETE CASCADE,
    -- Sent back by the pages in X-CSRF-Token on every unsafe request (docs/security.md, "CSRF").
    csrf_token     text NOT NULL CHECK (length(csrf_token) >= 32),
    signed_in_with text NOT NULL CHECK (signed_in_with IN ('openid', 'development', 'token')),
    created_at     timestamptz NOT NULL DEFAULT now(),
    last_seen_at   timestamptz NOT NULL DEFAULT now(),
    expires_at     timestamptz NOT NULL,
    ended_at       timestamptz,
    CHECK (num_nonnulls(coach_id, admin_id) = 1),
    CHECK (expires_at > created_at)
);
CREATE INDEX sign_in_sessions_coach ON sign_in_sessions (coach_id) WHERE coach_id IS NOT NULL;
CREATE INDEX sign_in_sessions_admin ON sign_in_sessions (admin_id) WHERE admin_id IS NOT NULL;

-- Authlib's state for an authorization request (state, nonce, PKCE verifier, where to go next), keyed
-- by state. Read once: the read deletes the row, so a second callback with the same state is refused.
CREATE TABLE openid_sign_in_states (
    key         text PRIMARY KEY CHECK (length(key) <= 300),
    value       text NOT NULL,
    expires_at  timestamptz NOT NULL
);
