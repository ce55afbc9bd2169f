// <parley-chat>: the launcher, the panel, text chat and the call UI, in an open shadow root.

import { ApiError, ParleyApi, type Citation, type PublicBot } from "./api";
import { h, trapFocus } from "./dom";
import { renderMarkdown } from "./markdown";
import { ConversationStore, type StoredMessage } from "./storage";
import { format, pickStrings, type StringKey, type Strings } from "./strings";
import { CSS } from "./styles";
import { VoiceCall, type CallProblem } from "./voice/call";

export interface WidgetOptions {
  base: string;
  botId: string;
  key: string;
  lang: string | null;
  nonce: string;
  moduleUrl: string;
  launcher: boolean;
}

const SILENT_MIC_MS = 4000;
// This file is also evaluated as the audio worklet module, where HTMLElement does not exist.
const Base = (typeof HTMLElement === "undefined" ? class {} : HTMLElement) as typeof HTMLElement;

export class ParleyChat extends Base {
  private opts!: WidgetOptions;
  private api!: ParleyApi;
  private store!: ConversationStore;
  private t: Strings = pickStrings(navigator.language);
  private bot: PublicBot | null = null;
  private configError: ApiError | null = null;
  private messages: StoredMessage[] = [];
  private conversationId: string | null = null;
  private call: VoiceCall | null = null;
  private pending: AbortController | null = null;
  private lastQuestion: string | null = null;
  private quietSince = 0;
  private micHeard = false;
  private captionsByTurn = new Map<string, string>();
  private readonly shadow = this.attachShadow({ mode: "open" });
  private readonly ui = {} as {
    root: HTMLDivElement;
    launcher: HTMLButtonElement;
    launcherLabel: HTMLSpanElement;
    panel: HTMLElement;
    title: HTMLHeadingElement;
    callButton: HTMLButtonElement;
    log: HTMLDivElement;
    alert: HTMLDivElement;
    callBar: HTMLDivElement;
    status: HTMLParagraphElement;
    meter: HTMLDivElement;
    captions: HTMLDivElement;
    mute: HTMLButtonElement;
    input: HTMLTextAreaElement;
    send: HTMLButtonElement;
    audio: HTMLAudioElement;
  };

  configure(opts: WidgetOptions): void {
    this.opts = opts;
    this.api = new ParleyApi(opts.base, opts.botId, opts.key);
    this.store = new ConversationStore(opts.botId);
    this.t = pickStrings(opts.lang, navigator.language);
    this.adoptStyles();
    this.render();
    const saved = this.store.load();
    this.conversationId = saved.conversationId;
    this.messages = saved.messages;
    this.renderLog();
    void this.loadConfig();
  }

  private adoptStyles(): void {
    try {
      const sheet = new CSSStyleSheet();
      sheet.replaceSync(CSS);
      this.shadow.adoptedStyleSheets = [sheet];
    } catch {
      // Browsers without constructable stylesheets: a <style> carrying the page's nonce.
      const style = document.createElement("style");
      if (this.opts.nonce) style.nonce = this.opts.nonce;
      style.textContent = CSS;
      this.shadow.append(style);
    }
  }

  private emit(name: string, detail: unknown = null): void {
    this.dispatchEvent(new CustomEvent(`parley:${name}`, { detail, bubbles: true, composed: true }));
  }

  // ---- rendering --------------------------------------------------------------------------

