// The support team's shared inbox: every conversation the page knows of
// (kept current by message and conversation frames, whichever view is
// shown), and the list of those the current view (views.js) takes, in its
// order. A row: the name, a preview of the last message, an unread badge,
// who handles it and how long the customer has waited. Arrow keys, Home and
// End move between rows.

import { el, textEl, timeElement } from "./render.js";
import { deskLine, moveBetweenRows, preview, unreadBadge } from "./rows.js";
const NO_MESSAGE = { id: 0, text: "", sent_at: "" };

export class Inbox {
  // options: me (username), onOpen(user), onUnknown(user): a conversation
  // the page has no row for (its desk state is needed: fetch and merge() it),
  // onChange(conv) after any change to one, onEmptied() when the focused
  // row left and none is left.
  constructor(listEl, options) {
    this.list = listEl;
    this.options = options;
    // user -> conversation: {user, name, last, status, assignee, assignee_name,
    // needs_reply, waiting_since, node, partial, ...}. Unread: the server's
    // count up to `counted`, plus the person's messages seen live since
    // (`liveUnread`); `live`: every id seen since, which may arrive out of
    // id order (several processes).
    this.conversations = new Map();
    this.selected = null;
    this.view = null;
    this.hasMore = true;
    this.boundary = null; // the last row of the last page loaded: the view's reach
    this.seq = 0; // bumped by each conversation frame: fetches older than it lose
    this.list.addEventListener("click", (event) => {
      const button = event.target.closest("button.conv");
      if (button) this.options.onOpen(button.dataset.user);
    });
    this.list.addEventListener("keydown", (event) => this.#onKey(event));
  }

  // Rows in the list now.
  get size() {
    return this.list.childElementCount;
  }

  get highestId() {
    let highest = 0;
    for (const conv of this.conversations.values()) highest = Math.max(highest, conv.last.id);
    return highest;
  }

  name(user) {
    return this.conversations.get(user)?.name ?? user;
  }

  get(user) {
    const conv = this.conversations.get(user);
    return conv && !conv.partial ? conv : null;
  }

  // A new view: an empty list until its first page is loaded().
  setView(view) {
    this.view = view;
    this.hasMore = true;
    this.boundary = null;
    this.list.replaceChildren();
  }

  // A page of the current view's rows; hasMore: whether pages lie beyond it.
  // stamp: the seq when it was asked for.
  loaded(rows, { hasMore, stamp }) {
    const convs = rows.map((row) => this.merge(row, stamp, { render: false }));
    for (const conv of convs) {
      if (this.view.match(conv)) this.#render(conv);
    }
    this.hasMore = hasMore;
    if (convs.length) this.boundary = snapshot(convs[convs.length - 1]);
    // What frames taught the page about other rows counts too.
    for (const conv of this.conversations.values()) this.#evaluate(conv);
  }

  // A CONV from the server (a page, one conversation, a PATCH's answer). Its
  // desk state counts unless a conversation frame came after ``stamp`` (the
  // seq when the request went out); its messages unless the page has newer.
  merge(row, stamp = this.seq, { render = true } = {}) {
    const conv = this.#conv(row.user);
    const last = row.last_message ?? NO_MESSAGE;
    const fresher = last.id >= conv.last.id;
    if (fresher) {
      conv.last = last;
      conv.needs_reply = Boolean(row.needs_reply);
      conv.waiting_since = row.waiting_since ?? null;
      conv.deskMsgId = last.id;
    } else if (conv.partial && row.needs_reply && conv.needs_reply) {
      // Messages came live while it was asked for: the wait they started
      // may have begun before them.
      conv.waiting_since = row.waiting_since;
    }
    if (fresher || conv.partial) conv.name = row.name;
    // A partial conversation's live ids are all beyond what it counted
    // (nothing): the row's count and those after it add up.
    if (row.unread !== undefined && (fresher || conv.partial)) {
      conv.serverUnread = row.unread;
      conv.counted = last.id;
      for (const id of conv.liveUnread) if (id <= last.id) conv.liveUnread.delete(id);
    }
    if (conv.partial || conv.deskSeq <= stamp) this.#takeDesk(conv, row);
    conv.partial = false;
    if (render) this.#evaluate(conv);
    return conv;
  }

  // A conversation frame: status or owner changed (it has no unread count).
  applyFrame(row) {
    const known = this.conversations.has(row.user) && !this.conversations.get(row.user).partial;
    const conv = this.merge(row, Infinity, { render: false });
    this.seq += 1;
    conv.deskSeq = this.seq;
    // Known now, but for its unread count.
    if (!known) this.options.onUnknown(row.user);
    this.#evaluate(conv);
    return conv;
  }

  // A live or replayed message. Returns true when it is one the
  // conversation had not counted yet (an old or repeated one changes
  // nothing), even if a newer one arrived first.
  update(message, { reading }) {
    let conv = this.conversations.get(message.thread);
    if (conv && (message.id <= conv.counted || conv.live.has(message.id))) return false;
    if (!conv) {
      conv = this.#conv(message.thread);
      conv.name = message.thread;
      this.options.onUnknown(message.thread);
    }
    conv.live.add(message.id);
    const newest = message.id >= conv.last.id;
    if (newest) conv.last = message;
    const fromPerson = message.from === message.thread;
    if (fromPerson && newest) conv.name = message.name;
    if (fromPerson && !reading) conv.liveUnread.add(message.id);
    // Whether it waits for a reply, as the server decides: notes aside, the
    // person's message starts the wait (if not already waiting), the team's ends it.
    if (!message.note && message.id > conv.deskMsgId) {
      conv.deskMsgId = message.id;
      if (!fromPerson) {
        conv.needs_reply = false;
        conv.waiting_since = null;
      } else if (!conv.needs_reply) {
        conv.needs_reply = true;
        conv.waiting_since = message.sent_at;
      }
    }
    this.#evaluate(conv);
    return true;
  }

  clearUnread(user) {
    const conv = this.conversations.get(user);
    if (conv && (conv.serverUnread || conv.liveUnread.size)) {
      conv.serverUnread = 0;
      conv.liveUnread.clear();
      this.#evaluate(conv);
    }
  }

  select(user) {
    this.selected = user;
    for (const button of this.list.querySelectorAll("button.conv")) {
      if (button.dataset.user === user) button.setAttribute("aria-current", "true");
      else button.removeAttribute("aria-current");
    }
  }

  // Focus ``user``'s row, or the first one; false when the list is empty.
  focus(user) {
    const conv = this.conversations.get(user);
    const row = conv?.node?.parentNode === this.list ? conv.node : this.list.firstElementChild;
    row?.firstElementChild.focus();
    return Boolean(row);
  }

  // The waiting times, once a minute.
  tick() {
    for (const row of this.list.children) {
      const conv = this.conversations.get(row.firstElementChild.dataset.user);
      if (conv?.needs_reply) this.#render(conv);
    }
  }

  #conv(user) {
    let conv = this.conversations.get(user);
    if (!conv) {
      conv = {
        user,
        name: user,
        last: NO_MESSAGE,
        node: null,
        partial: true,
        serverUnread: 0,
        counted: 0,
        live: new Set(),
        liveUnread: new Set(),
        status: "open",
        assignee: null,
        assignee_name: null,
        needs_reply: false,
        waiting_since: null,
        deskMsgId: 0,
        deskSeq: 0,
      };
      this.conversations.set(user, conv);
    }
    return conv;
  }

