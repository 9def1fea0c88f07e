-- Mission Control schema, version 9: authority key rotation; door certificates expire (the
-- version-1 certificates stored before are re-signed as version 2 by this migration's hook).

CREATE TABLE authority_rotations (
    id INTEGER PRIMARY KEY,
    property_id INTEGER NOT NULL REFERENCES properties(id),
    old_key BLOB NOT NULL,
    new_key BLOB NOT NULL,
    -- The successor's secret, sealed ('rotation_secret', id), until the switch moves it into
    -- properties.authority_secret (then NULL: one copy of each secret).
    new_secret BLOB,
    -- The old key's signed statement naming the new one (phones follow it).
    statement BLOB NOT NULL,
    started_at INTEGER NOT NULL,
    switched_at INTEGER,
    completed_at INTEGER
);
-- At most one rotation of a property in progress.
CREATE UNIQUE INDEX authority_rotations_open ON authority_rotations(property_id) WHERE completed_at IS NULL;

-- The door update each door must apply for each phase of a rotation.
CREATE TABLE rotation_doors (
    rotation_id INTEGER NOT NULL REFERENCES authority_rotations(id),
    door_id INTEGER NOT NULL REFERENCES doors(id),
    phase TEXT NOT NULL CHECK (phase IN ('trust', 'retire')),
    seq INTEGER NOT NULL,
    PRIMARY KEY (rotation_id, door_id, phase)
);
