// The call's audio graph, built inside the user's tap so browsers let it play:
//   mic (EC/NS/AGC on, device as `ideal`) → capture worklet → PCM16 frames to the transport
//   reply PCM16 → player worklet → MediaStreamDestination → hidden <audio>
// Routing playback through an <audio> element lets the browser's echo canceller hear the bot
// and keeps iOS playing with the screen locked.

import { CAPTURE, PLAYER } from "./worklets";

export const OUTPUT_RATE = 24000;
const DEVICE_KEY = "parley:mic";

export class MicError extends Error {
  constructor(readonly kind: "denied" | "missing" | "other") {
    super(kind);
  }
}

export interface AudioCallbacks {
  frame(pcm: ArrayBuffer): void;
  level(rms: number): void;
  playing(active: boolean): void;
}

export class CallAudio {
  readonly captureContext: AudioContext;
  readonly playContext: AudioContext;
  private stream: MediaStream | null = null;
  private capture: AudioWorkletNode | null = null;
  private player: AudioWorkletNode | null = null;
  private wakeLock: { release(): Promise<void> } | null = null;

  /** Call synchronously inside the click handler: contexts and play() need the gesture. */
  constructor(
    private readonly element: HTMLAudioElement,
    private readonly moduleUrl: string,
    private readonly callbacks: AudioCallbacks,
  ) {
    this.captureContext = new AudioContext();
    this.playContext = new AudioContext({ sampleRate: OUTPUT_RATE });
    void this.captureContext.resume();
    void this.playContext.resume();
    const destination = this.playContext.createMediaStreamDestination();
    this.element.srcObject = destination.stream;
    // Unlocked now, inside the tap; silence plays until the first reply arrives.
    this.element.play().catch(() => undefined);
    this.destination = destination;
  }

  private readonly destination: MediaStreamAudioDestinationNode;

  get inputRate(): number {
    return this.captureContext.sampleRate;
  }

  async start(): Promise<void> {
    let stored: string | null = null;
    try {
      stored = window.localStorage.getItem(DEVICE_KEY);
    } catch {
      /* storage blocked */
    }
    const constraints: MediaTrackConstraints = {
      echoCancellation: true,
      noiseSuppression: true,
      autoGainControl: true,
      channelCount: 1,
    };
    // `ideal`, never `exact`: a device that went away must not make the call fail.
    if (stored) constraints.deviceId = { ideal: stored };
    try {
      this.stream = await navigator.mediaDevices.getUserMedia({ audio: constraints });
    } catch (err) {
      const name = (err as DOMException)?.name;
      if (name === "NotAllowedError" || name === "SecurityError") throw new MicError("denied");
      if (name === "NotFoundError" || name === "OverconstrainedError") throw new MicError("missing");
      throw new MicError("other");
    }
    const track = this.stream.getAudioTracks()[0];
    const id = track?.getSettings().deviceId;
    if (id) {
      try {
        window.localStorage.setItem(DEVICE_KEY, id);
      } catch {
        /* storage blocked */
      }
    }
    await Promise.all([
      this.captureContext.audioWorklet.addModule(this.moduleUrl),
      this.playContext.audioWorklet.addModule(this.moduleUrl),
    ]);
    this.capture = new AudioWorkletNode(this.captureContext, CAPTURE, {
      numberOfInputs: 1,
      numberOfOutputs: 0,
    });
    this.capture.port.onmessage = (e: MessageEvent) => {
      this.callbacks.level(e.data.level as number);
      this.callbacks.frame(e.data.pcm as ArrayBuffer);
    };
    this.captureContext.createMediaStreamSource(this.stream).connect(this.capture);
    this.player = new AudioWorkletNode(this.playContext, PLAYER, { outputChannelCount: [1] });
    this.player.port.onmessage = (e: MessageEvent) => this.callbacks.playing(e.data.type === "playing");
    this.player.connect(this.destination);
    const nav = navigator as Navigator & { wakeLock?: { request(t: string): Promise<{ release(): Promise<void> }> } };
    nav.wakeLock?.request("screen").then((l) => (this.wakeLock = l), () => undefined);
  }

  play(pcm: ArrayBuffer): void {
    this.player?.port.postMessage({ type: "pcm", pcm }, [pcm]);
  }

  /** Barge-in: drop every buffered sample now. */
  clear(): void {
    this.player?.port.postMessage({ type: "clear" });
  }

  mute(muted: boolean): void {
    this.capture?.port.postMessage({ type: "mute", value: muted });
    for (const t of this.stream?.getAudioTracks() ?? []) t.enabled = !muted;
  }

  async close(): Promise<void> {
    for (const t of this.stream?.getTracks() ?? []) t.stop();
    this.capture?.disconnect();
    this.player?.disconnect();
    this.element.pause();
    this.element.srcObject = null;
    void this.wakeLock?.release().catch(() => undefined);
    await Promise.allSettled([this.captureContext.close(), this.playContext.close()]);
  }
}
