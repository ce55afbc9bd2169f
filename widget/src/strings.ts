// Every string the widget shows or announces, in one table so it can be translated. A site picks
// the language with `data-lang`; otherwise the bot's language, then the browser's, then English.

const en = {
  launcher: "Talk to us",
  open: "Open chat",
  close: "Close chat",
  title: "Chat",
  call: "Call",
  callLabel: "Start a voice call",
  hangUp: "Hang up",
  mute: "Mute",
  unmute: "Unmute",
  send: "Send",
  placeholder: "Type your question…",
  inputLabel: "Your message",
  messagesLabel: "Conversation",
  captionsLabel: "Live captions",
  you: "You",
  bot: "Assistant",
  sources: "Sources",
  helpful: "Helpful",
  notHelpful: "Not helpful",
  thanks: "Thanks for the feedback.",
  retry: "Try again",
  connecting: "Connecting…",
  listening: "Listening…",
  speaking: "Speaking…",
  callEnded: "Call ended.",
  reconnecting: "Connection lost. Reconnecting…",
  micLevel: "Microphone level",
  micSilent: "We can't hear your microphone. Check that it is on and not muted.",
  micDenied:
    "Microphone access was blocked. Allow the microphone for this site in your browser's settings, or type instead.",
  micMissing: "No microphone was found. You can type instead.",
  originRefused: "This chat is not enabled on this website.",
  keyInvalid: "This chat is not available: its key is invalid or was revoked.",
  quota: "This assistant has reached its usage limit. Please try again later.",
  rateLimited: "Too many messages at once. Please wait {s} seconds and try again.",
  busy: "All voice lines are busy. Please try again in a moment.",
  network: "You seem to be offline, or the server can't be reached.",
  server: "Something went wrong on our side. Please try again.",
  tooLong: "That message is too long.",
  voiceUnavailable: "Voice calls are not available right now. You can type instead.",
  unavailable: "This assistant is unavailable right now. Please try again later.",
};

export type Strings = typeof en;
export type StringKey = keyof Strings;

const fr: Strings = {
  launcher: "Discutons",
  open: "Ouvrir la discussion",
  close: "Fermer la discussion",
  title: "Discussion",
  call: "Appeler",
  callLabel: "Démarrer un appel vocal",
  hangUp: "Raccrocher",
  mute: "Couper le micro",
  unmute: "Rétablir le micro",
  send: "Envoyer",
  placeholder: "Écrivez votre question…",
  inputLabel: "Votre message",
  messagesLabel: "Conversation",
  captionsLabel: "Sous-titres en direct",
  you: "Vous",
  bot: "Assistant",
  sources: "Sources",
  helpful: "Utile",
  notHelpful: "Pas utile",
  thanks: "Merci pour votre avis.",
  retry: "Réessayer",
  connecting: "Connexion…",
  listening: "À l'écoute…",
  speaking: "Parle…",
  callEnded: "Appel terminé.",
  reconnecting: "Connexion perdue. Reconnexion…",
  micLevel: "Niveau du micro",
  micSilent: "Nous n'entendons pas votre micro. Vérifiez qu'il est allumé et non coupé.",
  micDenied:
    "L'accès au micro a été bloqué. Autorisez le micro pour ce site dans les réglages du navigateur, ou écrivez plutôt.",
  micMissing: "Aucun micro n'a été trouvé. Vous pouvez écrire.",
  originRefused: "Cette discussion n'est pas activée sur ce site.",
  keyInvalid: "Cette discussion n'est pas disponible : sa clé est invalide ou révoquée.",
  quota: "Cet assistant a atteint sa limite d'utilisation. Réessayez plus tard.",
  rateLimited: "Trop de messages d'un coup. Attendez {s} secondes puis réessayez.",
  busy: "Toutes les lignes vocales sont occupées. Réessayez dans un instant.",
  network: "Vous semblez hors ligne, ou le serveur est injoignable.",
  server: "Une erreur est survenue de notre côté. Réessayez.",
  tooLong: "Ce message est trop long.",
  voiceUnavailable: "Les appels vocaux ne sont pas disponibles pour le moment. Vous pouvez écrire.",
  unavailable: "Cet assistant n'est pas disponible pour le moment. Réessayez plus tard.",
};

const TABLES: Record<string, Strings> = { en, fr };

export function pickStrings(...preferences: (string | null | undefined)[]): Strings {
  for (const pref of preferences) {
    const base = (pref ?? "").toLowerCase().split("-")[0];
    if (base && TABLES[base]) return TABLES[base];
  }
  return en;
}

export function format(text: string, values: Record<string, string | number>): string {
  return text.replace(/\{(\w+)\}/g, (_, k: string) => String(values[k] ?? ""));
}
