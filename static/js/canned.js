// Canned replies in the agent's composer: "/" at the start of the text or
// after a space opens a list of the team's ready-made answers, filtered by
// what follows the slash. Up and Down choose, Enter or Tab puts the chosen
// text in place of "/word" ({name}: the customer's display name), Escape
// closes; a click works too. The replies are fetched once, at the first "/".

import { getJson } from "./api.js";
import { gettext, interpolate, ngettext } from "./i18n.js";
import { el, textEl } from "./render.js";

// "/word" right before the caret, at the start or after whitespace.
const TRIGGER = /(^|\s)\/([\w-]*)$/u;
const PREVIEW_CHARS = 90;

export class CannedPicker {
  // parts: text (the textarea), list (an empty ul), nameOf() -> the open
  // conversation's display name, changed() after an insertion, announce(text).
  constructor(parts) {
    Object.assign(this, parts);
    this.replies = null; // the fetch, once
    this.options = [];
    this.active = -1;
    this.open = false;
    this.slash = -1; // where the "/" being completed is
    this.list.setAttribute("role", "listbox");
    this.list.id ||= "canned-list";
    this.list.hidden = true;
    this.text.setAttribute("aria-autocomplete", "list");
    this.text.setAttribute("aria-controls", this.list.id);
    this.text.addEventListener("input", () => this.#refresh());
    this.text.addEventListener("click", () => this.#refresh());
    this.text.addEventListener("keyup", (event) => {
      if (["ArrowLeft", "ArrowRight", "Home", "End"].includes(event.key)) this.#refresh();
    });
    this.text.addEventListener("blur", () => this.close());
    // Pressed, not clicked: the textarea keeps the focus and the caret.
    this.list.addEventListener("mousedown", (event) => {
      const option = event.target.closest("[role=option]");
      if (!option) return;
      event.preventDefault();
      this.#insert(Number(option.dataset.index));
    });
  }

  // The composer's keydown, first: true when the picker used the key.
  handleKey(event) {
    if (!this.open || event.isComposing) return false;
    const count = this.options.length;
    switch (event.key) {
      case "ArrowDown":
      case "ArrowUp":
        if (!count) return false;
        this.#activate((this.active + (event.key === "ArrowDown" ? 1 : count - 1)) % count);
        break;
      case "Enter":
      case "Tab":
        if (!count || event.shiftKey) return false;
        this.#insert(this.active);
        break;
      case "Escape":
        this.close();
        break;
      default:
        return false;
    }
    event.preventDefault();
    return true;
  }

  close() {
    if (!this.open) return;
    this.open = false;
    this.list.hidden = true;
    this.list.replaceChildren();
    this.options = [];
    this.active = -1;
    this.text.removeAttribute("aria-activedescendant");
  }

  async #refresh() {
    const caret = this.text.selectionStart;
    const trigger = this.text.selectionEnd === caret && this.text.value.slice(0, caret).match(TRIGGER);
    if (!trigger) {
      this.close();
      return;
    }
    this.slash = caret - trigger[2].length - 1;
    const replies = await this.#replies();
    // The text may have changed while the replies were on their way.
    const now = this.text.value.slice(0, this.text.selectionStart).match(TRIGGER);
    if (!now || document.activeElement !== this.text) return;
    this.#show(replies, now[2].toLowerCase());
  }

  #replies() {
    this.replies ??= getJson("/api/canned-replies").then(
      (body) => body.canned_replies,
      () => {
        this.replies = null; // try again at the next "/"
        return [];
      },
    );
    return this.replies;
  }

  #show(replies, word) {
    const starting = replies.filter((r) => r.shortcut.toLowerCase().startsWith(word));
    const containing = replies.filter(
      (r) => !r.shortcut.toLowerCase().startsWith(word) && r.shortcut.toLowerCase().includes(word),
    );
    const chosen = this.options[this.active]?.shortcut;
    this.options = [...starting, ...containing];
    const wasOpen = this.open;
    this.open = true;
    this.list.hidden = false;
    if (!this.options.length) {
      const none = el("li", "canned__none", interpolate(gettext("No canned reply matches /%(word)s."), { word }));
      none.setAttribute("role", "option");
      none.setAttribute("aria-disabled", "true");
      this.list.replaceChildren(none);
      this.text.removeAttribute("aria-activedescendant");
      this.active = -1;
      return;
    }
    const name = this.nameOf();
    this.list.replaceChildren(
      ...this.options.map((reply, index) => {
        const option = el("li", "canned__option");
        option.id = `canned-option-${index}`;
        option.dataset.index = String(index);
        option.setAttribute("role", "option");
        let preview = fill(reply.text, name).replace(/\s+/g, " ").trim();
        if (preview.length > PREVIEW_CHARS) preview = preview.slice(0, PREVIEW_CHARS) + "…";
        option.append(textEl("span", "canned__shortcut", `/${reply.shortcut}`), textEl("span", "canned__text", preview));
        return option;
      }),
    );
    const keep = this.options.findIndex((reply) => reply.shortcut === chosen);
    this.#activate(keep === -1 ? 0 : keep);
    if (!wasOpen) {
      const count = this.options.length;
      this.announce(
        interpolate(
          ngettext(
            "%(count)s canned reply: Up and Down to choose, Enter to insert, Escape to close.",
            "%(count)s canned replies: Up and Down to choose, Enter to insert, Escape to close.",
            count,
          ),
          { count },
        ),
      );
    }
  }

  #activate(index) {
    this.active = index;
    for (const option of this.list.children) {
      option.setAttribute("aria-selected", String(Number(option.dataset.index) === index));
    }
    const option = this.list.querySelector(`#canned-option-${index}`);
    if (!option) return;
    this.text.setAttribute("aria-activedescendant", option.id);
    option.scrollIntoView({ block: "nearest" });
  }

  #insert(index) {
    const reply = this.options[index];
    if (!reply) return;
    const end = this.text.selectionStart;
    this.text.setRangeText(fill(reply.text, this.nameOf()), this.slash, end, "end");
    this.close();
    this.text.focus();
    this.changed();
  }
}

// The reply's text with {name} filled in.
function fill(text, name) {
  return text.replaceAll("{name}", name);
}
