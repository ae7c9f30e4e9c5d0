-- A family's link (docs/security.md, "Family links"): a parent reaches their own children's record with
-- a signed, expiring link instead of an account. The link is an HMAC (FAMILY_LINK_SECRET) over the
-- parent's id, this version and its expiry; only the version is stored, so a copy of this table forges
-- nothing. Revoking every link of the family (an admin's rotate, or the parent's erasure) adds one.
ALTER TABLE parents
    ADD COLUMN family_link_version integer NOT NULL DEFAULT 1 CHECK (family_link_version >= 1);
