// The team's side of /support, put together: the inbox with its views and
// search, the open conversation's desk bar, and one conversation's row
// fetched when the page meets a conversation it has no row for.

import { ApiError, getJson } from "./api.js";
import { DeskBar } from "./desk.js";
import { Inbox } from "./inbox.js";
import { Search } from "./search.js";
import { InboxTabs } from "./views.js";

const $ = (id) => document.getElementById(id);

// hooks: me; open(user, {at}); announce(text); patiently(load);
// signOut(code); reading(user); markRead(user); changed(conv) after any
// change to a conversation; fetched(row) for each conversation fetched
// alone; remember(key, value) keeps it in the address;
// failed(error) for errors nobody waits for.
export function teamDesk(hooks) {
  const { me, patiently } = hooks;
  const fetching = new Map(); // user -> the GET of their conversation in flight
  const focusTab = () => $("inbox-tabs").querySelector("[aria-selected=true]")?.focus();

  const inbox = new Inbox($("conversations"), {
    me,
    onOpen: (user) => hooks.open(user),
    onUnknown: (user) => fetchConversation(user),
    onChange: (conv) => hooks.changed(conv),
    onEmptied: focusTab,
  });

  const tabs = new InboxTabs({
    tablist: $("inbox-tabs"),
    panel: $("inbox-panel"),
    empty: $("inbox-empty"),
    more: $("more-conversations"),
    inbox,
    me,
    patiently,
    onShow: (view) => hooks.remember("view", view),
  });

  const search = new Search({
    input: $("inbox-search"),
    results: $("search-results"),
    status: $("search-status"),
    more: $("more-results"),
    inbox,
    me,
    patiently,
    onOpen: (user, messageId) => hooks.open(user, { at: messageId }),
    onActive: (searching) => {
      $("inbox-views").hidden = searching;
      $("search-box").hidden = !searching;
    },
  });

  const desk = new DeskBar({
    root: $("desk"),
    status: $("desk-status"),
    resolve: $("desk-resolve"),
    claim: $("desk-claim"),
    assignee: $("desk-assignee"),
    banner: $("desk-banner"),
    notice: $("desk-notice"),
    inbox,
    me,
    announce: hooks.announce,
    signedOut: (error) => hooks.signOut(error.closeCode),
  });

  // One conversation's row, for its desk state (and its unread count).
  function fetchConversation(user, { again = false } = {}) {
    if (fetching.has(user) && !again) return fetching.get(user);
    const stamp = inbox.seq;
    const request = patiently(() => getJson(`/api/conversations/${encodeURIComponent(user)}`))
      .then((row) => {
        inbox.merge(row, stamp);
        hooks.fetched(row);
        if (hooks.reading(user)) hooks.markRead(user);
      })
      .catch((error) => {
        if (!(error instanceof ApiError && error.status === 404)) hooks.failed(error);
      })
      .finally(() => {
        if (fetching.get(user) === request) fetching.delete(user);
      });
    fetching.set(user, request);
    return request;
  }

  // The newest message of all: where the socket resumes from (the first
  // view shows only some conversations).
  async function newestMessageId() {
    const page = await patiently(() => getJson("/api/conversations?status=all&limit=1"));
    return page.conversations[0]?.last_message?.id ?? 0;
  }

  // Back to the list from ``user``'s conversation: the focus on its row.
  function focusRow(user) {
    if (search.active) {
      $("search-results").querySelector(`[data-user="${CSS.escape(user)}"]`)?.focus();
    } else if (!inbox.focus(user)) {
      focusTab();
    }
  }

  // The open conversation, in every part that shows it (null: none).
  function select(user) {
    inbox.select(user);
    search.select(user);
    desk.show(user);
    if (user !== null) fetchConversation(user, { again: true });
  }

  return { inbox, tabs, search, desk, fetchConversation, newestMessageId, focusRow, select };
}
