"""A small async Python client for Parley's HTTP API and voice WebSocket (httpx + websockets).

    async with ParleyClient("http://localhost:8000") as parley:
        await parley.sign_up("ada@example.com", "a long password", "Acme")
        bot = await parley.create_bot("Helper")
        await parley.upload_document("hours.txt", b"We open at nine.", bot_id=bot["id"])
        print((await parley.chat(bot["id"], "When do you open?"))["text"])
        call = await parley.talk(bot["id"], "question.wav")

It depends on nothing of the server's code, only on the documented API (/schema and
docs/voice-protocol.md).
"""

from parley_client.client import ParleyClient
from parley_client.errors import ParleyApiError, ParleyClientError, VoiceSessionError
from parley_client.sse import SseEvent
from parley_client.voice import VoiceTurn

__all__ = [
    "ParleyApiError",
    "ParleyClient",
    "ParleyClientError",
    "SseEvent",
    "VoiceSessionError",
    "VoiceTurn",
]
