// The /support page: a user's thread with the team, or the team's shared
// inbox. History comes over HTTP, then the socket resumes from the newest
// message seen, so nothing is missed and, keyed by id, nothing shows twice.
// For the team also: the inbox's views and search, each conversation's desk
// bar (status, owner), internal notes and canned replies. Both sides: the
// live signals (signals.js): presence, typing, "Seen" and alerts.

import { ApiError } from "./api.js";
import { Composer } from "./composer.js";
import { Connection, backoffDelay } from "./connection.js";
import { History } from "./history.js";
import { gettext } from "./i18n.js";
import { Outgoing } from "./outgoing.js";
import { announceIn, arrivalText, quietly, remember, socketUrl } from "./page.js";
import { ReadMarks } from "./reads.js";
import { setText } from "./render.js";
import { liveSignals } from "./signals.js";
import { teamDesk } from "./team.js";
import { MessageList, Thread } from "./thread.js";

const root = document.getElementById("chat");
const me = { user: root.dataset.user };
const isAdmin = root.dataset.role === "admin";
const $ = (id) => document.getElementById(id);
const ui = {
  title: $("thread-title"),
  subtitle: $("thread-subtitle"),
  scroller: $("scroller"),
  older: $("older"),
  placeholder: $("thread-placeholder"),
  composer: $("composer"),
  announcer: $("announcer"),
  back: $("back"),
};
// A minute: how often the inbox's waiting times move on.
const TICK_MS = 60000;

// The header's name is the person's display name, as sent: marked like any other.
const who = document.querySelector(".who");
if (who) setText(who, who.textContent);

const threads = new Map();
let openUser = isAdmin ? null : me.user;
let lastSeenId = 0;
// Set when this page's own Sign out form is sent: the socket's close that
// follows is the expected result, not news for the login page.
let signingOut = false;
let caughtUpOnce = false;

const list = new MessageList($("messages"), ui.scroller, {
  me: me.user,
  isAdmin,
  emptyText: isAdmin
    ? gettext("No messages in this conversation yet.")
    : gettext("Write your question below: the support team answers here."),
  onRetry: (clientId) => retry(clientId),
  onEdit: (clientId) => edit(clientId),
});

const history = new History({
  isAdmin,
  list,
  olderButton: ui.older,
  receive: (message) => receive(message, false),
  marks: (thread, page) =>
    signals.mark(thread.user, isAdmin ? page.user_seen_up_to : page.seen_up_to),
  patiently,
});

const outgoing = new Outgoing({ isAdmin, list, connection: () => connection, announce });

const composer = new Composer(ui.composer, {
  send: (text, { note }) => {
    if (!openUser) return false;
    outgoing.post(threadFor(openUser), text, note);
    signals.sent();
    return true;
  },
  typed: () => signals.typed(composer.note),
  announce,
  nameOf: () => inbox?.name(openUser) ?? "",
});

const team = isAdmin
  ? teamDesk({
      me: me.user,
      open: (user, options) => open(user, options),
      announce,
      patiently,
      signOut: (code) => connection.signOut(code),
      reading,
      markRead: (user) => reads.team(user),
      changed: (conv) => conversationChanged(conv),
      fetched: (row) => signals.mark(row.user, row.user_seen_up_to),
      remember,
      failed: quietly,
    })
  : null;
const inbox = team?.inbox;
const reads = new ReadMarks({
  me: me.user,
  threads,
  inbox,
  send: (frame) => connection.send(frame),
});

const signals = liveSignals({
  isAdmin,
  me: me.user,
  send: (frame) => connection.send(frame),
  open: (user) => open(user),
  list,
  inbox,
  patiently,
});

const connection = new Connection(socketUrl(root.dataset.socketPath), {
  lastId: () => lastSeenId,
  frame: (frame, { replayed }) => {
    if (frame.type === "message") receive(frame, !replayed);
    else if (frame.type === "conversation") {
      if (isAdmin && frame.conversation) inbox.applyFrame(frame.conversation);
    } else outgoing.refused(frame, threads.values());
  },
  signal: (frame) => signals.signal(frame),
  state: showState,
  ready: () => {
    signals.ready({ view: team?.tabs.view, moreInView: Boolean(team?.tabs.next) });
    if (!isAdmin) {
      reads.own();
      return;
    }
    if (openUser) reads.team(openUser, true);
    // Conversation frames are not replayed: after a drop, ask again.
    if (caughtUpOnce) {
      team.tabs.reload().catch(quietly);
      if (openUser) team.fetchConversation(openUser, { again: true });
    }
    caughtUpOnce = true;
  },
  signedOut: (code) => {
    if (signingOut) return;
    window.location.assign(`/login?next=/support&reason=${Number(code)}`);
  },
});

