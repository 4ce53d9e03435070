// The support team's shared inbox: one button per conversation, newest
// first, with a preview of the last message and an unread badge. Arrow keys,
// Home and End move between conversations.

import { gettext, interpolate, ngettext } from "./i18n.js";
import { el, interpolateNodes, textEl, timeElement } from "./render.js";

const PREVIEW_CHARS = 120;

export class Inbox {
  // options: me (username), onOpen(user)
  constructor(listEl, options) {
    this.list = listEl;
    this.options = options;
    // user -> {user, name, last, unread, node, counted, live}: `counted` is
    // the newest id the server's unread count already covers; `live` the ids
    // seen since, which may arrive out of id order (several processes).
    this.conversations = new Map();
    this.selected = null;
    this.list.addEventListener("click", (event) => {
      const button = event.target.closest("button.conv");
      if (button) this.options.onOpen(button.dataset.user);
    });
    this.list.addEventListener("keydown", (event) => this.#onKey(event));
  }

  get size() {
    return this.conversations.size;
  }

  get highestId() {
    let highest = 0;
    for (const conv of this.conversations.values()) highest = Math.max(highest, conv.last.id);
    return highest;
  }

  get oldestLastId() {
    let oldest = 0;
    for (const conv of this.conversations.values()) {
      if (!oldest || conv.last.id < oldest) oldest = conv.last.id;
    }
    return oldest;
  }

  name(user) {
    return this.conversations.get(user)?.name ?? user;
  }

  // Rows of /api/conversations (first or later pages).
  load(rows) {
    for (const row of rows) {
      const known = this.conversations.get(row.user);
      if (known && known.last.id >= row.last_message.id) continue;
      const conv = known ?? { user: row.user, node: null };
      Object.assign(conv, {
        name: row.name,
        last: row.last_message,
        unread: row.unread,
        counted: row.last_message.id,
        live: new Set(),
      });
      this.conversations.set(row.user, conv);
      this.#render(conv);
    }
  }

  // A live or replayed message. Returns true when it is one the
  // conversation had not counted yet (an old or repeated one changes
  // nothing), even if a newer one arrived first.
  update(message, { reading }) {
    let conv = this.conversations.get(message.thread);
    if (conv && (message.id <= conv.counted || conv.live.has(message.id))) return false;
    if (!conv) {
      conv = {
        user: message.thread,
        name: message.thread,
        unread: 0,
        node: null,
        last: message,
        counted: 0,
        live: new Set(),
      };
      this.conversations.set(message.thread, conv);
    }
    conv.live.add(message.id);
    const newest = message.id >= conv.last.id;
    if (newest) conv.last = message;
    // Only the person's own messages are work waiting for the team.
    if (message.from === message.thread) {
      if (newest) conv.name = message.name;
      if (!reading) conv.unread += 1;
    }
    this.#render(conv);
    return true;
  }

  clearUnread(user) {
    const conv = this.conversations.get(user);
    if (conv && conv.unread) {
      conv.unread = 0;
      this.#render(conv);
    }
  }

  select(user) {
    this.selected = user;
    for (const conv of this.conversations.values()) {
      const button = conv.node.firstElementChild;
      if (conv.user === user) button.setAttribute("aria-current", "true");
      else button.removeAttribute("aria-current");
    }
  }

  // Focus ``user``'s conversation, or the first one.
  focus(user) {
    const conv = this.conversations.get(user);
    (conv?.node ?? this.list.querySelector("li"))?.firstElementChild.focus();
  }

  #render(conv) {
    if (!conv.node) {
      const button = el("button", "conv");
      button.type = "button";
      button.dataset.user = conv.user;
      conv.node = el("li");
      conv.node.append(button);
    }
    const button = conv.node.firstElementChild;
    if (conv.user === this.selected) button.setAttribute("aria-current", "true");
    const top = el("span", "conv__top");
    top.append(textEl("span", "conv__name", conv.name), timeElement(conv.last.sent_at, "conv__time"));
    const bottom = el("span", "conv__bottom");
    const preview = el("span", "conv__preview");
    preview.append(...this.#preview(conv.last));
    bottom.append(preview);
    if (conv.unread > 0) {
      const badge = el("span", "badge");
      const count = el("span", null, conv.unread > 99 ? "99+" : String(conv.unread));
      count.setAttribute("aria-hidden", "true");
      const spoken = interpolate(
        ngettext("%(count)s unread message", "%(count)s unread messages", conv.unread),
        { count: conv.unread },
      );
      badge.append(count, el("span", "visually-hidden", spoken));
      bottom.append(badge);
    }
    button.replaceChildren(top, bottom);
    this.#place(conv);
  }

  // The preview as nodes, the name and the text each isolated in the sentence.
  #preview(message) {
    let text = message.text.replace(/\s+/g, " ").trim();
    if (text.length > PREVIEW_CHARS) text = text.slice(0, PREVIEW_CHARS) + "…";
    if (message.from === this.options.me) {
      return interpolateNodes(gettext("You: %(text)s"), { text });
    }
    if (message.rol === "admin") {
      return interpolateNodes(gettext("%(name)s: %(text)s"), { name: message.name, text });
    }
    return [textEl("bdi", null, text)];
  }

  // Keep the list ordered by last message, newest first.
  #place(conv) {
    const hadFocus = conv.node.contains(document.activeElement);
    let before = null;
    for (const other of this.list.children) {
      const otherConv = this.conversations.get(other.firstElementChild?.dataset.user);
      if (other !== conv.node && otherConv && otherConv.last.id < conv.last.id) {
        before = other;
        break;
      }
    }
    if (before) {
      if (conv.node.nextElementSibling !== before) this.list.insertBefore(conv.node, before);
    } else if (conv.node.parentNode !== this.list || this.list.lastElementChild !== conv.node) {
      this.list.append(conv.node);
    }
    if (hadFocus) conv.node.firstElementChild.focus();
  }

  #onKey(event) {
    const buttons = [...this.list.querySelectorAll("button.conv")];
    const index = buttons.indexOf(document.activeElement);
    if (index === -1) return;
    const target = {
      ArrowDown: Math.min(buttons.length - 1, index + 1),
      ArrowUp: Math.max(0, index - 1),
      Home: 0,
      End: buttons.length - 1,
    }[event.key];
    if (target === undefined) return;
    event.preventDefault();
    buttons[target].focus();
  }
}
