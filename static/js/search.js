// Searching the conversations: the box above the tabs queries
// /api/conversations?q= as the agent types, and lists each conversation with
// its newest matching message, the query's words marked. Matching ignores
// case and accents ("jose" finds "José"), as the server's does. Escape, or
// an empty box, goes back to the tabs.

import { getJson } from "./api.js";
import { gettext, interpolate, ngettext } from "./i18n.js";
import { appendMarked, el, timeElement } from "./render.js";
import { deskLine, moveBetweenRows, said } from "./rows.js";

const DEBOUNCE_MS = 250;
const SNIPPET_CHARS = 160;
const CONTEXT_CHARS = 40;

// ``char`` as compared: decomposed, marks dropped, lower case (the server's
// chat.search.words_of folds the same way: NFKD, so "ﬁ" is "fi" there too).
function foldChar(char) {
  return char.normalize("NFKD").replace(/\p{M}/gu, "").toLowerCase();
}

const WORD = /[\p{L}\p{N}]+/gu;
const WORD_CHAR = /[\p{L}\p{N}]/u;
// A one-letter word matches whole words only, as on the server.
const MIN_PREFIX_CHARS = 2;

// The folded text, and for each of its code units the original span it came from.
function fold(text) {
  let folded = "";
  const starts = [];
  const ends = [];
  let index = 0;
  for (const char of text) {
    const piece = foldChar(char);
    for (let i = 0; i < piece.length; i += 1) {
      starts.push(index);
      ends.push(index + char.length);
    }
    folded += piece;
    index += char.length;
  }
  return { folded, starts, ends };
}

// The words of a search, folded: letters and digits, the rest separates.
export function queryWords(query) {
  return fold(query).folded.match(WORD) ?? [];
}

// Where the ``words`` occur in ``text`` as the server finds them, at the
// start of a word: [start, end) ranges of the original text, ascending and
// merged, each ending after any combining marks.
export function matchRanges(text, words) {
  const { folded, starts, ends } = fold(text);
  const found = [];
  for (const word of words) {
    for (let at = folded.indexOf(word); at !== -1; at = folded.indexOf(word, at + 1)) {
      if (at > 0 && WORD_CHAR.test(folded[at - 1])) continue;
      const after = folded[at + word.length];
      if (word.length < MIN_PREFIX_CHARS && after && WORD_CHAR.test(after)) continue;
      let end = ends[at + word.length - 1];
      while (end < text.length) {
        const next = String.fromCodePoint(text.codePointAt(end));
        if (foldChar(next) !== "") break;
        end += next.length;
      }
      found.push([starts[at], end]);
    }
  }
  found.sort((a, b) => a[0] - b[0] || a[1] - b[1]);
  const merged = [];
  for (const range of found) {
    const previous = merged.at(-1);
    if (previous && range[0] <= previous[1]) previous[1] = Math.max(previous[1], range[1]);
    else merged.push([...range]);
  }
  return merged;
}

// Text with its matches marked, cut around the first one when long.
function snippet(text, words) {
  const flat = text.replace(/\s+/g, " ").trim();
  const ranges = matchRanges(flat, words);
  if (flat.length <= SNIPPET_CHARS) return { text: flat, ranges, before: false, after: false };
  let start = Math.max(0, (ranges[0]?.[0] ?? 0) - CONTEXT_CHARS);
  const space = flat.indexOf(" ", start);
  if (start > 0 && space !== -1 && space - start < 15) start = space + 1;
  if (/[\uDC00-\uDFFF]/.test(flat[start] ?? "")) start += 1;
  let end = Math.min(flat.length, start + SNIPPET_CHARS);
  if (/[\uD800-\uDBFF]/.test(flat[end - 1] ?? "")) end -= 1;
  const clipped = ranges
    .filter(([from, to]) => to > start && from < end)
    .map(([from, to]) => [Math.max(from, start) - start, Math.min(to, end) - start]);
  return { text: flat.slice(start, end), ranges: clipped, before: start > 0, after: end < flat.length };
}

