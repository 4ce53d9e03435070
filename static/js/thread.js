// One conversation's messages (Thread: data, de-duplicated by id) and the
// list that shows one thread at a time (MessageList: DOM).

import { errorText, gettext } from "./i18n.js";
import { appendLinkified, dayLabel, el, textEl, timeElement } from "./render.js";

// Within this many pixels of the end counts as "reading the newest".
const STICK_TO_BOTTOM_PX = 64;
// Refusals of the text itself: sending it again cannot work.
const UNRETRIABLE_CODES = new Set(["too_long", "empty_text"]);
// Messages of one sender this close together form a run: name and time once.
const RUN_GAP_MS = 5 * 60 * 1000;

export class Thread {
  constructor(user) {
    this.user = user;
    this.byId = new Map();
    this.ids = []; // ascending
    this.pending = new Map(); // client_id -> {clientId, text, failed, code}
    this.hasOlder = false;
    this.loaded = false;
    this.loading = null;
    this.loadingOlder = false;
  }

  // Store a message; false when it was already here (a resume repeats some).
  add(message) {
    if (this.byId.has(message.id)) return false;
    this.byId.set(message.id, message);
    const ids = this.ids;
    if (!ids.length || ids[ids.length - 1] < message.id) {
      ids.push(message.id);
    } else {
      let low = 0;
      let high = ids.length;
      while (low < high) {
        const mid = (low + high) >> 1;
        if (ids[mid] < message.id) low = mid + 1;
        else high = mid;
      }
      ids.splice(low, 0, message.id);
    }
    return true;
  }

  get lastId() {
    return this.ids.length ? this.ids[this.ids.length - 1] : 0;
  }

  get oldestId() {
    return this.ids.length ? this.ids[0] : 0;
  }

  messages() {
    return this.ids.map((id) => this.byId.get(id));
  }
}

// How long a message found by a search stays marked.
const FOUND_MS = 3000;

// "Note": an internal note of the team, which the customer never sees.
function noteLabel() {
  return el("span", "msg__note-label", gettext("Note"));
}

// A message's text: its own paragraph, in its own direction (render.js).
function messageText(text) {
  const node = el("p", "msg__text");
  node.dir = "auto";
  appendLinkified(node, text);
  return node;
}

export class MessageList {
  // options: me (username), isAdmin, emptyText, onRetry(clientId), onEdit(clientId)
  constructor(listEl, scrollerEl, options) {
    this.list = listEl;
    this.scroller = scrollerEl;
    this.options = options;
    this.thread = null;
    this.empty = el("li", "messages__empty", options.emptyText);
    this.list.addEventListener("click", (event) => this.#onClick(event));
    // The list shrinks when the composer grows (a long draft) or the window
    // does: a reader who was at the newest message stays there.
    this.pinned = true;
    scrollerEl.addEventListener("scroll", () => (this.pinned = this.#atEnd()), {
      passive: true,
    });
    new ResizeObserver(() => {
      if (this.pinned) this.scrollToEnd();
    }).observe(scrollerEl);
  }

  // Render ``thread`` from scratch and show its newest messages.
  show(thread) {
    this.thread = thread;
    const nodes = thread.messages().map((m) => this.#messageNode(m));
    for (const pending of thread.pending.values()) nodes.push(this.#pendingNode(pending));
    this.list.replaceChildren(...nodes);
    this.#updateEmpty();
    this.#regroup();
    this.scrollToEnd();
  }

  clear() {
    this.thread = null;
    this.list.replaceChildren();
  }

  // Scroll to message ``id`` and mark it for a moment (a search's find).
  reveal(id) {
    const node = this.list.querySelector(`[data-id="${Number(id)}"]`);
    if (!node) return false;
    node.scrollIntoView({ block: "center" });
    this.pinned = this.#atEnd();
    node.classList.remove("msg--found");
    // Restarted, should the same message be found twice in a row.
    void node.offsetWidth;
    node.classList.add("msg--found");
    window.setTimeout(() => node.classList.remove("msg--found"), FOUND_MS);
    return true;
  }

  isShowing(thread) {
    return this.thread === thread;
  }

  scrollToEnd() {
    this.scroller.scrollTop = this.scroller.scrollHeight;
  }

  #atEnd() {
    const s = this.scroller;
    return s.scrollHeight - s.scrollTop - s.clientHeight < STICK_TO_BOTTOM_PX;
  }

  // Put one stored message in its place by id (the thread already holds it).
  insert(message) {
    const follow = this.#atEnd() || message.from === this.options.me;
    this.#place(message);
    this.#updateEmpty();
    this.#regroup();
    if (follow) this.scrollToEnd();
  }

  // Older messages from a history page: the view stays where the reader is.
  insertOlder(messages) {
    const before = this.scroller.scrollHeight;
    const top = this.scroller.scrollTop;
    for (const message of messages) this.#place(message);
    this.#updateEmpty();
    this.#regroup();
    this.scroller.scrollTop = top + (this.scroller.scrollHeight - before);
  }

  #place(message) {
    if (this.list.querySelector(`[data-id="${message.id}"]`)) return;
    const node = this.#messageNode(message);
    // Stored messages are in id order; pending ones stay after them all.
    let after = null;
    for (let child = this.list.lastElementChild; child; child = child.previousElementSibling) {
      if (child.dataset.id && Number(child.dataset.id) < message.id) {
        after = child;
        break;
      }
    }
    if (after) {
      after.after(node);
    } else {
      this.list.prepend(node);
    }
  }

  addPending(pending) {
    this.list.append(this.#pendingNode(pending));
    this.#updateEmpty();
    this.#regroup();
    this.scrollToEnd();
  }

  updatePending(pending) {
    const old = this.#pendingElement(pending.clientId);
    if (old) old.replaceWith(this.#pendingNode(pending));
    this.#regroup();
  }

  removePending(clientId) {
    this.#pendingElement(clientId)?.remove();
    this.#updateEmpty();
    this.#regroup();
  }

  #pendingElement(clientId) {
    for (const node of this.list.querySelectorAll("[data-client-id]")) {
      if (node.dataset.clientId === clientId) return node;
    }
    return null;
  }

  #updateEmpty() {
    const hasItems = [...this.list.children].some((child) => child.classList.contains("msg"));
    if (hasItems) this.empty.remove();
    else if (this.thread?.loaded) this.list.append(this.empty);
  }

  // Mark each message that continues its sender's run (same sender, same
  // day, within RUN_GAP_MS of the one before it).
  // Also puts a day separator before the first message of each day.
  #regroup() {
    for (const day of this.list.querySelectorAll(":scope > li.day")) day.remove();
    let previous = null;
    for (const node of [...this.list.children]) {
      if (!node.classList.contains("msg")) continue;
      const date = new Date(Number(node.dataset.sent));
      if (!previous || date.toDateString() !== new Date(Number(previous.dataset.sent)).toDateString()) {
        node.before(el("li", "day", dayLabel(date)));
      }
      const sent = Number(node.dataset.sent);
      const gap = previous ? sent - Number(previous.dataset.sent) : Infinity;
      // A note never joins a run: its label stays in sight.
      const continued =
        previous !== null &&
        !node.classList.contains("msg--note") &&
        !previous.classList.contains("msg--note") &&
        previous.dataset.from === node.dataset.from &&
        gap >= 0 &&
        gap <= RUN_GAP_MS &&
        new Date(sent).toDateString() === new Date(Number(previous.dataset.sent)).toDateString();
      node.classList.toggle("msg--continued", continued);
      previous = node;
    }
  }

