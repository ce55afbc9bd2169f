// One voice call: token → socket → session.start → audio both ways, with captions, barge-in,
// mute, hang-up and reconnection after a network blip. UI-free: it reports through callbacks.

import { ApiError, type ParleyApi } from "../api";
import { CallAudio, MicError, OUTPUT_RATE } from "./audio";
import { openWebSocket, type ServerEvent, type VoiceTransport } from "./transport";

export type CallProblem =
  | "micDenied"
  | "micMissing"
  | "originRefused"
  | "keyInvalid"
  | "quota"
  | "busy"
  | "rateLimited"
  | "network"
  | "voiceUnavailable"
  | "server";

export interface CallEvents {
  state(state: "connecting" | "live" | "reconnecting" | "ended"): void;
  level(rms: number): void;
  speaking(bot: boolean): void;
  caption(role: "user" | "assistant", turn: string, text: string, final: boolean): void;
  interrupted(detail: Record<string, unknown>): void;
  problem(kind: CallProblem, retryAfter?: number): void;
  conversation(id: string): void;
}

const RECONNECT_DELAYS_MS = [500, 1500, 4000];
// Close codes after which trying again cannot help.
const FINAL_CLOSES: Record<number, CallProblem> = {
  4401: "keyInvalid",
  4403: "originRefused",
  4402: "quota",
  1011: "voiceUnavailable",
  1013: "rateLimited",
};

export class VoiceCall {
  private transport: VoiceTransport | null = null;
  private started = false;
  private ending = false;
  private finished = false;
  private attempts = 0;
  private lastProblem: CallProblem | null = null;
  // What continues this call's conversation after a network blip (session.started gives it):
  // the next session.start sends it, so the server keeps the history and does not greet again.
  private resume: { conversation_id: string; resume_token: string } | null = null;
  // Sessions so far: turn numbers restart in each, so caption keys carry the session too.
  private sessions = 0;
  readonly audio: CallAudio;

  /** Construct inside the user's tap (audio unlock). */
  constructor(
    private readonly api: ParleyApi,
    element: HTMLAudioElement,
    moduleUrl: string,
    private readonly events: CallEvents,
  ) {
    this.audio = new CallAudio(element, moduleUrl, {
      frame: (pcm) => this.started && this.transport?.sendAudio(pcm),
      level: (rms) => this.events.level(rms),
      playing: (active) => this.events.speaking(active),
    });
  }

  async start(): Promise<void> {
    this.events.state("connecting");
    try {
      await this.audio.start();
    } catch (err) {
      this.fail(err instanceof MicError && err.kind !== "other" ? (err.kind === "denied" ? "micDenied" : "micMissing") : "server");
      return;
    }
    await this.connect();
  }

  private async connect(): Promise<void> {
    let url: string;
    try {
      const token = await this.api.sessionToken();
      const base = this.api.base.replace(/^http/, "ws") + "/v1/voice/ws";
      url = token ? `${base}?token=${encodeURIComponent(token)}` : `${base}?key=${encodeURIComponent(this.api.key)}`;
    } catch (err) {
      if (err instanceof ApiError) {
        const map: Record<string, CallProblem> = { origin: "originRefused", key: "keyInvalid", quota: "quota", rate: "rateLimited", network: "network", unavailable: "voiceUnavailable" };
        return this.retryOr(map[err.kind] ?? "server", err.retryAfter ?? undefined);
      }
      return this.retryOr("server");
    }
    try {
      this.transport = await openWebSocket(url, {
        event: (e) => this.onEvent(e),
        audio: (pcm) => this.audio.play(pcm),
        closed: (code) => this.onClosed(code),
      });
    } catch {
      return this.retryOr("network");
    }
    this.transport.send({
      type: "session.start",
      bot_id: this.api.botId,
      sample_rate: this.audio.inputRate,
      channels: 1,
      output_sample_rate: OUTPUT_RATE,
      ...(this.resume ?? {}),
    });
  }

  private onEvent(e: ServerEvent): void {
    switch (e.type) {
      case "session.started":
        this.started = true;
        this.attempts = 0;
        this.sessions++;
        if (typeof e.resume_token === "string") {
          this.resume = { conversation_id: String(e.conversation_id), resume_token: e.resume_token };
        }
        this.events.conversation(String(e.conversation_id));
        this.events.state("live");
        break;
      case "transcript.partial":
        this.events.caption("user", `${this.sessions}u${e.utterance}`, String(e.text ?? ""), false);
        break;
      case "transcript.final":
        this.events.caption("user", `${this.sessions}u${e.utterance}`, String(e.text ?? ""), true);
        break;
      case "assistant.delta":
        this.events.caption("assistant", `${this.sessions}a${e.turn}`, String(e.text ?? ""), false);
        break;
      case "assistant.done":
        this.events.caption("assistant", `${this.sessions}a${e.turn}`, String(e.text ?? ""), true);
        break;
      case "notice":
        this.events.caption("assistant", `${this.sessions}n${e.turn}`, String(e.text ?? ""), true);
        break;
      case "interrupted":
        // Drop what is buffered now: the user is talking over the bot.
        this.audio.clear();
        this.events.interrupted(e);
        break;
      case "error":
        if (e.code === "conversation_not_found") {
          // The conversation cannot be continued (it is gone): the retry starts a fresh one.
          this.resume = null;
        } else if (e.code === "quota_exceeded") {
          this.lastProblem = e.limit_name === "concurrent_voice_sessions" ? "busy" : "quota";
        } else if (e.code === "unavailable") {
          this.lastProblem = "voiceUnavailable";
        } else if (e.code === "rate_limited") {
          this.lastProblem = "rateLimited";
        } else if (e.fatal) {
          this.lastProblem = e.code === "voice_unavailable" ? "voiceUnavailable" : "server";
        }
        break;
      case "session.ended":
        this.ending = true;
        break;
    }
  }

  private onClosed(code: number): void {
    this.transport = null;
    this.started = false;
    if (this.ending || code === 1000) {
      // The server ended the call (e.g. quota after its spoken notice): the last ~150 ms of
      // its audio are still queued, so let them play before the graph is closed.
      if (this.lastProblem) this.events.problem(this.lastProblem);
      setTimeout(() => void this.finish(), 600);
      return;
    }
    const final = this.lastProblem ?? FINAL_CLOSES[code];
    if (final) {
      this.fail(final);
      return;
    }
    this.retryOr("network");
  }

  private retryOr(problem: CallProblem, retryAfter?: number): void {
    if (problem !== "network" || this.attempts >= RECONNECT_DELAYS_MS.length || this.ending) {
      this.fail(problem, retryAfter);
      return;
    }
    this.events.state("reconnecting");
    const delay = RECONNECT_DELAYS_MS[this.attempts++];
    setTimeout(() => void (this.ending ? undefined : this.connect()), delay);
  }

  private fail(problem: CallProblem, retryAfter?: number): void {
    this.events.problem(problem, retryAfter);
    void this.finish();
  }

  mute(muted: boolean): void {
    this.audio.mute(muted);
  }

  /** Hang up: the server stores the call and closes. */
  async hangUp(): Promise<void> {
    this.ending = true;
    this.transport?.send({ type: "session.end" });
    // The server answers session.ended and closes; don't wait on it to free the mic.
    setTimeout(() => this.transport?.close(), 2000);
    await this.finish();
  }

  private async finish(): Promise<void> {
    if (this.finished) return;
    this.finished = true;
    this.ending = true;
    this.started = false;
    await this.audio.close();
    this.events.state("ended");
  }
}
