-- Mission Control schema, version 3: the door feed, numbering that follows the door, and
-- rejected updates as a state.

-- The highest update seq the door itself has shown (a verified receipt or its signed feed
-- hello), even beyond the log (a database restored from an older backup): new updates are
-- numbered above it. `diverged_at` is set when the door was found ahead of the log.
ALTER TABLE doors ADD COLUMN reported_seq INTEGER NOT NULL DEFAULT 0;
ALTER TABLE doors ADD COLUMN diverged_at INTEGER;
-- The door feed's last contact, and the door's clock as the door last stated it.
ALTER TABLE doors ADD COLUMN feed_seen_at INTEGER;
ALTER TABLE doors ADD COLUMN door_time INTEGER;
ALTER TABLE doors ADD COLUMN door_time_seen_at INTEGER;
UPDATE doors SET reported_seq = delivered_seq;

-- Why the door refused an update (the reason its signed activity record gives), if it did.
ALTER TABLE door_updates ADD COLUMN rejected TEXT;

-- A receipt may come from the door itself over the feed: no device uploaded it.
CREATE TABLE receipts_v3 (
    digest BLOB PRIMARY KEY,
    door_id INTEGER NOT NULL REFERENCES doors(id),
    applied_seq INTEGER NOT NULL,
    door_time INTEGER NOT NULL,
    device_id INTEGER REFERENCES devices(id),
    via_feed INTEGER NOT NULL DEFAULT 0,
    received_at INTEGER NOT NULL
);
INSERT INTO receipts_v3 (digest, door_id, applied_seq, door_time, device_id, via_feed, received_at)
SELECT digest, door_id, applied_seq, door_time, device_id, 0, received_at FROM receipts;
DROP TABLE receipts;
ALTER TABLE receipts_v3 RENAME TO receipts;
