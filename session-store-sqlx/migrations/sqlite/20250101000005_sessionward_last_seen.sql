-- sessionward: where a session was used after its login. `last_seen_from`
-- is the JSON of the latest use that recorded its request (address as the
-- policy stores it, location, device); `places` a JSON array of up to 8
-- distinct (network, place) pairs, newest first. Both NULL until a use
-- records them; written in the same UPDATE as `last_seen_at`.
ALTER TABLE sessionward_sessions ADD COLUMN last_seen_from TEXT NULL;
ALTER TABLE sessionward_sessions ADD COLUMN places TEXT NULL;
