// The open conversation's desk bar (the team's page): its status with
// Resolve / Reopen, its owner with "Assign to me" and a picker of the team,
// and a banner when another agent handles it. Every change is a PATCH that
// names the owner the page shows (if_assignee): when someone else changed
// it meanwhile, the server refuses (409) with the conversation as it is,
// which the page then shows and explains.

import { ApiError, getJson, patchJson } from "./api.js";
import { gettext, interpolate, pgettext } from "./i18n.js";
import { el, interpolateNodes } from "./render.js";

export class DeskBar {
  // parts: root, status, resolve, claim, assignee (a select), banner,
  // notice; inbox; me; announce(text); signedOut(error).
  constructor(parts) {
    Object.assign(this, parts);
    this.user = null;
    this.busy = false;
    this.admins = null; // [{user, name}] once /api/admins answered
    this.resolve.addEventListener("click", () => {
      const conv = this.inbox.get(this.user);
      if (conv) this.#change({ status: conv.status === "open" ? "resolved" : "open" });
    });
    this.claim.addEventListener("click", () => this.#change({ assignee: this.me }));
    this.assignee.addEventListener("change", () => {
      this.#change({ assignee: this.assignee.value || null });
    });
  }

  // Show ``user``'s conversation (null: none).
  show(user) {
    this.user = user;
    this.notice.replaceChildren();
    this.root.hidden = user === null;
    if (user !== null) {
      this.#loadAdmins();
      this.render();
    }
  }

  // Draw what the page knows of the open conversation now.
  render() {
    const conv = this.user === null ? null : this.inbox.get(this.user);
    this.root.classList.toggle("desk--unknown", !conv);
    if (!conv) {
      this.banner.replaceChildren();
      return;
    }
    const resolved = conv.status === "resolved";
    this.status.textContent = resolved ? pgettext("conversation status", "Resolved") : pgettext("conversation status", "Open");
    this.status.dataset.status = conv.status;
    this.resolve.textContent = resolved ? gettext("Reopen") : gettext("Resolve");
    const mine = conv.assignee === this.me;
    if (mine && document.activeElement === this.claim) this.assignee.focus();
    this.claim.hidden = mine;
    this.#fillPicker(conv);
    for (const control of [this.resolve, this.claim, this.assignee]) control.disabled = this.busy;
    const other = conv.assignee && !mine;
    // Changed only when it says something else: a live region reads each change.
    const said = other ? `${conv.assignee}\u0000${conv.assignee_name}` : "";
    if (this.banner.dataset.said !== said) {
      this.banner.dataset.said = said;
      this.banner.replaceChildren(
        ...(other
          ? interpolateNodes(gettext("%(name)s is handling this conversation."), {
              name: conv.assignee_name,
            })
          : []),
      );
    }
  }

  #fillPicker(conv) {
    // Rebuilt only when it would change: an open picker stays open as messages arrive.
    const drawn = JSON.stringify([this.admins?.length ?? 0, conv.assignee, conv.assignee_name]);
    if (this.assignee.dataset.drawn === drawn) {
      this.assignee.value = conv.assignee ?? "";
      return;
    }
    this.assignee.dataset.drawn = drawn;
    const team = [...(this.admins ?? [])];
    const known = (user) => team.some((admin) => admin.user === user);
    // The owner and the agent themself, even before (or without) the team's list.
    if (conv.assignee && !known(conv.assignee)) team.push({ user: conv.assignee, name: conv.assignee_name });
    if (!known(this.me)) team.push({ user: this.me, name: this.me });
    const none = el("option", null, gettext("Unassigned"));
    none.value = "";
    const options = team.map((admin) => {
      // Plain text: an option can hold nothing else.
      const option = el(
        "option",
        null,
        admin.user === this.me
          ? interpolate(gettext("%(name)s (you)"), { name: admin.name })
          : admin.name,
      );
      option.value = admin.user;
      option.dir = "auto";
      return option;
    });
    this.assignee.replaceChildren(none, ...options);
    this.assignee.value = conv.assignee ?? "";
  }

  async #loadAdmins() {
    if (this.admins || this.loadingAdmins) return;
    this.loadingAdmins = true;
    try {
      this.admins = (await getJson("/api/admins")).admins;
      this.render();
    } catch (error) {
      if (error instanceof ApiError && error.signedOut) this.signedOut(error);
    } finally {
      this.loadingAdmins = false;
    }
  }

  async #change(change) {
    const user = this.user;
    const shown = this.inbox.get(user);
    if (!shown || this.busy) return;
    this.busy = true;
    this.notice.replaceChildren();
    this.render();
    const stamp = this.inbox.seq;
    try {
      const row = await patchJson(`/api/conversations/${encodeURIComponent(user)}`, {
        ...change,
        if_assignee: shown.assignee,
      });
      this.inbox.merge(row, stamp);
      this.#announceDone(change, row);
    } catch (error) {
      if (error instanceof ApiError && error.signedOut) {
        this.signedOut(error);
        return;
      }
      const current = error instanceof ApiError ? error.body?.conversation : null;
      if (current) this.inbox.merge(current, stamp);
      if (this.user === user) this.#say(...this.#refusal(error, current));
    } finally {
      this.busy = false;
      if (this.user === user) this.render();
    }
  }

  #say(...nodes) {
    // Cleared first, so that the same words twice are still read out.
    this.notice.replaceChildren();
    window.setTimeout(() => this.notice.replaceChildren(...nodes), 50);
  }

  // Why a change was refused, as nodes.
  #refusal(error, current) {
    const text = (words) => [document.createTextNode(words)];
    if (error instanceof ApiError && error.status === 409 && current) {
      if (current.assignee === this.me) return text(gettext("This conversation is already yours."));
      if (current.assignee) {
        return interpolateNodes(gettext("%(name)s took this conversation a moment ago."), {
          name: current.assignee_name ?? current.assignee,
        });
      }
      return text(gettext("Someone unassigned this conversation a moment ago."));
    }
    if (error instanceof ApiError && error.code === "unknown_user") {
      return text(gettext("This person's account no longer exists."));
    }
    return text(gettext("The conversation could not be changed. Try again."));
  }

  #announceDone(change, row) {
    if (change.status) {
      this.announce(row.status === "resolved" ? pgettext("conversation status", "Resolved") : pgettext("conversation status", "Open"));
    } else if (!row.assignee) {
      this.announce(gettext("Unassigned"));
    } else if (row.assignee === this.me) {
      this.announce(gettext("Assigned to you"));
    } else {
      this.announce(interpolate(gettext("Assigned to %(name)s"), { name: row.assignee_name }));
    }
  }
}