export class Search {
  // parts: input, box (the results' section), results (ul), status, more;
  // inbox; me; patiently(load); onOpen(user, messageId); onActive(searching).
  constructor(parts) {
    Object.assign(this, parts);
    this.query = "";
    this.timer = null;
    this.tickets = 0;
    this.rows = [];
    this.next = null;
    this.selected = null;
    this.input.addEventListener("input", () => this.#typed());
    this.input.addEventListener("keydown", (event) => {
      if (event.key === "Escape" && this.input.value) {
        event.preventDefault();
        this.clear();
      } else if (event.key === "ArrowDown" && this.active) {
        event.preventDefault();
        this.results.querySelector("button.conv")?.focus();
      }
    });
    this.results.addEventListener("click", (event) => {
      const button = event.target.closest("button.conv");
      if (!button) return;
      this.select(button.dataset.user);
      this.onOpen(button.dataset.user, Number(button.dataset.match) || null);
    });
    this.results.addEventListener("keydown", (event) => this.#onKey(event));
    this.more.addEventListener("click", () => this.#load(this.next, true));
  }

  get active() {
    return this.query !== "";
  }

  clear() {
    this.input.value = "";
    this.#typed();
    this.input.focus();
  }

  select(user) {
    this.selected = user;
    for (const button of this.results.querySelectorAll("button.conv")) {
      if (button.dataset.user === user) button.setAttribute("aria-current", "true");
      else button.removeAttribute("aria-current");
    }
  }

  #typed() {
    window.clearTimeout(this.timer);
    const query = this.input.value.trim();
    if (!query) {
      this.tickets += 1;
      this.query = "";
      this.results.replaceChildren();
      this.status.textContent = "";
      this.more.hidden = true;
      this.onActive(false);
      return;
    }
    this.timer = window.setTimeout(() => {
      if (query === this.query) return;
      this.query = query;
      this.onActive(true);
      this.#load(new URLSearchParams({ q: query }), false);
    }, DEBOUNCE_MS);
  }

  async #load(params, more) {
    const ticket = ++this.tickets;
    const query = this.query;
    this.more.disabled = true;
    if (!more) this.status.textContent = gettext("Searching…");
    const stamp = this.inbox.seq;
    let page;
    try {
      page = await this.patiently(() => getJson(`/api/conversations?${params}`));
    } finally {
      this.more.disabled = false;
    }
    if (ticket !== this.tickets) return;
    if (!more) this.rows = [];
    const words = queryWords(query);
    // A conversation already listed (pages may overlap) stays where it is.
    const listed = new Set(this.rows.map((row) => row.user));
    const fresh = page.conversations.filter((row) => !listed.has(row.user));
    const nodes = fresh.map((row) => this.#row(row, words, stamp));
    this.rows.push(...fresh);
    if (more) this.results.append(...nodes);
    else this.results.replaceChildren(...nodes);
    const last = page.conversations.at(-1);
    this.next = null;
    if (page.has_more && last) {
      // The server says where the next page starts (a row does not always show it).
      const before = page.next_before ?? (last.match ?? last.last_message).id;
      this.next = new URLSearchParams({ q: query, before: String(before) });
    }
    this.more.hidden = this.next === null;
    const count = this.rows.length;
    this.status.textContent = count
      ? interpolate(
          ngettext("%(count)s conversation found", "%(count)s conversations found", count),
          { count: count.toLocaleString() },
        )
      : interpolate(gettext("No conversation matches “%(query)s”."), { query });
  }

  #row(row, words, stamp) {
    const conv = this.inbox.merge(row, stamp);
    const message = row.match ?? row.last_message;
    const button = el("button", "conv conv--result");
    button.type = "button";
    button.dataset.user = row.user;
    if (row.match) button.dataset.match = String(row.match.id);
    if (row.user === this.selected) button.setAttribute("aria-current", "true");
    const top = el("span", "conv__top");
    const name = el("span", "conv__name");
    name.dir = "auto";
    appendMarked(name, row.name, matchRanges(row.name, words));
    top.append(name, timeElement(message.sent_at, "conv__time"));
    const text = el("bdi");
    const cut = snippet(message.text, row.match ? words : []);
    text.dir = "auto";
    appendMarked(text, (cut.before ? "…" : "") + cut.text + (cut.after ? "…" : ""),
      cut.ranges.map(([from, to]) => (cut.before ? [from + 1, to + 1] : [from, to])));
    const preview = el("span", "conv__preview conv__preview--match");
    preview.append(...said(message, this.me, text));
    button.append(top, preview, deskLine(conv, this.me));
    const item = el("li");
    item.append(button);
    return item;
  }

  #onKey(event) {
    const buttons = [...this.results.querySelectorAll("button.conv")];
    const index = buttons.indexOf(document.activeElement);
    if (index === -1) return;
    if (event.key === "Escape") {
      event.preventDefault();
      this.clear();
    } else if (event.key === "ArrowUp" && index === 0) {
      event.preventDefault();
      this.input.focus();
    } else {
      moveBetweenRows(this.results, event);
    }
  }
}
