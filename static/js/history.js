// A thread's history over HTTP: its newest page, older pages as the reader
// scrolls up, or (a search's find) the page ending at one message and then
// every page after it, so that what a thread holds is always one unbroken
// run of messages up to the newest.

import { getJson } from "./api.js";
import { gettext } from "./i18n.js";

// The server's largest page (selectors.MAX_PAGE_SIZE).
const MAX_PAGE = 200;

export class History {
  // parts: isAdmin; list (MessageList); olderButton; receive(message)
  // for each message of a page; marks(thread, page) for the other side's
  // read mark each page carries; patiently(load) retries a load.
  constructor(parts) {
    Object.assign(this, parts);
  }

  url(user, { before, after, limit } = {}) {
    const params = new URLSearchParams();
    if (this.isAdmin) params.set("with", user);
    if (before) params.set("before", String(before));
    if (after) params.set("after", String(after));
    if (limit) params.set("limit", String(limit));
    const query = params.toString();
    return (this.isAdmin ? "/api/messages" : "/api/messages/mine") + (query ? `?${query}` : "");
  }

  async #page(thread, where) {
    const page = await this.patiently(() => getJson(this.url(thread.user, where)));
    this.marks(thread, page);
    return page;
  }

  // The newest page, once per thread (a second call shares the first).
  latest(thread) {
    return this.#once(thread, async () => {
      const page = await this.#page(thread);
      for (const message of page.messages) this.receive(message);
      thread.hasOlder = page.has_more;
    });
  }

  // The thread with message ``id`` in it.
  async around(thread, id) {
    if (thread.byId.has(id)) return;
    if (thread.loading) {
      await thread.loading;
      // Older pages down to it: the run stays unbroken.
      while (!thread.byId.has(id) && thread.hasOlder) {
        const page = await this.#page(thread, { before: thread.oldestId, limit: MAX_PAGE });
        const added = page.messages.filter((message) => thread.add(message));
        thread.hasOlder = page.has_more;
        if (this.list.isShowing(thread)) this.list.insertOlder(added);
      }
      this.updateOlder(thread);
      return;
    }
    await this.#once(thread, async () => {
      const page = await this.#page(thread, { before: id + 1 });
      for (const message of page.messages) this.receive(message);
      thread.hasOlder = page.has_more;
      // Then forward to the newest. Not from the thread's newest: live
      // messages may have arrived meanwhile, beyond a gap.
      let after = page.messages.at(-1)?.id ?? id;
      for (;;) {
        const next = await this.#page(thread, { after, limit: MAX_PAGE });
        for (const message of next.messages) this.receive(message);
        if (!next.has_more || !next.messages.length) break;
        after = next.messages.at(-1).id;
      }
    });
  }

  #once(thread, load) {
    thread.loading ??= load().then(
      () => {
        thread.loaded = true;
        if (this.list.isShowing(thread)) {
          this.list.show(thread);
          this.updateOlder(thread);
        }
      },
      (error) => {
        thread.loading = null;
        throw error;
      },
    );
    return thread.loading;
  }

  async older(thread) {
    if (thread.loadingOlder || !thread.hasOlder) return;
    thread.loadingOlder = true;
    this.updateOlder(thread);
    try {
      const page = await this.#page(thread, { before: thread.oldestId });
      const added = page.messages.filter((message) => thread.add(message));
      thread.hasOlder = page.has_more;
      if (this.list.isShowing(thread)) this.list.insertOlder(added);
    } finally {
      thread.loadingOlder = false;
      this.updateOlder(thread);
    }
  }

  updateOlder(thread) {
    if (!this.list.isShowing(thread)) return;
    this.olderButton.hidden = !thread.hasOlder;
    this.olderButton.disabled = thread.loadingOlder;
    this.olderButton.textContent = thread.loadingOlder
      ? gettext("Loading older messages…")
      : gettext("Show older messages");
  }
}
