// The composer: Enter sends, Shift+Enter starts a line, a counter near the
// 4,000-character limit. For the team also: a reply or an internal note
// (Ctrl+Alt+N switches; a note looks unlike a reply, so nobody sends one
// thinking it is the other), and canned replies after "/" (canned.js).

import { CannedPicker } from "./canned.js";
import { errorText, gettext, interpolate, language } from "./i18n.js";

// The counter shows from this share of the limit (the server's MAX_MESSAGE_CHARS,
// the textarea's maxlength) onwards.
const COUNT_FROM_SHARE = 0.9;

export class Composer {
  // form: the composer; options: send(text, {note}) -> false when it could
  // not go; typed() on each key that changes a non-empty text; announce(text);
  // nameOf() -> the open conversation's display name (the team's composer only).
  constructor(form, options) {
    this.form = form;
    this.options = options;
    this.text = form.querySelector("textarea");
    this.count = form.querySelector(".composer__count");
    this.label = form.querySelector(`label[for="${this.text.id}"]`);
    this.send = form.querySelector(".composer__send");
    this.modes = form.querySelectorAll("input[name=mode]");
    this.picker = null;
    const canned = form.querySelector(".canned");
    if (canned) {
      this.picker = new CannedPicker({
        text: this.text,
        list: canned,
        nameOf: options.nameOf,
        changed: () => this.updateCount(),
        announce: options.announce,
      });
    }
    form.addEventListener("submit", (event) => {
      event.preventDefault();
      this.submit();
    });
    this.text.addEventListener("input", () => {
      this.updateCount();
      if (this.text.value) this.options.typed();
    });
    this.text.addEventListener("keydown", (event) => {
      if (this.picker?.handleKey(event)) return;
      if (event.key !== "Enter" || event.shiftKey || event.isComposing || event.altKey) return;
      event.preventDefault();
      this.submit();
    });
    for (const mode of this.modes) {
      mode.addEventListener("change", () => this.#showMode());
    }
    if (this.modes.length) {
      document.addEventListener("keydown", (event) => {
        if (!(event.ctrlKey && event.altKey && event.code === "KeyN") || this.form.hidden) return;
        event.preventDefault();
        this.setNote(!this.note);
        this.options.announce(
          this.note
            ? gettext("Internal note — only the team sees this")
            : gettext("Reply — the customer sees this"),
        );
        this.text.focus();
      });
    }
  }

  get note() {
    return [...this.modes].some((mode) => mode.value === "note" && mode.checked);
  }

  setNote(note) {
    for (const mode of this.modes) mode.checked = mode.value === (note ? "note" : "reply");
    this.#showMode();
  }

  focus() {
    this.text.focus();
  }

  // Put ``text`` back in the composer (a failed message to edit).
  fill(text) {
    this.text.value = text;
    this.updateCount();
    this.text.focus();
  }

  #showMode() {
    const note = this.note;
    this.form.classList.toggle("composer--note", note);
    this.label.classList.toggle("visually-hidden", !note);
    this.label.textContent = note ? gettext("Internal note — only the team sees this") : gettext("Message");
    this.send.textContent = note ? gettext("Add note") : gettext("Send");
    this.text.placeholder = note ? gettext("Write a note for the team…") : gettext("Write a message…");
  }

  updateCount() {
    const max = this.text.maxLength;
    const length = this.text.value.length;
    const format = (n) => n.toLocaleString(language());
    this.count.hidden = length < max * COUNT_FROM_SHARE;
    this.count.classList.toggle("composer__count--limit", length >= max);
    if (length > max) this.count.textContent = errorText("too_long");
    else if (length === max) {
      this.count.textContent = interpolate(
        gettext("%(max)s characters: the most a message can have."),
        { max: format(max) },
      );
    } else {
      this.count.textContent = interpolate(gettext("%(count)s of %(max)s characters"), {
        count: format(length),
        max: format(max),
      });
    }
  }

  submit() {
    const text = this.text.value;
    if (!text.trim()) return;
    if (text.length > this.text.maxLength) {
      // Text put there by a script bypasses maxlength; the server would refuse it.
      this.updateCount();
      this.options.announce(errorText("too_long"));
      return;
    }
    if (this.options.send(text, { note: this.note }) === false) return;
    this.picker?.close();
    this.text.value = "";
    this.updateCount();
    this.text.focus();
  }
}