function showState(state) {
  signals.state(state);
}

function announce(text) {
  announceIn(ui.announcer, text);
}

function threadFor(user) {
  if (!threads.has(user)) threads.set(user, new Thread(user));
  return threads.get(user);
}

function reading(user) {
  return user === openUser && !document.hidden;
}

// Messages ------------------------------------------------------------------

function receive(message, live) {
  // Notes are the team's: a customer's page never shows one.
  if (!isAdmin && message.note) return;
  lastSeenId = Math.max(lastSeenId, message.id);
  const thread = isAdmin ? threads.get(message.thread) : threadFor(me.user);
  const newer = isAdmin ? inbox.update(message, { reading: reading(message.thread) }) : false;
  const isNew = thread ? thread.add(message) : newer;
  if (thread && message.client_id && thread.pending.delete(message.client_id)) {
    if (list.isShowing(thread)) list.removePending(message.client_id);
  }
  signals.message(message, { live: live && isNew });
  if (!isNew) return;
  if (thread && list.isShowing(thread)) list.insert(message);
  if (live && message.from !== me.user) {
    announce(arrivalText(message, isAdmin && message.thread !== openUser));
  }
  if (isAdmin && reading(message.thread)) reads.team(message.thread);
  else if (!isAdmin && live) reads.own();
}

function retry(clientId) {
  const thread = threads.get(openUser);
  const taken = outgoing.take(thread, clientId);
  if (taken) outgoing.post(thread, taken.text, taken.note);
  composer.focus();
}

function edit(clientId) {
  const taken = outgoing.take(threads.get(openUser), clientId);
  if (!taken) return;
  if (isAdmin) composer.setNote(taken.note);
  composer.fill(taken.text);
}

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

// The inbox -------------------------------------------------------------------

function conversationChanged(conv) {
  signals.changed(conv);
  if (conv.user !== openUser) return;
  if (ui.title.textContent !== conv.name) setText(ui.title, conv.name);
  team.desk.render();
}

async function open(user, { focus = true, at = null } = {}) {
  if (user !== openUser) composer.setNote(false);
  openUser = user;
  remember("with", user);
  team.select(user);
  signals.show(user);
  root.dataset.view = "thread";
  ui.placeholder.hidden = true;
  ui.scroller.hidden = false;
  ui.composer.hidden = false;
  setText(ui.title, inbox.name(user));
  setText(ui.subtitle, user);
  ui.subtitle.hidden = false;
  const thread = threadFor(user);
  list.show(thread);
  history.updateOlder(thread);
  if (focus) composer.focus();
  try {
    await (at ? history.around(thread, at) : history.latest(thread));
  } catch (error) {
    // No such person (an old link): back to the list.
    if (error instanceof ApiError && !error.signedOut && openUser === user) closeThread();
    return;
  }
  if (openUser !== user) return;
  if (at) list.reveal(at);
  reads.team(user);
}

function closeThread() {
  const previous = openUser;
  openUser = null;
  remember("with", null);
  root.dataset.view = "list";
  ui.placeholder.hidden = false;
  ui.scroller.hidden = true;
  ui.composer.hidden = true;
  ui.title.textContent = gettext("Conversation");
  ui.subtitle.hidden = true;
  list.clear();
  team.select(null);
  signals.show(null);
  team.focusRow(previous);
}

// Wiring ----------------------------------------------------------------------

ui.older.addEventListener("click", () => {
  if (openUser) history.older(threadFor(openUser));
});

ui.scroller.addEventListener("scroll", () => {
  if (openUser && ui.scroller.scrollTop < 80) history.older(threadFor(openUser));
}, { passive: true });

document.addEventListener("visibilitychange", () => {
  if (isAdmin && openUser && !document.hidden) reads.team(openUser);
  else if (!isAdmin) reads.own();
});

document.querySelector("form[action='/logout']")?.addEventListener("submit", () => {
  signingOut = true;
});

if (isAdmin) {
  ui.back.addEventListener("click", closeThread);
  window.setInterval(() => inbox.tick(), TICK_MS);
}

async function start() {
  if (isAdmin) {
    const address = new URL(window.location.href).searchParams;
    const view = address.get("view");
    const [newest] = await Promise.all([
      team.newestMessageId(),
      team.tabs.show(team.tabs.has(view) ? view : "needs"),
    ]);
    lastSeenId = Math.max(lastSeenId, newest, inbox.highestId);
    const wanted = address.get("with");
    if (wanted) open(wanted, { focus: false });
  } else {
    const thread = threadFor(me.user);
    list.show(thread);
    signals.show(me.user);
    await history.latest(thread);
  }
  showState("connecting");
  connection.start();
}

start().catch(quietly);