  #takeDesk(conv, row) {
    conv.status = row.status === "resolved" ? "resolved" : "open";
    conv.assignee = row.assignee ?? null;
    conv.assignee_name = row.assignee_name ?? row.assignee ?? null;
  }

  // Whether a row not in the list yet falls within the pages loaded so far.
  #inReach(conv) {
    if (!this.hasMore) return true;
    return this.boundary !== null && this.view.compare(conv, this.boundary) <= 0;
  }

  // Show, move or remove ``conv``'s row as the view now takes it or not.
  #evaluate(conv) {
    const shown = conv.node?.parentNode === this.list;
    // A conversation without messages is no row (the server lists none either).
    const wanted =
      !conv.partial &&
      conv.last.id > 0 &&
      this.view !== null &&
      this.view.match(conv) &&
      (shown || this.#inReach(conv));
    if (wanted) this.#render(conv);
    else if (shown) this.#remove(conv);
    if (!conv.partial) this.options.onChange?.(conv);
  }

  #remove(conv) {
    const row = conv.node;
    const hadFocus = row.contains(document.activeElement);
    const neighbour = row.nextElementSibling ?? row.previousElementSibling;
    row.remove();
    if (hadFocus && neighbour) neighbour.firstElementChild.focus();
    else if (hadFocus) this.options.onEmptied?.();
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
    else button.removeAttribute("aria-current");
    button.dataset.status = conv.status;
    const top = el("span", "conv__top");
    top.append(textEl("span", "conv__name", conv.name), timeElement(conv.last.sent_at, "conv__time"));
    const bottom = el("span", "conv__bottom");
    const shown = el("span", "conv__preview");
    shown.append(...preview(conv.last, this.options.me));
    bottom.append(shown);
    const unread = conv.serverUnread + conv.liveUnread.size;
    if (unread > 0) bottom.append(unreadBadge(unread));
    button.replaceChildren(top, bottom, deskLine(conv, this.options.me));
    this.#place(conv);
  }

  // Keep the list in the view's order.
  #place(conv) {
    const hadFocus = conv.node.contains(document.activeElement);
    let before = null;
    for (const other of this.list.children) {
      const otherConv = this.conversations.get(other.firstElementChild?.dataset.user);
      if (other !== conv.node && otherConv && this.view.compare(conv, otherConv) < 0) {
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
    moveBetweenRows(this.list, event);
  }
}

// What a view's order needs of a row, frozen.
function snapshot(conv) {
  return { user: conv.user, last: { id: conv.last.id }, waiting_since: conv.waiting_since };
}
