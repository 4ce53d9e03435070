// The inbox's views, as tabs: "Needs reply" (oldest wait first), "Mine",
// "Unassigned", "Resolved" and "All". Each view is a query of
// /api/conversations and the same rule in the page (match, compare), so
// rows come and go live as frames change what the server would answer.

import { getJson } from "./api.js";
import { gettext, pgettext } from "./i18n.js";
import { el } from "./render.js";

const byRecent = (a, b) => b.last.id - a.last.id;
const waitedFrom = (conv) => Date.parse(conv.waiting_since ?? "") || Infinity;
const byWaiting = (a, b) =>
  waitedFrom(a) - waitedFrom(b) || (a.user < b.user ? -1 : a.user > b.user ? 1 : 0);

export function inboxViews(me) {
  const open = (conv) => conv.status === "open";
  return [
    {
      id: "needs",
      label: pgettext("inbox view", "Needs reply"),
      params: { needs_reply: "1", status: "open", order: "waiting" },
      match: (conv) => open(conv) && conv.needs_reply,
      compare: byWaiting,
      empty: gettext("Nothing needs a reply."),
    },
    {
      id: "mine",
      label: pgettext("inbox view", "Mine"),
      params: { assignee: me, status: "open" },
      match: (conv) => open(conv) && conv.assignee === me,
      compare: byRecent,
      empty: gettext("No open conversation is assigned to you."),
    },
    {
      id: "unassigned",
      label: pgettext("inbox view", "Unassigned"),
      params: { assignee: "none", status: "open" },
      match: (conv) => open(conv) && !conv.assignee,
      compare: byRecent,
      empty: gettext("Every open conversation has someone handling it."),
    },
    {
      id: "resolved",
      label: pgettext("inbox view", "Resolved"),
      params: { status: "resolved" },
      match: (conv) => conv.status === "resolved",
      compare: byRecent,
      empty: gettext("No resolved conversations."),
    },
    {
      id: "all",
      label: pgettext("inbox view", "All"),
      params: { status: "all" },
      match: () => true,
      compare: byRecent,
      empty: gettext("No conversations yet. New ones appear here as soon as someone writes."),
    },
  ];
}

export class InboxTabs {
  // parts: tablist, panel, empty, more (elements); inbox; me; patiently(load);
  // onShow(viewId) after a view is chosen.
  constructor(parts) {
    Object.assign(this, parts);
    this.views = inboxViews(parts.me);
    this.current = this.views[0];
    this.next = null; // the query of the next page, or null
    this.tickets = 0; // loads asked for; only the latest one's answer counts
    this.loading = 0; // the ticket of the load in flight, 0 when none
    this.tabs = this.views.map((view) => {
      const tab = el("button", "tabs__tab", view.label);
      tab.type = "button";
      tab.id = `tab-${view.id}`;
      tab.dataset.view = view.id;
      tab.setAttribute("role", "tab");
      tab.setAttribute("aria-controls", this.panel.id);
      return tab;
    });
    this.tablist.replaceChildren(...this.tabs);
    this.tablist.addEventListener("click", (event) => {
      const tab = event.target.closest("[role=tab]");
      if (tab) this.show(tab.dataset.view);
    });
    this.tablist.addEventListener("keydown", (event) => this.#onKey(event));
    this.more.addEventListener("click", () => this.#loadMore());
    // The empty note follows the list, whatever changed it.
    new MutationObserver(() => this.#updateEmpty()).observe(this.inbox.list, { childList: true });
  }

  get view() {
    return this.current.id;
  }

  has(viewId) {
    return this.views.some((view) => view.id === viewId);
  }

  // Choose a view and load its first page.
  async show(viewId) {
    const view = this.views.find((v) => v.id === viewId) ?? this.views[0];
    this.current = view;
    for (const tab of this.tabs) {
      const selected = tab.dataset.view === view.id;
      tab.setAttribute("aria-selected", String(selected));
      tab.tabIndex = selected ? 0 : -1;
      if (selected) tab.scrollIntoView({ block: "nearest", inline: "nearest" });
    }
    this.panel.setAttribute("aria-labelledby", `tab-${view.id}`);
    this.inbox.list.setAttribute("aria-labelledby", `tab-${view.id}`);
    this.empty.textContent = view.empty;
    this.more.hidden = true;
    this.inbox.setView(view);
    this.onShow?.(view.id);
    await this.#load(new URLSearchParams(view.params));
  }

  // Load the current view again (after a reconnect: frames were missed).
  reload() {
    return this.show(this.current.id);
  }

  async #load(params) {
    const ticket = ++this.tickets;
    const view = this.current;
    this.loading = ticket;
    this.more.disabled = true;
    this.#updateEmpty();
    const stamp = this.inbox.seq;
    let page;
    try {
      page = await this.patiently(() => getJson(`/api/conversations?${params}`));
    } finally {
      if (ticket === this.loading) {
        this.loading = 0;
        this.more.disabled = false;
      }
    }
    if (ticket !== this.tickets) return; // another view or page was asked for since
    this.inbox.loaded(page.conversations, { hasMore: page.has_more, stamp });
    this.next = null;
    const last = page.conversations.at(-1);
    if (page.has_more && last) {
      this.next = new URLSearchParams(view.params);
      if (view.params.order === "waiting") this.next.set("cursor", page.next_cursor ?? "");
      else this.next.set("before", String(last.last_message.id));
    }
    this.more.hidden = this.next === null;
    this.#updateEmpty();
  }

  #loadMore() {
    if (this.next && !this.loading) this.#load(this.next);
  }

  #updateEmpty() {
    this.empty.hidden = this.loading !== 0 || this.inbox.size > 0;
  }

  #onKey(event) {
    const index = this.tabs.indexOf(document.activeElement);
    if (index === -1) return;
    const last = this.tabs.length - 1;
    const target = {
      ArrowRight: index === last ? 0 : index + 1,
      ArrowLeft: index === 0 ? last : index - 1,
      Home: 0,
      End: last,
    }[event.key];
    if (target === undefined) return;
    event.preventDefault();
    this.tabs[target].focus();
    this.show(this.tabs[target].dataset.view);
  }
}