  #isOurs(message) {
    // Each side of the conversation on its own side of the screen: the
    // person asking on the left for the team, the team on the left for them.
    return this.options.isAdmin ? message.rol === "admin" : message.from === this.options.me;
  }

  #bubble(classes, author) {
    const node = el("li", `msg ${classes}`);
    const meta = el("p", "msg__meta");
    meta.append(textEl("span", "msg__author", author));
    node.append(meta);
    return node;
  }

  #messageNode(message) {
    const mine = message.from === this.options.me;
    const classes = [this.#isOurs(message) ? "msg--ours" : "msg--theirs"];
    if (mine) classes.push("msg--mine");
    if (message.rol === "admin") classes.push("msg--team");
    if (message.note) classes.push("msg--note");
    const node = this.#bubble(classes.join(" "), mine ? gettext("You") : message.name);
    node.dataset.id = String(message.id);
    node.dataset.from = message.from;
    node.dataset.sent = String(Date.parse(message.sent_at));
    const meta = node.firstElementChild;
    if (message.note) meta.prepend(noteLabel());
    if (message.rol === "admin" && !this.options.isAdmin) {
      meta.append(el("span", "msg__role", gettext("Support team")));
    }
    meta.append(timeElement(message.sent_at, "msg__time"));
    node.append(messageText(message.text));
    return node;
  }

  #pendingNode(pending) {
    let classes = "msg--ours msg--mine msg--pending" + (pending.failed ? " msg--failed" : "");
    if (pending.note) classes += " msg--note";
    const node = this.#bubble(classes, gettext("You"));
    if (pending.note) node.firstElementChild.prepend(noteLabel());
    node.dataset.clientId = pending.clientId;
    node.dataset.from = this.options.me;
    pending.sentAt ??= Date.now();
    node.dataset.sent = String(pending.sentAt);
    node.append(messageText(pending.text));
    if (!pending.failed) {
      node.append(el("p", "msg__status", gettext("Sending…")));
      return node;
    }
    const status = el("div", "msg__status msg__status--error");
    status.append(el("span", "msg__error", errorText(pending.code)));
    // The same text would be refused again: only editing it can help.
    if (!UNRETRIABLE_CODES.has(pending.code)) {
      const retry = el("button", "msg__action", gettext("Retry"));
      retry.type = "button";
      retry.dataset.action = "retry";
      status.append(retry);
    }
    const edit = el("button", "msg__action", gettext("Edit"));
    edit.type = "button";
    edit.dataset.action = "edit";
    status.append(edit);
    node.append(status);
    return node;
  }

  #onClick(event) {
    const button = event.target.closest("button[data-action]");
    const node = button?.closest("[data-client-id]");
    if (!node) return;
    if (button.dataset.action === "retry") this.options.onRetry(node.dataset.clientId);
    else this.options.onEdit(node.dataset.clientId);
  }
}
