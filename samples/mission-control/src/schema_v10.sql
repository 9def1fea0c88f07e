-- Mission Control schema, version 10: webhooks. A Portfolio Manager registers an endpoint; each
-- event is written to the outbox (webhook_events) in the transaction of the change it tells of,
-- with one delivery per endpoint subscribed at that moment, posted in order by a background task.

CREATE TABLE webhook_endpoints (
    id INTEGER PRIMARY KEY,
    property_id INTEGER NOT NULL REFERENCES properties(id),
    url TEXT NOT NULL,
    -- JSON array of the event types sent (every type when it holds all of them).
    events TEXT NOT NULL,
    -- The HMAC-SHA256 key, sealed ('webhook_secret', id); shown once at registration.
    secret BLOB,
    -- A door with no contact for this long is reported silent (door.silent).
    door_silent_after_secs INTEGER NOT NULL,
    created_by INTEGER REFERENCES managers(id),
    created_at INTEGER NOT NULL,
    deleted_at INTEGER
);
CREATE INDEX webhook_endpoints_property ON webhook_endpoints(property_id) WHERE deleted_at IS NULL;

CREATE TABLE webhook_events (
    id INTEGER PRIMARY KEY,
    property_id INTEGER NOT NULL REFERENCES properties(id),
    type TEXT NOT NULL,
    -- The event's `data` as JSON.
    data TEXT NOT NULL,
    created_at INTEGER NOT NULL
);

CREATE TABLE webhook_deliveries (
    endpoint_id INTEGER NOT NULL REFERENCES webhook_endpoints(id),
    event_id INTEGER NOT NULL REFERENCES webhook_events(id),
    state TEXT NOT NULL CHECK (state IN ('pending', 'delivered', 'failed', 'cancelled')),
    attempts INTEGER NOT NULL DEFAULT 0,
    next_attempt_at INTEGER NOT NULL,
    last_status INTEGER,
    last_error TEXT,
    last_attempt_at INTEGER,
    delivered_at INTEGER,
    PRIMARY KEY (endpoint_id, event_id)
);
CREATE INDEX webhook_deliveries_pending ON webhook_deliveries(endpoint_id, event_id) WHERE state = 'pending';

-- The silence of a door an endpoint was told of (since its last contact at `last_contact`):
-- told once per silence.
CREATE TABLE webhook_door_silence (
    endpoint_id INTEGER NOT NULL REFERENCES webhook_endpoints(id),
    door_id INTEGER NOT NULL REFERENCES doors(id),
    last_contact INTEGER NOT NULL,
    PRIMARY KEY (endpoint_id, door_id)
);
