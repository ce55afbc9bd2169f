-- One name per bot setting (voice_server/bot_config.py): the dashboard wrote `voice.voice_id` and
-- a top-level `end_of_turn_silence_ms`, voice read `voice.voice` and
-- `voice.end_of_turn_silence_ms`. Rows move to `voice.voice_id` and
-- `voice.end_of_turn_silence_ms` (the one name wins where both are present), and the never-used
-- `voice.provider` goes. JSON nulls mean "the server's setting" and are kept as they are.
WITH old AS (
    SELECT id, config,
           CASE WHEN jsonb_typeof(config -> 'voice') = 'object' THEN config -> 'voice'
                ELSE '{}'::jsonb END AS voice
    FROM bots
    WHERE config ? 'end_of_turn_silence_ms'
       OR (jsonb_typeof(config -> 'voice') = 'object'
           AND (config -> 'voice' ? 'voice' OR config -> 'voice' ? 'provider'))
)
UPDATE bots b
SET config = (old.config - 'end_of_turn_silence_ms') || jsonb_build_object(
        'voice',
        (old.voice - 'voice' - 'provider')
        || jsonb_strip_nulls(jsonb_build_object(
               'voice_id', coalesce(nullif(old.voice -> 'voice_id', 'null'::jsonb),
                                    nullif(old.voice -> 'voice', 'null'::jsonb)),
               'end_of_turn_silence_ms',
               coalesce(nullif(old.voice -> 'end_of_turn_silence_ms', 'null'::jsonb),
                        nullif(old.config -> 'end_of_turn_silence_ms', 'null'::jsonb)))))
FROM old
WHERE b.id = old.id;
