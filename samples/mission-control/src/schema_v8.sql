-- Mission Control schema, version 8: a person may have several devices, each with its own
-- certificate of every key; a lost one is removed (and refused at the doors).

-- One person, many devices (the person_id was UNIQUE). A removed device keeps its row (its
-- receipts name it) but loses its token.
CREATE TABLE devices_v8 (
    id INTEGER PRIMARY KEY,
    person_id INTEGER NOT NULL REFERENCES people(id),
    public_key BLOB NOT NULL,
    token_hash BLOB UNIQUE,
    created_at INTEGER NOT NULL,
    removed_at INTEGER
);
INSERT INTO devices_v8 (id, person_id, public_key, token_hash, created_at)
SELECT id, person_id, public_key, token_hash, created_at FROM devices;
DROP TABLE devices;
ALTER TABLE devices_v8 RENAME TO devices;
CREATE INDEX devices_person ON devices(person_id);
CREATE UNIQUE INDEX devices_person_key ON devices(person_id, public_key);

-- Every key's certificate per device (the key's own row had the one device's).
CREATE TABLE key_certificates (
    key_id INTEGER NOT NULL REFERENCES keys(id),
    device_id INTEGER NOT NULL REFERENCES devices(id),
    certificate BLOB NOT NULL,
    PRIMARY KEY (key_id, device_id)
);
INSERT INTO key_certificates (key_id, device_id, certificate)
SELECT k.id, d.id, k.certificate FROM keys k JOIN devices d ON d.person_id = k.person_id
WHERE k.certificate IS NOT NULL;
ALTER TABLE keys DROP COLUMN certificate;

-- One-time codes that enrol another device of a person (from a manager, or from one of the
-- person's devices); only their SHA-256 is stored.
CREATE TABLE device_codes (
    id INTEGER PRIMARY KEY,
    person_id INTEGER NOT NULL REFERENCES people(id),
    code_hash BLOB NOT NULL UNIQUE,
    created_at INTEGER NOT NULL,
    expires_at INTEGER NOT NULL,
    used_at INTEGER
);
