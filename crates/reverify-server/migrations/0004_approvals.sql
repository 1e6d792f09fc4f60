-- Approvals: a verification started for an action records what the user approves (type,
-- summary, fields and the digest the server computed, as JSON). Set once, at the start.
ALTER TABLE verifications ADD COLUMN action TEXT;
