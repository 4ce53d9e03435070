// The messages this page sends, from the composer until stored: shown at
// once as pending ("Sending…"), kept in the Connection's outbox (sent again
// after a drop), replaced by the stored message when its echo comes, and,
// when refused, marked so that the person can retry or edit it.

import { errorText } from "./i18n.js";

function newClientId() {
  const bytes = crypto.getRandomValues(new Uint8Array(12));
  return "c-" + Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("");
}

export class Outgoing {
  // parts: isAdmin; list (MessageList); connection() -> the Connection;
  // announce(text).
  constructor(parts) {
    Object.assign(this, parts);
  }

  post(thread, text, note = false) {
    const clientId = newClientId();
    const pending = { clientId, text, note, failed: false, code: null };
    thread.pending.set(clientId, pending);
    if (this.list.isShowing(thread)) this.list.addPending(pending);
    const frame = { type: "send", text, client_id: clientId };
    if (this.isAdmin) frame.to = thread.user;
    if (note) frame.note = true;
    this.connection().post(frame);
  }

  // An error frame about one of ``threads``' pending messages.
  refused(frame, threads) {
    for (const thread of threads) {
      const pending = thread.pending.get(frame.client_id);
      if (!pending) continue;
      pending.failed = true;
      pending.code = frame.code;
      if (this.list.isShowing(thread)) this.list.updatePending(pending);
      this.announce(errorText(frame.code));
      return;
    }
  }

  // Take a pending message out of ``thread`` (to send again, or to edit):
  // {text, note}, or null when it is not there.
  take(thread, clientId) {
    const pending = thread?.pending.get(clientId);
    if (!pending) return null;
    thread.pending.delete(clientId);
    this.connection().forget(clientId);
    this.list.removePending(clientId);
    return pending;
  }
}
