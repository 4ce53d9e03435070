// Typing (PROTOCOL.md 5.1), both ways and nothing stored. The composer says
// "typing" at most every TYPING_EVERY_MS while keys are pressed, and
// nothing when they stop: the other side forgets a typist TYPING_SHOWN_MS
// after the last word, or at once when their message arrives. Between
// admins it is the collision hint: someone else is answering (or writing a
// note) in the same conversation.

import { gettext } from "./i18n.js";
import { el, interpolateNodes } from "./render.js";

export const TYPING_EVERY_MS = 2000;
export const TYPING_SHOWN_MS = 6000;

// The composer's side: one frame per TYPING_EVERY_MS at most, sooner when it
// says something new (another conversation, a note instead of a reply).
export class TypingSender {
  // send(frame) -> false when no socket is ready.
  constructor(send) {
    this.send = send;
    this.lastKey = null;
    this.lastAt = 0;
  }

  typed(frame) {
    const key = JSON.stringify(frame);
    const now = Date.now();
    if (key === this.lastKey && now - this.lastAt < TYPING_EVERY_MS) return;
    if (this.send(frame)) {
      this.lastKey = key;
      this.lastAt = now;
    }
  }

  // A message went: the next key pressed is news again.
  reset() {
    this.lastKey = null;
  }
}

// The receiving side: who types where, shown under the open conversation's
// messages and, for the team, as "typing…" in the customer's inbox row.
export class TypingIndicator {
  // node: the line under the messages; me; rows(user) -> the inbox and
  // search rows of that conversation (the team's page).
  constructor(node, { me, rows = () => [] }) {
    this.node = node;
    this.me = me;
    this.rows = rows;
    this.threads = new Map(); // thread -> Map(user -> {name, rol, note, timer})
    this.open = null;
  }

  received(frame) {
    if (frame.user === this.me || typeof frame.thread !== "string") return;
    let typists = this.threads.get(frame.thread);
    if (!typists) {
      typists = new Map();
      this.threads.set(frame.thread, typists);
    }
    clearTimeout(typists.get(frame.user)?.timer);
    typists.set(frame.user, {
      name: frame.name,
      rol: frame.rol,
      note: Boolean(frame.note),
      timer: setTimeout(() => this.stopped(frame.thread, frame.user), TYPING_SHOWN_MS),
    });
    this.#changed(frame.thread);
  }

  // ``user`` stopped typing in ``thread`` (their message came, or time passed).
  stopped(thread, user) {
    const typists = this.threads.get(thread);
    const typist = typists?.get(user);
    if (!typist) return;
    clearTimeout(typist.timer);
    typists.delete(user);
    if (!typists.size) this.threads.delete(thread);
    this.#changed(thread);
  }

  // The conversation in view (null: none).
  show(thread) {
    this.open = thread;
    this.#render();
  }

  // Rows are redrawn as messages come: put the mark back on a new one.
  markRows(thread) {
    const customer = this.threads.get(thread)?.has(thread);
    const text = gettext("typing…");
    for (const row of this.rows(thread)) {
      if (customer) {
        row.dataset.typing = text;
        // Shown by the stylesheet in place of the last message's preview.
        row.style.setProperty("--typing-text", JSON.stringify(text));
      } else {
        delete row.dataset.typing;
        row.style.removeProperty("--typing-text");
      }
    }
  }

  #changed(thread) {
    this.markRows(thread);
    if (thread === this.open) this.#render();
  }

  #render() {
    const typists = this.threads.get(this.open);
    const lines = [];
    for (const [user, typist] of typists ?? []) {
      let format = gettext("%(name)s is typing…");
      if (typist.note) format = gettext("%(name)s is writing a note…");
      const line = el("span", typist.note ? "typing__who typing__who--note" : "typing__who");
      line.dataset.user = user;
      line.append(...interpolateNodes(format, { name: typist.name }));
      lines.push(line);
    }
    this.node.replaceChildren(...lines);
    this.node.hidden = lines.length === 0;
  }
}