  private render(): void {
    const t = this.t;
    const ui = this.ui;
    ui.launcherLabel = h("span", { text: t.launcher });
    ui.launcher = h("button", { class: "launcher", type: "button", "aria-haspopup": "dialog", "aria-expanded": "false", onclick: () => this.open() }, ui.launcherLabel);
    ui.launcher.hidden = !this.opts.launcher;
    ui.title = h("h2", { id: "parley-title", text: t.title });
    ui.callButton = h("button", { type: "button", class: "callbtn", "aria-label": t.callLabel, text: t.call, onclick: () => void this.startCall() });
    const closeButton = h("button", { type: "button", class: "x", "aria-label": t.close, text: "×", onclick: () => this.close() });
    ui.log = h("div", { class: "log", role: "log", "aria-live": "polite", "aria-label": t.messagesLabel, tabindex: "0" });
    ui.alert = h("div", { class: "alert", role: "alert" });
    ui.status = h("p", { class: "status", text: t.connecting });
    ui.meter = h("div", { class: "meter", role: "progressbar", "aria-label": t.micLevel, "aria-valuemin": "0", "aria-valuemax": "100", "aria-valuenow": "0" }, h("span"));
    ui.captions = h("div", { class: "captions", role: "log", "aria-live": "polite", "aria-label": t.captionsLabel });
    ui.mute = h("button", { type: "button", "aria-pressed": "false", text: t.mute, onclick: () => this.toggleMute() });
    const hang = h("button", { type: "button", class: "hang", text: t.hangUp, onclick: () => void this.endCall() });
    ui.callBar = h("div", { class: "call" }, ui.status, ui.meter, ui.captions, h("div", { class: "row" }, ui.mute, hang));
    ui.callBar.hidden = true;
    ui.input = h("textarea", { id: "parley-input", rows: "1", placeholder: t.placeholder, maxlength: "4000" });
    ui.input.addEventListener("keydown", (e) => {
      if (e.key === "Enter" && !e.shiftKey) {
        e.preventDefault();
        this.submit();
      }
    });
    ui.send = h("button", { type: "submit", text: t.send });
    const form = h("form", { onsubmit: (e: Event) => { e.preventDefault(); this.submit(); } },
      h("label", { class: "sr", for: "parley-input", text: t.inputLabel }), ui.input, ui.send);
    ui.panel = h("section", { class: "panel", role: "dialog", "aria-modal": "true", "aria-labelledby": "parley-title" },
      h("header", {}, ui.title, ui.callButton, closeButton), ui.log, ui.alert, ui.callBar, form);
    ui.panel.hidden = true;
    ui.panel.addEventListener("keydown", (e) => {
      if (e.key === "Escape") this.close();
      else trapFocus(ui.panel, this.shadow, e);
    });
    ui.audio = h("audio", { class: "sr", "aria-hidden": "true" });
    ui.root = h("div", { class: "root right" }, ui.launcher, ui.panel, ui.audio);
    this.shadow.append(ui.root);
    this.paint();
  }

  private paint(): void {
    const a = this.bot?.appearance ?? {};
    const root = this.ui.root;
    root.style.setProperty("--p-primary", a.primary_color || "#4f46e5");
    root.style.setProperty("--p-text", a.text_color || "#ffffff");
    root.className = `root ${a.position === "bottom-left" ? "left" : "right"}`;
    const name = a.title || this.bot?.name || this.t.title;
    this.ui.title.textContent = name;
    this.ui.launcherLabel.textContent = a.launcher_text || this.t.launcher;
    for (const img of this.shadow.querySelectorAll("img.avatar")) img.remove();
    if (a.avatar_url && /^https?:\/\//.test(a.avatar_url)) {
      this.ui.launcher.prepend(h("img", { class: "avatar", src: a.avatar_url, alt: "" }));
      this.ui.title.before(h("img", { class: "avatar", src: a.avatar_url, alt: "" }));
    }
  }

  private renderLog(): void {
    this.ui.log.replaceChildren();
    if (!this.messages.length && this.bot) {
      if (this.bot.greeting) this.ui.log.append(this.bubble({ role: "assistant", text: this.bot.greeting }));
      if (this.bot.starter_questions.length) {
        this.ui.log.append(h("div", { class: "starters" }, ...this.bot.starter_questions.map((q) =>
          h("button", { type: "button", text: q, onclick: () => this.ask(q) }))));
      }
    }
    for (const m of this.messages) this.ui.log.append(this.bubble(m));
    this.ui.log.scrollTop = this.ui.log.scrollHeight;
  }

  private bubble(m: StoredMessage): HTMLElement {
    const body = h("div", { class: "bubble" });
    if (m.role === "assistant") body.append(renderMarkdown(m.text));
    else body.textContent = m.text;
    const el = h("div", { class: `msg ${m.role}` }, h("span", { class: "sr", text: m.role === "user" ? this.t.you : this.t.bot }), body);
    if (m.citations?.length) el.append(this.sources(m.citations));
    if (m.role === "assistant" && m.id) el.append(this.rating(m));
    return el;
  }

  private sources(citations: Citation[]): HTMLElement {
    return h("ul", { class: "sources", "aria-label": this.t.sources }, ...citations.map((c) =>
      h("li", {}, c.url ? h("a", { href: c.url, target: "_blank", rel: "noopener noreferrer", text: c.title }) : c.title)));
  }

