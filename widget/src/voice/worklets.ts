// The two AudioWorklet processors. They run in the AudioWorkletGlobalScope, which parley.js
// itself is loaded into (`addModule(<parley.js URL>)`): one file to serve, and a page whose CSP
// allows parley.js allows its worklets too (no blob: or data: URLs, which strict CSPs refuse).

declare const sampleRate: number;
declare function registerProcessor(name: string, ctor: unknown): void;
declare class AudioWorkletProcessor {
  readonly port: MessagePort;
}

export const CAPTURE = "parley-capture";
export const PLAYER = "parley-player";

export function inWorkletScope(): boolean {
  return typeof registerProcessor === "function" && typeof document === "undefined";
}

export function registerProcessors(): void {
  // Microphone → PCM16 in 20 ms frames at the context's rate, with the frame's level (RMS) for
  // the meter. Muting sends silence, so the server's clock keeps running.
  class Capture extends AudioWorkletProcessor {
    private readonly frame = Math.round(sampleRate / 50);
    private pcm = new Int16Array(this.frame);
    private n = 0;
    private sumsq = 0;
    private muted = false;

    constructor() {
      super();
      this.port.onmessage = (e: MessageEvent) => {
        if (e.data?.type === "mute") this.muted = Boolean(e.data.value);
      };
    }

    process(inputs: Float32Array[][]): boolean {
      const input = inputs[0]?.[0];
      if (!input) return true;
      for (let i = 0; i < input.length; i++) {
        const x = input[i];
        this.sumsq += x * x;
        const s = this.muted ? 0 : Math.max(-1, Math.min(1, x));
        this.pcm[this.n++] = s < 0 ? s * 0x8000 : s * 0x7fff;
        if (this.n === this.frame) {
          const level = Math.sqrt(this.sumsq / this.frame);
          this.port.postMessage({ pcm: this.pcm.buffer, level }, [this.pcm.buffer]);
          this.pcm = new Int16Array(this.frame);
          this.n = 0;
          this.sumsq = 0;
        }
      }
      return true;
    }
  }

  // Reply audio: PCM16 chunks queued and played as they come. It waits for about 60 ms of audio
  // before starting (or restarting after running dry), which removes underruns on busy
  // machines; "clear" drops everything at once (barge-in). At most a minute is queued.
  class Player extends AudioWorkletProcessor {
    private queue: Float32Array[] = [];
    private offset = 0;
    private queued = 0;
    private playing = false;
    private readonly prebuffer = Math.round(sampleRate * 0.06);
    private readonly max = sampleRate * 60;

    constructor() {
      super();
      this.port.onmessage = (e: MessageEvent) => {
        const msg = e.data;
        if (msg?.type === "pcm") {
          const ints = new Int16Array(msg.pcm as ArrayBuffer);
          if (this.queued + ints.length > this.max) return;
          const floats = new Float32Array(ints.length);
          for (let i = 0; i < ints.length; i++) floats[i] = ints[i] / 0x8000;
          this.queue.push(floats);
          this.queued += floats.length;
        } else if (msg?.type === "clear") {
          this.queue = [];
          this.offset = 0;
          this.queued = 0;
          if (this.playing) this.port.postMessage({ type: "idle" });
          this.playing = false;
        }
      };
    }

    process(_inputs: Float32Array[][], outputs: Float32Array[][]): boolean {
      const out = outputs[0][0];
      if (!this.playing && this.queued >= this.prebuffer) {
        this.playing = true;
        this.port.postMessage({ type: "playing" });
      }
      if (!this.playing) {
        out.fill(0);
        return true;
      }
      let i = 0;
      while (i < out.length && this.queue.length) {
        const head = this.queue[0];
        const take = Math.min(out.length - i, head.length - this.offset);
        out.set(head.subarray(this.offset, this.offset + take), i);
        i += take;
        this.offset += take;
        this.queued -= take;
        if (this.offset === head.length) {
          this.queue.shift();
          this.offset = 0;
        }
      }
      if (i < out.length) {
        out.fill(0, i);
        this.playing = false;
        this.port.postMessage({ type: "idle" });
      }
      for (let c = 1; c < outputs[0].length; c++) outputs[0][c].set(out);
      return true;
    }
  }

  registerProcessor(CAPTURE, Capture);
  registerProcessor(PLAYER, Player);
}
