-- Mission Control schema, version 7: key certificates are fresh only for the property's
-- revalidation window and are re-issued at each sync.

-- The window, per property (default 7 days; a Portfolio Manager sets 1 to 90 days).
ALTER TABLE properties ADD COLUMN revalidation_secs INTEGER NOT NULL DEFAULT 604800;

-- The latest freshness any certificate of the key was issued with: a revocation of the key
-- need only last until then (no certificate of it opens a door afterwards), so even keys
-- without an expiry are revoked for a bounded time.
ALTER TABLE keys ADD COLUMN certified_until INTEGER;

-- Certificates of format version 1 carried no freshness, so nothing bounds them but their
-- expiry; doors refuse them now. They are re-issued (version 2) at the phone's next sync, and
-- a revocation of one of their keys still lasts until the key's expiry.
UPDATE keys SET certified_until = expiry WHERE certificate IS NOT NULL;
UPDATE keys SET certificate = NULL;
