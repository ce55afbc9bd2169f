// The visitor's conversation survives reloads and navigation: its id and messages are kept in
// localStorage per bot, and expire after a day of silence (a new visit starts fresh).

export interface StoredCitation {
  title: string;
  url: string | null;
}

export interface StoredMessage {
  role: "user" | "assistant";
  text: string;
  id?: string | null;
  citations?: StoredCitation[];
  rating?: "up" | "down";
}

interface Stored {
  conversationId: string | null;
  messages: StoredMessage[];
  savedAt: number;
}

const TTL_MS = 24 * 60 * 60 * 1000;
const MAX_MESSAGES = 100;

export class ConversationStore {
  private readonly key: string;

  constructor(botId: string, private readonly now: () => number = Date.now) {
    this.key = `parley:${botId}`;
  }

  load(): Stored {
    const empty: Stored = { conversationId: null, messages: [], savedAt: this.now() };
    try {
      const raw = window.localStorage.getItem(this.key);
      if (!raw) return empty;
      const value = JSON.parse(raw) as Stored;
      if (typeof value.savedAt !== "number" || this.now() - value.savedAt > TTL_MS) {
        window.localStorage.removeItem(this.key);
        return empty;
      }
      return { ...value, messages: Array.isArray(value.messages) ? value.messages : [] };
    } catch {
      return empty; // storage blocked (private mode, sandboxed frame): the chat still works
    }
  }

  save(conversationId: string | null, messages: StoredMessage[]): void {
    const value: Stored = {
      conversationId,
      messages: messages.slice(-MAX_MESSAGES),
      savedAt: this.now(),
    };
    try {
      window.localStorage.setItem(this.key, JSON.stringify(value));
    } catch {
      /* quota or blocked storage: nothing to keep */
    }
  }

  visitorId(): string {
    const key = "parley:visitor";
    try {
      let id = window.localStorage.getItem(key);
      if (!id) {
        id = crypto.randomUUID();
        window.localStorage.setItem(key, id);
      }
      return id;
    } catch {
      return "anonymous";
    }
  }
}
