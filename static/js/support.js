// The /support page: a user's thread with the team, or the team's shared
// inbox. History comes over HTTP, then the socket resumes from the newest
// message seen, so nothing is missed and, keyed by id, nothing shows twice.

import { ApiError, getJson } from "./api.js";
import { Connection, backoffDelay } from "./connection.js";
import { connectionText, errorText, gettext, interpolate, language } from "./i18n.js";
import { Inbox } from "./inbox.js";
import { setText } from "./render.js";
import { MessageList, Thread } from "./thread.js";

const root = document.getElementById("chat");
const me = { user: root.dataset.user };
const isAdmin = root.dataset.role === "admin";
const $ = (id) => document.getElementById(id);
const ui = {
  statuses: root.querySelectorAll(".connection"),
  title: $("thread-title"),
  subtitle: $("thread-subtitle"),
  scroller: $("scroller"),
  older: $("older"),
  placeholder: $("thread-placeholder"),
  composer: $("composer"),
  text: $("composer-text"),
  count: $("composer-count"),
  announcer: $("announcer"),
  back: $("back"),
  conversations: $("conversations"),
  moreConversations: $("more-conversations"),
  inboxEmpty: $("inbox-empty"),
};

// The header's name is the person's display name, as sent: marked like any other.
const who = document.querySelector(".who");
if (who) setText(who, who.textContent);

const threads = new Map();
let openUser = isAdmin ? null : me.user;
let lastSeenId = 0;
// Set when this page's own Sign out form is sent: the socket's close that
// follows is the expected result, not news for the login page.
let signingOut = false;
const readSent = new Map(); // thread -> highest id sent in a read frame

const list = new MessageList($("messages"), ui.scroller, {
  me: me.user,
  isAdmin,
  emptyText: isAdmin
    ? gettext("No messages in this conversation yet.")
    : gettext("Write your question below: the support team answers here."),
  onRetry: (clientId) => retry(clientId),
  onEdit: (clientId) => edit(clientId),
});

const inbox = isAdmin ? new Inbox(ui.conversations, { me: me.user, onOpen: (u) => open(u) }) : null;

const connection = new Connection(socketUrl(), {
  lastId: () => lastSeenId,
  frame: (frame, { replayed }) => {
    if (frame.type === "message") receive(frame, !replayed);
    else refused(frame);
  },
  state: showState,
  ready: () => {
    if (openUser && isAdmin) markRead(openUser, true);
  },
  signedOut: (code) => {
    if (signingOut) return;
    window.location.assign(`/login?next=/support&reason=${Number(code)}`);
  },
});

// coalesce=1: a busy inbox may get several messages in one frame.
function socketUrl() {
  const scheme = window.location.protocol === "https:" ? "wss:" : "ws:";
  return `${scheme}//${window.location.host}${root.dataset.socketPath}?coalesce=1`;
}

function showState(state) {
  for (const status of ui.statuses) {
    status.dataset.state = state;
    status.textContent = connectionText(state);
  }
}

function announce(text) {
  // Cleared first, so that the same words twice are still read out.
  ui.announcer.textContent = "";
  window.setTimeout(() => {
    ui.announcer.textContent = text;
  }, 50);
}

function threadFor(user) {
  if (!threads.has(user)) threads.set(user, new Thread(user));
  return threads.get(user);
}

function historyUrl(user, before) {
  const params = new URLSearchParams();
  if (isAdmin) params.set("with", user);
  if (before) params.set("before", String(before));
  const query = params.toString();
  return (isAdmin ? "/api/messages" : "/api/messages/mine") + (query ? `?${query}` : "");
}

function reading(user) {
  return user === openUser && !document.hidden;
}

// Messages ------------------------------------------------------------------

function receive(message, live) {
  lastSeenId = Math.max(lastSeenId, message.id);
  const thread = isAdmin ? threads.get(message.thread) : threadFor(me.user);
  const newer = isAdmin ? inbox.update(message, { reading: reading(message.thread) }) : false;
  if (isAdmin) ui.inboxEmpty.hidden = inbox.size > 0;
  const isNew = thread ? thread.add(message) : newer;
  if (thread && message.client_id && thread.pending.delete(message.client_id)) {
    if (list.isShowing(thread)) list.removePending(message.client_id);
  }
  if (!isNew) return;
  if (thread && list.isShowing(thread)) list.insert(message);
  if (live && message.from !== me.user) {
    const where = isAdmin && message.thread !== openUser;
    announce(
      interpolate(
        where
          ? gettext("New message from %(name)s in another conversation: %(text)s")
          : gettext("New message from %(name)s: %(text)s"),
        { name: message.name, text: message.text.slice(0, 200) },
      ),
    );
  }
  if (isAdmin && reading(message.thread)) markRead(message.thread);
}

