-- Mission Control schema, version 4: secrets at rest are sealed, and properties are created by
-- operators.

-- The authority secrets and doorcode secrets are sealed under the secret key, which is kept
-- outside the database (see secret_key.rs); `keyway_seal` is registered on the connection with
-- that key before migrating, so without it this migration fails and changes nothing. With
-- secure_delete on, the clear values are overwritten, not left in free space.
UPDATE properties SET authority_secret = keyway_seal('authority_secret', id, authority_secret);
UPDATE doors SET doorcode_secret = keyway_seal('doorcode_secret', id, doorcode_secret);
-- A value sealed under the same key, so that opening with another key fails at once.
INSERT INTO meta (name, value) VALUES ('secret_key_check', hex(keyway_seal('key_check', 0, zeroblob(32))));

-- Operator tokens may create properties; only their SHA-256 is stored. A property remembers
-- the operator that created it (none for those from before), for the quota.
CREATE TABLE operators (
    id INTEGER PRIMARY KEY,
    token_hash BLOB NOT NULL UNIQUE,
    created_at INTEGER NOT NULL
);
ALTER TABLE properties ADD COLUMN operator_id INTEGER REFERENCES operators(id);
CREATE INDEX properties_operator ON properties(operator_id);
