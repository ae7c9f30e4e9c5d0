-- Crypto-shredding (docs/security.md, "Crypto-shredding"): every child's Temporal payloads are encrypted
-- with that child's own data key, and the key is kept here wrapped (AES-256-GCM) by a master key of
-- PAYLOAD_ENCRYPTION_KEYS. Erasing the child shreds the key in the scrub's transaction: the wrapped key
-- becomes NULL, so the child's workflow histories (and every backup of Temporal's database) stop
-- decrypting, without rewriting them. A family is its children: erasing each child shreds each key.
CREATE TABLE child_data_keys (
    -- 'dk-' + a UUID: the id written into each payload's encryption-key-id metadata.
    key_id           text PRIMARY KEY CHECK (key_id ~ '^dk-[0-9a-f-]{36}$'),
    child_id         uuid NOT NULL UNIQUE REFERENCES children (id),
    -- The master key that wrapped it (a key id of PAYLOAD_ENCRYPTION_KEYS); NULL once shredded.
    wrapping_key_id  text CHECK (wrapping_key_id ~ '^[A-Za-z0-9._-]{1,64}$'),
    -- 12-byte nonce + AES-GCM(master, 32-byte data key, associated data = key_id): 12 + 32 + 16 bytes.
    wrapped_key      bytea CHECK (length(wrapped_key) = 60),
    created_at       timestamptz NOT NULL DEFAULT now(),
    shredded_at      timestamptz,
    -- A key is either usable (wrapped, with its wrapping key named) or shredded (nothing left to unwrap).
    CONSTRAINT child_data_keys_shredded_has_no_key CHECK (
        (shredded_at IS NULL AND wrapped_key IS NOT NULL AND wrapping_key_id IS NOT NULL)
        OR (shredded_at IS NOT NULL AND wrapped_key IS NULL AND wrapping_key_id IS NULL)
    )
);
