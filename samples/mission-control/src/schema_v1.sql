-- Mission Control schema, version 1. Ids are SQLite rowids; guest key ids (top bit set) are
-- stored as the same 64 bits read as a signed integer.
CREATE TABLE meta (
    name TEXT PRIMARY KEY,
    value TEXT NOT NULL
);

CREATE TABLE properties (
    id INTEGER PRIMARY KEY,
    name TEXT NOT NULL,
    authority_secret BLOB NOT NULL,
    utc_offset_minutes INTEGER NOT NULL,
    -- Bumped by every change a phone must learn of; rows carry the value of their last change.
    change_seq INTEGER NOT NULL DEFAULT 0,
    created_at INTEGER NOT NULL
);

CREATE TABLE managers (
    id INTEGER PRIMARY KEY,
    property_id INTEGER NOT NULL REFERENCES properties(id),
    name TEXT NOT NULL,
    token_hash BLOB NOT NULL UNIQUE,
    portfolio_manager INTEGER NOT NULL,
    key_management INTEGER NOT NULL,
    created_at INTEGER NOT NULL
);

CREATE TABLE doors (
    id INTEGER PRIMARY KEY,
    property_id INTEGER NOT NULL REFERENCES properties(id),
    name TEXT NOT NULL,
    online INTEGER NOT NULL,
    certificate BLOB NOT NULL,
    doorcode_secret BLOB NOT NULL,
    next_slot INTEGER NOT NULL DEFAULT 1,
    log_head INTEGER NOT NULL DEFAULT 0,
    delivered_seq INTEGER NOT NULL DEFAULT 0,
    activity_head INTEGER NOT NULL DEFAULT 0,
    created_at INTEGER NOT NULL
);

CREATE TABLE people (
    id INTEGER PRIMARY KEY,
    property_id INTEGER NOT NULL REFERENCES properties(id),
    name TEXT NOT NULL,
    contact TEXT NOT NULL,
    access TEXT NOT NULL,
    resident INTEGER NOT NULL,
    may_share INTEGER NOT NULL,
    -- The welcome message's token: one-use invite (app key) or doorcode view token.
    token_hash BLOB NOT NULL UNIQUE,
    changed_seq INTEGER NOT NULL,
    deleted_at INTEGER,
    created_at INTEGER NOT NULL
);

CREATE TABLE devices (
    id INTEGER PRIMARY KEY,
    person_id INTEGER NOT NULL UNIQUE REFERENCES people(id),
    public_key BLOB NOT NULL,
    token_hash BLOB NOT NULL UNIQUE,
    created_at INTEGER NOT NULL
);

CREATE TABLE keys (
    id INTEGER PRIMARY KEY,
    person_id INTEGER NOT NULL REFERENCES people(id),
    doors TEXT NOT NULL,
    start INTEGER NOT NULL,
    expiry INTEGER NOT NULL,
    resident INTEGER NOT NULL,
    may_share INTEGER NOT NULL,
    certificate BLOB,
    revoked_at INTEGER,
    replaced_by INTEGER,
    changed_seq INTEGER NOT NULL,
    created_at INTEGER NOT NULL
);
CREATE INDEX keys_person ON keys(person_id);

CREATE TABLE guest_keys (
    id INTEGER PRIMARY KEY,
    parent_key_id INTEGER NOT NULL REFERENCES keys(id),
    person_id INTEGER NOT NULL REFERENCES people(id),
    chain BLOB NOT NULL,
    doors TEXT NOT NULL,
    start INTEGER NOT NULL,
    expiry INTEGER NOT NULL,
    label TEXT,
    revoked_at INTEGER,
    changed_seq INTEGER NOT NULL,
    created_at INTEGER NOT NULL
);
CREATE INDEX guest_keys_parent ON guest_keys(parent_key_id);

CREATE TABLE doorcode_slots (
    door_id INTEGER NOT NULL REFERENCES doors(id),
    slot INTEGER NOT NULL,
    key_id INTEGER NOT NULL REFERENCES keys(id),
    PRIMARY KEY (door_id, slot),
    UNIQUE (key_id, door_id)
);

CREATE TABLE keycards (
    id INTEGER PRIMARY KEY,
    property_id INTEGER NOT NULL REFERENCES properties(id),
    person_id INTEGER NOT NULL REFERENCES people(id),
    card BLOB NOT NULL,
    doors TEXT NOT NULL,
    start INTEGER NOT NULL,
    expiry INTEGER NOT NULL,
    removed_at INTEGER,
    created_at INTEGER NOT NULL
);
CREATE UNIQUE INDEX keycards_in_use ON keycards(property_id, card) WHERE removed_at IS NULL;

-- Each offline door's update log: the content of a seq never changes once written.
CREATE TABLE door_updates (
    door_id INTEGER NOT NULL REFERENCES doors(id),
    seq INTEGER NOT NULL,
    update_bytes BLOB NOT NULL,
    created_at INTEGER NOT NULL,
    delivered_at INTEGER,
    receipt_door_time INTEGER,
    PRIMARY KEY (door_id, seq)
);

CREATE TABLE receipts (
    digest BLOB PRIMARY KEY,
    door_id INTEGER NOT NULL REFERENCES doors(id),
    applied_seq INTEGER NOT NULL,
    door_time INTEGER NOT NULL,
    device_id INTEGER NOT NULL REFERENCES devices(id),
    received_at INTEGER NOT NULL
);

CREATE TABLE activity (
    door_id INTEGER NOT NULL REFERENCES doors(id),
    seq INTEGER NOT NULL,
    time INTEGER NOT NULL,
    event TEXT NOT NULL,
    person_id INTEGER,
    received_at INTEGER NOT NULL,
    PRIMARY KEY (door_id, seq)
);
CREATE INDEX activity_person ON activity(person_id);

CREATE TABLE outbox (
    id INTEGER PRIMARY KEY,
    property_id INTEGER NOT NULL REFERENCES properties(id),
    person_id INTEGER NOT NULL REFERENCES people(id),
    recipient TEXT NOT NULL,
    subject TEXT NOT NULL,
    body TEXT NOT NULL,
    token TEXT NOT NULL,
    access TEXT NOT NULL,
    created_at INTEGER NOT NULL
);
