-- Mission Control schema, version 5: manager tokens expire.

-- When each manager's current token stops working (Unix seconds); issuing or rotating a token
-- sets it to the server's token lifetime from then. Tokens issued before this version get the
-- default lifetime (90 days) from the time of this migration, so the upgrade locks nobody out
-- and every token has an end.
ALTER TABLE managers ADD COLUMN token_expires_at INTEGER NOT NULL DEFAULT 0;
UPDATE managers SET token_expires_at = CAST(strftime('%s', 'now') AS INTEGER) + 90 * 86400;