function refused(frame) {
  for (const thread of threads.values()) {
    const pending = thread.pending.get(frame.client_id);
    if (!pending) continue;
    pending.failed = true;
    pending.code = frame.code;
    if (list.isShowing(thread)) list.updatePending(pending);
    announce(errorText(frame.code));
    return;
  }
}

function newClientId() {
  const bytes = crypto.getRandomValues(new Uint8Array(12));
  return "c-" + Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("");
}

function post(thread, text) {
  const clientId = newClientId();
  const pending = { clientId, text, failed: false, code: null };
  thread.pending.set(clientId, pending);
  if (list.isShowing(thread)) list.addPending(pending);
  const frame = { type: "send", text, client_id: clientId };
  if (isAdmin) frame.to = thread.user;
  connection.post(frame);
}

function takePending(clientId) {
  const thread = threads.get(openUser);
  const pending = thread?.pending.get(clientId);
  if (!pending) return null;
  thread.pending.delete(clientId);
  connection.forget(clientId);
  list.removePending(clientId);
  return { thread, pending };
}

function retry(clientId) {
  const taken = takePending(clientId);
  if (taken) post(taken.thread, taken.pending.text);
  ui.text.focus();
}

function edit(clientId) {
  const taken = takePending(clientId);
  if (!taken) return;
  ui.text.value = taken.pending.text;
  updateCount();
  ui.text.focus();
}

function markRead(user, again = false) {
  const thread = threads.get(user);
  const upTo = Math.max(thread?.lastId ?? 0, inbox.conversations.get(user)?.last.id ?? 0);
  inbox.clearUnread(user);
  if (!upTo || (!again && (readSent.get(user) ?? 0) >= upTo)) return;
  if (connection.send({ type: "read", thread: user, up_to: upTo })) readSent.set(user, upTo);
}

// History -------------------------------------------------------------------

// Retry an HTTP load with back-off until it works; a signed-out answer ends it.
async function patiently(load) {
  for (let attempt = 0; ; attempt += 1) {
    try {
      return await load();
    } catch (error) {
      if (error instanceof ApiError && error.signedOut) {
        connection.signOut(error.closeCode);
        throw error;
      }
      if (error instanceof ApiError && error.status < 500) throw error;
      showState("reconnecting");
      await new Promise((resolve) => window.setTimeout(resolve, backoffDelay(attempt)));
    }
  }
}

function loadLatest(thread) {
  thread.loading ??= patiently(() => getJson(historyUrl(thread.user))).then(
    (page) => {
      for (const message of page.messages) receive(message, false);
      thread.hasOlder = page.has_more;
      thread.loaded = true;
      if (list.isShowing(thread)) {
        list.show(thread);
        updateOlder(thread);
      }
    },
    (error) => {
      thread.loading = null;
      throw error;
    },
  );
  return thread.loading;
}

async function loadOlder(thread) {
  if (thread.loadingOlder || !thread.hasOlder) return;
  thread.loadingOlder = true;
  updateOlder(thread);
  try {
    const page = await patiently(() => getJson(historyUrl(thread.user, thread.oldestId)));
    const added = page.messages.filter((message) => thread.add(message));
    thread.hasOlder = page.has_more;
    if (list.isShowing(thread)) list.insertOlder(added);
  } finally {
    thread.loadingOlder = false;
    updateOlder(thread);
  }
}

function updateOlder(thread) {
  if (!list.isShowing(thread)) return;
  ui.older.hidden = !thread.hasOlder;
  ui.older.disabled = thread.loadingOlder;
  ui.older.textContent = thread.loadingOlder
    ? gettext("Loading older messages…")
    : gettext("Show older messages");
}

// The inbox -------------------------------------------------------------------

let moreConversations = false;