  private rating(m: StoredMessage): HTMLElement {
    const make = (value: "up" | "down", label: string, glyph: string) =>
      h("button", { type: "button", "aria-label": label, "aria-pressed": String(m.rating === value), text: glyph, onclick: () => void this.rate(m, value) });
    return h("div", { class: "rate" }, make("up", this.t.helpful, "▲"), make("down", this.t.notHelpful, "▼"));
  }

  private showAlert(key: StringKey | null, retryAfter?: number | null, retry?: () => void): void {
    this.ui.alert.replaceChildren();
    if (!key) return;
    this.ui.alert.append(format(this.t[key], { s: Math.max(1, Math.ceil(retryAfter ?? 1)) }));
    if (retry) this.ui.alert.append(h("button", { type: "button", text: this.t.retry, onclick: () => { this.showAlert(null); retry(); } }));
  }

  // ---- config -----------------------------------------------------------------------------

  private async loadConfig(): Promise<void> {
    try {
      this.bot = await this.api.publicConfig();
      this.t = pickStrings(this.opts.lang, this.bot.language, navigator.language);
      this.configError = null;
    } catch (err) {
      this.configError = err instanceof ApiError ? err : new ApiError("network", String(err));
    }
    this.paint();
    this.renderLog();
    if (this.configError) this.showProblem(this.configError);
    this.setEnabled(!this.configError || this.configError.kind === "network");
    this.emit("ready", { ok: !this.configError });
  }

  private setEnabled(enabled: boolean): void {
    this.ui.input.disabled = !enabled;
    this.ui.send.disabled = !enabled;
    this.ui.callButton.disabled = !enabled;
  }

  private showProblem(err: ApiError, retry?: () => void): void {
    const keys: Record<string, StringKey> = { origin: "originRefused", key: "keyInvalid", quota: "quota", rate: "rateLimited", busy: "busy", invalid: "tooLong", network: "network", server: "server", unavailable: "unavailable" };
    const retryable = ["rate", "network", "server"].includes(err.kind);
    this.showAlert(keys[err.kind], err.retryAfter, retryable ? retry ?? (() => void this.loadConfig()) : undefined);
    this.emit("error", { kind: err.kind });
  }

  // ---- text chat --------------------------------------------------------------------------

  private submit(): void {
    const text = this.ui.input.value.trim();
    if (!text || this.pending) return;
    this.ui.input.value = "";
    this.ask(text);
  }

  private ask(text: string): void {
    this.lastQuestion = text;
    this.messages.push({ role: "user", text });
    this.persist();
    this.renderLog();
    void this.stream(text);
  }

  private async stream(text: string): Promise<void> {
    this.showAlert(null);
    const reply: StoredMessage = { role: "assistant", text: "" };
    const el = h("div", { class: "msg assistant", "aria-busy": "true" }, h("div", { class: "bubble", text: "…" }));
    this.ui.log.append(el);
    this.pending = new AbortController();
    this.setEnabled(false);
    try {
      await this.api.chat(text, this.conversationId, this.store.visitorId(), {
        conversation: (id) => {
          this.conversationId = id;
        },
        delta: (d) => {
          reply.text += d;
          el.querySelector(".bubble")!.replaceChildren(renderMarkdown(reply.text));
          this.ui.log.scrollTop = this.ui.log.scrollHeight;
        },
        done: (r) => {
          reply.text = r.text || reply.text;
          reply.id = r.messageId;
          reply.citations = r.citations;
        },
      }, this.pending.signal);
      this.messages.push(reply);
      this.persist();
      el.replaceWith(this.bubble(reply));
      this.emit("reply", { text: reply.text, citations: reply.citations });
    } catch (err) {
      el.remove();
      const e = err instanceof ApiError ? err : new ApiError("network", String(err));
      // The question stays in the log; Retry asks it again.
      this.showProblem(e, () => void this.stream(this.lastQuestion ?? text));
    } finally {
      this.pending = null;
      this.setEnabled(true);
      this.ui.log.scrollTop = this.ui.log.scrollHeight;
    }
  }

  private persist(): void {
    this.store.save(this.conversationId, this.messages);
  }

  private async rate(m: StoredMessage, value: "up" | "down"): Promise<void> {
    if (!m.id) return;
    try {
      await this.api.feedback(m.id, value);
      m.rating = value;
      this.persist();
      this.renderLog();
      this.ui.alert.replaceChildren();
    } catch (err) {
      if (err instanceof ApiError) this.showProblem(err, () => void this.rate(m, value));
    }
  }

