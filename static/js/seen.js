// "Seen" (PROTOCOL.md 5.3): under the last message of this side that the
// other side has read. A customer's own messages against the team's mark
// (anyone on the team); for the team, its replies (not notes) against the
// customer's mark. Marks come with each history page and live in ``seen``
// frames, and only ever move forward.

import { gettext } from "./i18n.js";
import { el } from "./render.js";

export class SeenMarks {
  // list: the messages' <ol>; isAdmin.
  constructor(list, { isAdmin }) {
    this.list = list;
    this.ours = isAdmin ? "li.msg--team:not(.msg--note)[data-id]" : "li.msg--mine[data-id]";
    this.marks = new Map(); // thread -> the other side's mark
    this.open = null;
    this.label = el("p", "msg__seen", gettext("Seen"));
    // The list redraws itself (a thread shown, a message placed): the label
    // follows. Only the list's own children are watched, not the label.
    new MutationObserver(() => this.#render()).observe(list, { childList: true });
  }

  mark(thread) {
    return this.marks.get(thread) ?? 0;
  }

  // The other side has read ``thread`` up to ``upTo`` (null or less: no news).
  set(thread, upTo) {
    if (!Number.isSafeInteger(upTo) || upTo <= this.mark(thread)) return;
    this.marks.set(thread, upTo);
    if (thread === this.open) this.#render();
  }

  // The conversation the list shows (null: none).
  show(thread) {
    this.open = thread;
    this.#render();
  }

  #render() {
    const mark = this.open === null ? 0 : this.mark(this.open);
    let target = null;
    if (mark > 0) {
      const ours = this.list.querySelectorAll(this.ours);
      for (let i = ours.length - 1; i >= 0; i -= 1) {
        if (Number(ours[i].dataset.id) <= mark) {
          target = ours[i];
          break;
        }
      }
    }
    if (!target) this.label.remove();
    else if (this.label.parentNode !== target) target.append(this.label);
  }
}
