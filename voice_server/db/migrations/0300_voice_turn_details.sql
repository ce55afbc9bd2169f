-- Voice turns: how long end-of-turn detection waited in silence (the waterfall in 0001 starts
-- when the end of turn was decided, so this is what the user waited on top of total_ms), and the
-- playback position where an interrupted reply stopped.
ALTER TABLE turns ADD COLUMN end_of_turn_wait_ms double precision;
ALTER TABLE turns ADD COLUMN played_ms double precision;