  // ---- voice ------------------------------------------------------------------------------

  async startCall(): Promise<void> {
    if (this.call || this.configError) return;
    this.open();
    this.showAlert(null);
    this.captionsByTurn.clear();
    this.ui.captions.replaceChildren();
    this.ui.callBar.hidden = false;
    this.ui.callButton.disabled = true;
    this.quietSince = performance.now();
    this.micHeard = false;
    // Built synchronously in the tap: audio contexts and <audio>.play() are unlocked here.
    const call = new VoiceCall(this.api, this.ui.audio, this.opts.moduleUrl, {
      state: (s) => this.onCallState(s),
      level: (rms) => this.onLevel(rms),
      speaking: (bot) => {
        if (this.call) this.ui.status.textContent = bot ? this.t.speaking : this.t.listening;
      },
      caption: (role, turn, text, final) => this.onCaption(role, turn, text, final),
      interrupted: (detail) => this.emit("interrupted", detail),
      problem: (kind: CallProblem, retryAfter) => {
        this.showAlert(kind, retryAfter);
        this.emit("error", { kind });
      },
      conversation: (id) => this.emit("call-start", { conversationId: id }),
    });
    this.call = call;
    await call.start();
  }

  async endCall(): Promise<void> {
    await this.call?.hangUp();
  }

  private onCallState(state: "connecting" | "live" | "reconnecting" | "ended"): void {
    const t = this.t;
    this.ui.status.textContent = { connecting: t.connecting, live: t.listening, reconnecting: t.reconnecting, ended: t.callEnded }[state];
    if (state === "ended") {
      this.call = null;
      this.ui.callBar.hidden = true;
      this.ui.callButton.disabled = Boolean(this.configError);
      this.ui.mute.setAttribute("aria-pressed", "false");
      this.ui.mute.textContent = t.mute;
      this.emit("call-end");
      this.ui.callButton.focus();
    }
  }

  private onLevel(rms: number): void {
    const pct = Math.min(100, Math.round(Math.sqrt(rms) * 250));
    this.ui.meter.style.setProperty("--level", `${pct}%`);
    this.ui.meter.setAttribute("aria-valuenow", String(pct));
    // A dead mic is one that never carried a sound since the call started (a caller who
    // stopped talking is not a dead mic, and a muted one is silent on purpose).
    if (rms > 0.002) this.micHeard = true;
    const muted = this.ui.mute.getAttribute("aria-pressed") === "true";
    if (!this.micHeard && !muted && performance.now() - this.quietSince > SILENT_MIC_MS && !this.ui.alert.textContent) {
      this.showAlert("micSilent");
    }
  }

  private onCaption(role: "user" | "assistant", turn: string, text: string, final: boolean): void {
    const sofar = role === "assistant" && !final ? (this.captionsByTurn.get(turn) ?? "") + text : text;
    this.captionsByTurn.set(turn, sofar);
    this.ui.captions.replaceChildren(h("span", { class: "who", text: `${role === "user" ? this.t.you : this.t.bot}: ` }), sofar);
    this.emit("transcript", { role, text: sofar, final });
    if (final && sofar.trim()) {
      this.messages.push({ role, text: sofar });
      this.persist();
      this.ui.log.append(this.bubble({ role, text: sofar }));
      this.ui.log.scrollTop = this.ui.log.scrollHeight;
    }
  }

  private toggleMute(): void {
    const muted = this.ui.mute.getAttribute("aria-pressed") !== "true";
    this.call?.mute(muted);
    this.ui.mute.setAttribute("aria-pressed", String(muted));
    this.ui.mute.textContent = muted ? this.t.unmute : this.t.mute;
  }

  // ---- open / close -----------------------------------------------------------------------

  open(): void {
    if (!this.ui.panel.hidden) return;
    this.ui.panel.hidden = false;
    this.ui.launcher.setAttribute("aria-expanded", "true");
    this.ui.launcher.hidden = true;
    (this.ui.input.disabled ? this.ui.panel.querySelector<HTMLElement>("button.x") : this.ui.input)?.focus();
    this.emit("open");
  }

  close(): void {
    if (this.ui.panel.hidden) return;
    this.ui.panel.hidden = true;
    this.ui.launcher.setAttribute("aria-expanded", "false");
    this.ui.launcher.hidden = !this.opts.launcher;
    if (this.opts.launcher) this.ui.launcher.focus();
    this.emit("close");
  }
}