async function loadConversations(before) {
  const query = before ? `?before=${before}` : "";
  const page = await patiently(() => getJson(`/api/conversations${query}`));
  inbox.load(page.conversations);
  lastSeenId = Math.max(lastSeenId, inbox.highestId);
  moreConversations = page.has_more;
  ui.moreConversations.hidden = !moreConversations;
  ui.inboxEmpty.hidden = inbox.size > 0;
}

async function open(user, { focus = true } = {}) {
  openUser = user;
  const url = new URL(window.location.href);
  url.searchParams.set("with", user);
  window.history.replaceState(null, "", url);
  inbox.select(user);
  root.dataset.view = "thread";
  ui.placeholder.hidden = true;
  ui.scroller.hidden = false;
  ui.composer.hidden = false;
  setText(ui.title, inbox.name(user));
  setText(ui.subtitle, user);
  ui.subtitle.hidden = false;
  const thread = threadFor(user);
  list.show(thread);
  updateOlder(thread);
  if (focus) ui.text.focus();
  try {
    await loadLatest(thread);
  } catch (error) {
    // No such person (an old link): back to the list.
    if (error instanceof ApiError && !error.signedOut && openUser === user) closeThread();
    return;
  }
  if (openUser === user) markRead(user);
}

function closeThread() {
  const previous = openUser;
  openUser = null;
  const url = new URL(window.location.href);
  url.searchParams.delete("with");
  window.history.replaceState(null, "", url);
  root.dataset.view = "list";
  ui.placeholder.hidden = false;
  ui.scroller.hidden = true;
  ui.composer.hidden = true;
  ui.title.textContent = gettext("Conversation");
  ui.subtitle.hidden = true;
  list.clear();
  inbox.select(null);
  inbox.focus(previous);
}

// Wiring ----------------------------------------------------------------------

// The counter shows from this share of the limit (the server's MAX_MESSAGE_CHARS,
// the textarea's maxlength) onwards.
const COUNT_FROM_SHARE = 0.9;

function updateCount() {
  const max = ui.text.maxLength;
  const length = ui.text.value.length;
  const format = (n) => n.toLocaleString(language());
  ui.count.hidden = length < max * COUNT_FROM_SHARE;
  ui.count.classList.toggle("composer__count--limit", length >= max);
  if (length > max) ui.count.textContent = errorText("too_long");
  else if (length === max) {
    ui.count.textContent = interpolate(
      gettext("%(max)s characters: the most a message can have."),
      { max: format(max) },
    );
  } else {
    ui.count.textContent = interpolate(gettext("%(count)s of %(max)s characters"), {
      count: format(length),
      max: format(max),
    });
  }
}

function submit() {
  const text = ui.text.value;
  if (!text.trim() || !openUser) return;
  if (text.length > ui.text.maxLength) {
    // Text put there by a script bypasses maxlength; the server would refuse it.
    updateCount();
    announce(errorText("too_long"));
    return;
  }
  post(threadFor(openUser), text);
  ui.text.value = "";
  updateCount();
  ui.text.focus();
}

ui.composer.addEventListener("submit", (event) => {
  event.preventDefault();
  submit();
});

ui.text.addEventListener("input", updateCount);

ui.text.addEventListener("keydown", (event) => {
  if (event.key !== "Enter" || event.shiftKey || event.isComposing || event.altKey) return;
  event.preventDefault();
  submit();
});

ui.older.addEventListener("click", () => {
  if (openUser) loadOlder(threadFor(openUser));
});

ui.scroller.addEventListener("scroll", () => {
  if (openUser && ui.scroller.scrollTop < 80) loadOlder(threadFor(openUser));
}, { passive: true });

document.addEventListener("visibilitychange", () => {
  if (isAdmin && openUser && !document.hidden) markRead(openUser);
});

document.querySelector("form[action='/logout']")?.addEventListener("submit", () => {
  signingOut = true;
});

if (isAdmin) {
  ui.back.addEventListener("click", closeThread);
  ui.moreConversations.addEventListener("click", () => loadConversations(inbox.oldestLastId));
}

async function start() {
  if (isAdmin) {
    await loadConversations();
    const wanted = new URL(window.location.href).searchParams.get("with");
    if (wanted) open(wanted, { focus: false });
  } else {
    const thread = threadFor(me.user);
    list.show(thread);
    await loadLatest(thread);
  }
  showState("connecting");
  connection.start();
}

start().catch((error) => {
  // A signed-out answer is already on its way to the login page.
  if (!(error instanceof ApiError && error.signedOut)) console.error(error);
});
