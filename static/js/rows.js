// The parts of a conversation's row, shared by the inbox and the search
// results: who said the last (or matching) message, the unread badge, and
// the desk line (status, owner, how long the customer has waited).

import { gettext, interpolate, ngettext, pgettext } from "./i18n.js";
import { durationSince, el, fullTime, interpolateNodes, textEl } from "./render.js";

const PREVIEW_CHARS = 120;

// ``message`` as a row says it ("You: …", "Sofía: …", "Note by Sofía: …"),
// its text given as a node (plain or marked).
export function said(message, me, textNode) {
  let format = null;
  if (message.note) {
    format = message.from === me ? gettext("Your note: %(text)s") : gettext("Note by %(name)s: %(text)s");
  } else if (message.from === me) {
    format = gettext("You: %(text)s");
  } else if (message.rol === "admin") {
    format = gettext("%(name)s: %(text)s");
  }
  if (!format) return [textNode];
  const [before, after = ""] = format.split("%(text)s");
  return [...interpolateNodes(before, { name: message.name }), textNode, document.createTextNode(after)];
}

// The last message, on one line: the name and the text each isolated.
export function preview(message, me) {
  let text = message.text.replace(/\s+/g, " ").trim();
  if (text.length > PREVIEW_CHARS) text = text.slice(0, PREVIEW_CHARS) + "…";
  return said(message, me, textEl("bdi", null, text));
}

export function unreadBadge(unread) {
  const badge = el("span", "badge");
  const count = el("span", null, unread > 99 ? "99+" : String(unread));
  count.setAttribute("aria-hidden", "true");
  const spoken = interpolate(
    ngettext("%(count)s unread message", "%(count)s unread messages", unread),
    { count: unread },
  );
  badge.append(count, el("span", "visually-hidden", spoken));
  return badge;
}

// Status, owner and waiting time.
export function deskLine(conv, me) {
  const line = el("span", "conv__desk");
  if (conv.status === "resolved") {
    line.append(el("span", "tag tag--resolved", pgettext("conversation status", "Resolved")));
  }
  const owner = el("span", "conv__owner");
  if (!conv.assignee) {
    owner.classList.add("conv__owner--none");
    owner.textContent = gettext("Unassigned");
  } else if (conv.assignee === me) {
    owner.textContent = gettext("Assigned to you");
  } else {
    owner.append(...interpolateNodes(gettext("Assigned to %(name)s"), { name: conv.assignee_name }));
  }
  line.append(owner);
  if (conv.needs_reply && conv.waiting_since) line.append(waiting(conv.waiting_since));
  return line;
}

// "waiting 5 min", with the moment it started in the title.
function waiting(since) {
  const duration = durationSince(since);
  const node = el(
    "span",
    "conv__waiting",
    duration === null
      ? gettext("waiting less than a minute")
      : interpolate(gettext("waiting %(duration)s"), { duration }),
  );
  node.title = interpolate(gettext("Waiting since %(time)s"), { time: fullTime(since) });
  return node;
}

// Arrow keys, Home and End between the rows of ``list``; true when used.
export function moveBetweenRows(list, event) {
  const buttons = [...list.querySelectorAll("button.conv")];
  const index = buttons.indexOf(document.activeElement);
  if (index === -1) return false;
  const target = {
    ArrowDown: Math.min(buttons.length - 1, index + 1),
    ArrowUp: Math.max(0, index - 1),
    Home: 0,
    End: buttons.length - 1,
  }[event.key];
  if (target === undefined) return false;
  event.preventDefault();
  buttons[target].focus();
  return true;
}
