-- Mission Control schema, version 6: secure keycards.

-- The property's card key (AES-128), sealed like the other secrets (`keyway_seal('card_key',
-- property id, key)`): every secure keycard's own key is diversified from it and the card's
-- UID, and every door installed from now on is provisioned with it. A property from before
-- gets its key, from the operating system's RNG, when it first needs one.
ALTER TABLE properties ADD COLUMN card_key BLOB;

-- Whether the door was provisioned with the card key, so that it can check a secure card.
-- Doors installed before read UID-only cards alone.
ALTER TABLE doors ADD COLUMN reads_secure_cards INTEGER NOT NULL DEFAULT 0;

-- How the doors check each card. Every card issued before is UID-only, as its doors hold it.
ALTER TABLE keycards ADD COLUMN kind TEXT NOT NULL DEFAULT 'uid_only' CHECK (kind IN ('secure', 'uid_only'));
