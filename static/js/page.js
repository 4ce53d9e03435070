// Small services of the /support page that need nothing of its state: what
// screen readers hear, what the address remembers, the socket's address.

import { ApiError } from "./api.js";
import { gettext, interpolate } from "./i18n.js";

// Read ``text`` out through the polite live region ``announcer``.
export function announceIn(announcer, text) {
  // Cleared first, so that the same words twice are still read out.
  announcer.textContent = "";
  window.setTimeout(() => {
    announcer.textContent = text;
  }, 50);
}

// What a message arriving live says aloud; ``elsewhere``: in a conversation
// other than the one shown.
export function arrivalText(message, elsewhere) {
  let format = elsewhere
    ? gettext("New message from %(name)s in another conversation: %(text)s")
    : gettext("New message from %(name)s: %(text)s");
  if (message.note) {
    format = elsewhere
      ? gettext("New note from %(name)s in another conversation: %(text)s")
      : gettext("New note from %(name)s: %(text)s");
  }
  return interpolate(format, { name: message.name, text: message.text.slice(0, 200) });
}

// Keep ``key`` in the address, so that a reload comes back to it.
export function remember(key, value) {
  const url = new URL(window.location.href);
  if (value === null) url.searchParams.delete(key);
  else url.searchParams.set(key, value);
  window.history.replaceState(null, "", url);
}

export function quietly(error) {
  // A signed-out answer is already on its way to the login page.
  if (!(error instanceof ApiError && error.signedOut)) console.error(error);
}

// coalesce=1: a busy inbox may get several messages in one frame.
export function socketUrl(path) {
  const scheme = window.location.protocol === "https:" ? "wss:" : "ws:";
  return `${scheme}//${window.location.host}${path}?coalesce=1`;
}
