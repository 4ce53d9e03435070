// The team's presence (PROTOCOL.md 5.2). A customer sees one word for the
// whole team where a bare "Connected" used to stand: their own socket being
// up says nothing about whether anyone will answer. An admin sees each
// colleague's state and sets their own, Available or Away; the server keeps
// that across reconnects, so the page shows what the server says.

import { connectionText, gettext, pgettext } from "./i18n.js";
import { el, textEl } from "./render.js";

const ORDER = { online: 0, away: 1, offline: 2 };

// What a customer is told of the team.
export function teamStatusText(status) {
  switch (status) {
    case "online":
      return gettext("Support is online");
    case "away":
      return gettext("We're away — leave a message and we'll answer here");
    default:
      return gettext("We're offline — leave a message and we'll answer here");
  }
}

// One admin's state, as a colleague reads it.
function memberStatusText(status) {
  switch (status) {
    case "online":
      return gettext("Available");
    case "away":
      return gettext("Away");
    default:
      return pgettext("team member status", "Offline");
  }
}

// The ``.connection`` lines: data-state is the socket's state; for a
// customer, once connected, the text (and data-team) is the team's.
export class StatusLine {
  constructor(nodes, { isAdmin }) {
    this.nodes = nodes;
    this.isAdmin = isAdmin;
    this.socket = "connecting";
    this.team = null; // unknown until the server says (an older one never does)
  }

  state(state) {
    this.socket = state;
    this.#render();
  }

  teamStatus(status) {
    this.team = ORDER[status] === undefined ? null : status;
    this.#render();
  }

  #render() {
    const team = !this.isAdmin && this.socket === "connected" ? this.team : null;
    const text = team ? teamStatusText(team) : connectionText(this.socket);
    for (const node of this.nodes) {
      node.dataset.state = this.socket;
      if (team) node.dataset.team = team;
      else delete node.dataset.team;
      // Unchanged words are not rewritten: the status region would read them again.
      if (node.textContent !== text) node.textContent = text;
    }
  }
}

// The team's strip over the inbox: the admin's own Available / Away, and
// each colleague with a dot for their state.
export class TeamBar {
  // root: the strip, filled here; me; send(frame) -> false when no socket is ready.
  constructor(root, { me, send }) {
    this.me = me;
    this.send = send;
    this.wanted = null; // a choice the server has not confirmed yet
    this.mine = el("span", "availability");
    this.select = el("select", "availability__select");
    this.select.id = "availability";
    for (const status of ["online", "away"]) {
      const option = el("option", null, memberStatusText(status));
      option.value = status;
      this.select.append(option);
    }
    const label = el("label", "visually-hidden", gettext("Your status"));
    label.htmlFor = this.select.id;
    this.mine.append(label, this.select);
    this.list = el("ul", "team");
    this.list.id = "team";
    this.list.setAttribute("aria-label", gettext("The team"));
    root.prepend(this.mine, this.list);
    root.hidden = false;
    this.select.addEventListener("change", () => this.#choose(this.select.value));
  }

  // A presence frame's ``team``: every active admin, this one included.
  apply(team) {
    // One entry per person, the most present one: a server's list may still
    // hold an account just replaced under the same name.
    const people = new Map();
    for (const member of team) {
      const known = people.get(member.user);
      if (ORDER[member.status] !== undefined && !(known && ORDER[known.status] <= ORDER[member.status])) {
        people.set(member.user, member);
      }
    }
    const own = people.get(this.me);
    if (own && own.status !== "offline") {
      if (this.wanted === own.status) this.wanted = null;
      if (this.wanted === null) this.#showOwn(own.status);
    }
    people.delete(this.me);
    const others = [...people.values()].sort(
      (a, b) => ORDER[a.status] - ORDER[b.status] || a.name.localeCompare(b.name),
    );
    this.list.replaceChildren(...others.map(memberNode));
  }

  // A socket caught up: a choice made while there was none goes out now.
  ready() {
    if (this.wanted !== null) this.send({ type: "availability", status: this.wanted });
  }

  #choose(status) {
    this.wanted = status;
    this.#showOwn(status);
    this.send({ type: "availability", status });
  }

  #showOwn(status) {
    this.select.value = status;
    this.mine.dataset.status = status;
  }
}

function memberNode({ user, name, status }) {
  const item = el("li", "team__member");
  const label = memberStatusText(status);
  item.dataset.user = user;
  item.dataset.status = status;
  item.title = `${name}: ${label}`;
  const dot = el("span", "team__dot");
  dot.setAttribute("aria-hidden", "true");
  item.append(dot, textEl("span", "team__name", name), el("span", "visually-hidden", `: ${label}`));
  return item;
}
