-- Mission Control schema, version 2: a guest key is registered under its parent key. Its id is
-- chosen by the phone that shared it, so the same id under another parent key (another person,
-- another property) is another guest key: it can neither block nor touch this one. `id` stays
-- the guest key id (top bit set, read as a signed integer); `row_id` names the registration.
CREATE TABLE guest_keys_v2 (
    row_id INTEGER PRIMARY KEY,
    id INTEGER NOT NULL,
    property_id INTEGER NOT NULL REFERENCES properties(id),
    parent_key_id INTEGER NOT NULL REFERENCES keys(id),
    person_id INTEGER NOT NULL REFERENCES people(id),
    chain BLOB NOT NULL,
    doors TEXT NOT NULL,
    start INTEGER NOT NULL,
    expiry INTEGER NOT NULL,
    label TEXT,
    revoked_at INTEGER,
    changed_seq INTEGER NOT NULL,
    created_at INTEGER NOT NULL,
    UNIQUE (property_id, id, parent_key_id)
);
INSERT INTO guest_keys_v2
    (id, property_id, parent_key_id, person_id, chain, doors, start, expiry, label, revoked_at, changed_seq, created_at)
SELECT g.id, p.property_id, g.parent_key_id, g.person_id, g.chain, g.doors, g.start, g.expiry, g.label, g.revoked_at,
       g.changed_seq, g.created_at
FROM guest_keys g JOIN people p ON p.id = g.person_id
ORDER BY g.created_at, g.id;
DROP TABLE guest_keys;
ALTER TABLE guest_keys_v2 RENAME TO guest_keys;
CREATE INDEX guest_keys_parent ON guest_keys(parent_key_id);
CREATE INDEX guest_keys_person ON guest_keys(person_id);

-- Welcome messages keep their token only until it is used or withdrawn: forget those of
-- accepted invites and deleted people now (a doorcode's first use was not recorded before).
UPDATE outbox SET body = replace(body, token, '[this code was used and is no longer shown]'), token = ''
WHERE token != '' AND person_id IN (SELECT person_id FROM devices);
UPDATE outbox SET body = replace(body, token, '[this code was withdrawn]'), token = ''
WHERE token != '' AND person_id IN (SELECT id FROM people WHERE deleted_at IS NOT NULL);
