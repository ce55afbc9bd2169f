// The voice transport: Parley's voice WebSocket (docs/voice-protocol.md). JSON events one way
// and the other, PCM16 in binary frames. A WebRTC transport can sit behind the same interface.

export type ServerEvent = { type: string } & Record<string, unknown>;

export interface TransportHandlers {
  event(e: ServerEvent): void;
  audio(pcm: ArrayBuffer): void;
  closed(code: number, reason: string): void;
}

export interface VoiceTransport {
  send(message: Record<string, unknown>): void;
  sendAudio(pcm: ArrayBuffer): void;
  close(): void;
}

// Queued mic audio beyond this (a stalled socket) is dropped rather than piling up.
const MAX_BUFFERED_BYTES = 256 * 1024;

export function openWebSocket(url: string, handlers: TransportHandlers): Promise<VoiceTransport> {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(url);
    ws.binaryType = "arraybuffer";
    let opened = false;
    ws.onopen = () => {
      opened = true;
      resolve({
        send: (m) => ws.readyState === WebSocket.OPEN && ws.send(JSON.stringify(m)),
        sendAudio: (pcm) => {
          if (ws.readyState === WebSocket.OPEN && ws.bufferedAmount < MAX_BUFFERED_BYTES) ws.send(pcm);
        },
        close: () => {
          ws.onclose = null;
          ws.close(1000);
        },
      });
    };
    ws.onmessage = (e: MessageEvent) => {
      if (typeof e.data === "string") {
        try {
          handlers.event(JSON.parse(e.data) as ServerEvent);
        } catch {
          /* not JSON: the protocol never sends that */
        }
      } else {
        handlers.audio(e.data as ArrayBuffer);
      }
    };
    ws.onclose = (e: CloseEvent) => {
      if (!opened) reject(new Error(`closed ${e.code}`));
      else handlers.closed(e.code, e.reason);
    };
  });
}
