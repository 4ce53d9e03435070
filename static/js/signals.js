// The live signals of /support (PROTOCOL.md 5), put together: the team's
// presence, typing both ways, "Seen", and the alerts, fed by the socket's
// frames and by what the page does (a message arrives, a thread opens).

import { getJson } from "./api.js";
import { TeamAlerts, TitleCount, needingReply, replyCounter } from "./alerts.js";
import { StatusLine, TeamBar } from "./presence.js";
import { SeenMarks } from "./seen.js";
import { TypingIndicator, TypingSender } from "./typing.js";

const $ = (id) => document.getElementById(id);
// Every conversation waiting for a reply, for the title's count when the
// view shown is another one (the server's largest page).
const NEEDS_URL = "/api/conversations?needs_reply=1&status=open&order=waiting&limit=200";

// parts: isAdmin; me; send(frame) -> false without a ready socket;
// open(user) shows a conversation; list (MessageList); inbox and
// patiently(load) for the team's page.
export function liveSignals({ isAdmin, me, send, open, list, inbox, patiently }) {
  const status = new StatusLine(document.querySelectorAll(".connection"), { isAdmin });
  const typing = new TypingIndicator($("typing"), {
    me,
    rows: (user) =>
      document.querySelectorAll(`.conversations button.conv[data-user="${CSS.escape(user)}"]`),
  });
  const seen = new SeenMarks($("messages"), { isAdmin });
  const sender = new TypingSender(send);
  const team = isAdmin ? new TeamBar($("teambar"), { me, send }) : null;
  const alerts = isAdmin ? new TeamAlerts($("teambar"), { open }) : null;
  const title = isAdmin ? new TitleCount() : null;
  const replies = isAdmin ? null : replyCounter();
  let shown = isAdmin ? null : me;
  let readyOnce = false;

  function typingShown() {
    // Under the newest message: a reader there keeps seeing both.
    if (list.pinned) list.scrollToEnd();
  }

  return {
    // The socket's state, for the header.
    state(state) {
      status.state(state);
    },

    // A typing, seen or presence frame.
    signal(frame) {
      if (frame.type === "typing") {
        typing.received(frame);
        if (frame.thread === shown) typingShown();
      } else if (frame.type === "seen" && frame.by === (isAdmin ? "user" : "team")) {
        seen.set(frame.thread, frame.up_to);
      } else if (frame.type === "presence") {
        if (isAdmin && Array.isArray(frame.team)) team.apply(frame.team);
        else if (!isAdmin) status.teamStatus(frame.team_status);
      }
    },

    // A stored message, from history (live false) or the socket.
    message(message, { live }) {
      typing.stopped(message.thread, message.from);
      if (!live || message.from === me) return;
      if (!isAdmin) replies.reply();
      else if (message.from === message.thread) alerts.customerMessage(message);
    },

    // The other side's read mark, from a history page or a conversation row.
    mark(thread, upTo) {
      seen.set(thread, upTo);
    },

    // The conversation in view (null: none).
    show(thread) {
      shown = thread;
      typing.show(thread);
      seen.show(thread);
    },

    // A conversation changed in the inbox (team): its row, the title's count.
    changed(conv) {
      typing.markRows(conv.user);
      title.set(needingReply(inbox.conversations));
    },

    // The person typed in the composer; ``note``: an internal note (team).
    typed(note) {
      if (!isAdmin) sender.typed({ type: "typing" });
      else if (shown) sender.typed({ type: "typing", thread: shown, note });
    },

    sent() {
      sender.reset();
    },

    // A socket caught up. ``view``: the inbox view shown, whose pages may
    // not hold every conversation waiting for a reply.
    ready({ view = null, moreInView = false } = {}) {
      const again = readyOnce;
      readyOnce = true;
      if (isAdmin) {
        team.ready();
        if (view !== "needs" || moreInView) loadNeeds().catch(() => {});
      } else if (again) {
        refreshTeamMark().catch(() => {});
      }
    },
  };

  async function loadNeeds() {
    const stamp = inbox.seq;
    const page = await patiently(() => getJson(NEEDS_URL));
    for (const row of page.conversations) inbox.merge(row, stamp);
  }

  // After a drop, "seen" frames may have been missed: ask, but only when
  // one of the customer's messages still waits for its "Seen".
  async function refreshTeamMark() {
    const mine = list.list.querySelectorAll("li.msg--mine[data-id]");
    const newest = Number(mine[mine.length - 1]?.dataset.id ?? 0);
    if (newest <= seen.mark(me)) return;
    const page = await getJson("/api/messages/mine?limit=1");
    seen.set(me, page.seen_up_to);
  }
}
