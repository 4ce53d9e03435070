// DOM building for untrusted text: every piece of a message goes in through
// textContent or createTextNode, never as markup. Links are built as
// elements, and only for http(s) URLs.
//
// Text from the server (messages, names, usernames) goes in through textEl(),
// setText(), appendLinkified() or interpolateNodes(); el() is for the page's
// own words. Each piece sits in an element of its own with dir="auto",
// isolated (site.css), so its direction cannot reach the text around it, and
// the bidirectional controls inside it are shown, not applied.

import { PLACEHOLDER, gettext, interpolate, language } from "./i18n.js";

const URL_PATTERN = /\bhttps?:\/\/[^\s<>"'`]+/gi;
const TRAILING_PUNCTUATION = /[.,;:!?'")\]}]+$/;

// Why shown and not applied, nor silently dropped: an override or an
// embedding reorders whole words ("factura_<RLO>gnp.exe" reads
// "factura_exe.png"), and even a mark reorders digits ("1<RLM>2<RLM>3" reads
// "132"), so none of them may act on what a customer or an agent reads.
// Dropping them would hide that someone tried; a small dashed box with the
// Unicode abbreviation (as the Unicode charts draw these characters) tells the
// reader without getting in the way. The box is CSS content, so copying the
// text copies neither the box nor the control. What left-to-right or
// right-to-left text needs without them, dir="auto" and isolation provide.
const BIDI_CONTROLS = /[\u061C\u200E\u200F\u202A-\u202E\u2066-\u2069]/g;
const BIDI_NAMES = new Map([
  ["\u061C", ["ALM", "ARABIC LETTER MARK"]],
  ["\u200E", ["LRM", "LEFT-TO-RIGHT MARK"]],
  ["\u200F", ["RLM", "RIGHT-TO-LEFT MARK"]],
  ["\u202A", ["LRE", "LEFT-TO-RIGHT EMBEDDING"]],
  ["\u202B", ["RLE", "RIGHT-TO-LEFT EMBEDDING"]],
  ["\u202C", ["PDF", "POP DIRECTIONAL FORMATTING"]],
  ["\u202D", ["LRO", "LEFT-TO-RIGHT OVERRIDE"]],
  ["\u202E", ["RLO", "RIGHT-TO-LEFT OVERRIDE"]],
  ["\u2066", ["LRI", "LEFT-TO-RIGHT ISOLATE"]],
  ["\u2067", ["RLI", "RIGHT-TO-LEFT ISOLATE"]],
  ["\u2068", ["FSI", "FIRST STRONG ISOLATE"]],
  ["\u2069", ["PDI", "POP DIRECTIONAL ISOLATE"]],
]);

export function el(tag, className, text) {
  const node = document.createElement(tag);
  if (className) node.className = className;
  if (text !== undefined) node.textContent = text;
  return node;
}

function hasBidiControl(text) {
  return text.search(BIDI_CONTROLS) !== -1;
}

function controlMarker(control) {
  const [abbreviation, name] = BIDI_NAMES.get(control);
  const code = control.codePointAt(0).toString(16).toUpperCase().padStart(4, "0");
  const node = el("span", "bidi-control");
  node.dataset.abbreviation = abbreviation;
  const explained = gettext(
    "%(character)s: an invisible character that changes the direction of text, shown here instead of applied",
  );
  node.title = interpolate(explained, { character: `U+${code} ${name}` });
  node.setAttribute("role", "img");
  node.setAttribute("aria-label", node.title);
  return node;
}

// Append untrusted ``text`` to ``parent``: text nodes, a marker for each control.
function appendText(parent, text) {
  let start = 0;
  for (const match of text.matchAll(BIDI_CONTROLS)) {
    if (match.index > start) parent.append(document.createTextNode(text.slice(start, match.index)));
    parent.append(controlMarker(match[0]));
    start = match.index + 1;
  }
  if (start < text.length) parent.append(document.createTextNode(text.slice(start)));
}

// An element holding untrusted ``text`` in its own direction, isolated.
export function textEl(tag, className, text) {
  const node = el(tag, className);
  setText(node, text);
  return node;
}

// Replace what ``node`` shows with untrusted ``text``, in its own direction.
export function setText(node, text) {
  node.dir = "auto";
  node.replaceChildren();
  appendText(node, text);
}

// A translated ``format`` ("%(name)s: %(text)s") with each value in a <bdi>
// of its own, so that one value's direction cannot reorder the words after it.
export function interpolateNodes(format, values) {
  const nodes = [];
  let start = 0;
  for (const match of format.matchAll(PLACEHOLDER)) {
    nodes.push(document.createTextNode(format.slice(start, match.index)));
    nodes.push(
      Object.hasOwn(values, match[1])
        ? textEl("bdi", null, String(values[match[1]]))
        : document.createTextNode(match[0]),
    );
    start = match.index + match[0].length;
  }
  nodes.push(document.createTextNode(format.slice(start)));
  return nodes;
}

// Append untrusted ``text`` to ``parent`` with the [start, end) ``ranges``
// (ascending, not overlapping) each in a <mark>: a search's matches.
export function appendMarked(parent, text, ranges) {
  let start = 0;
  for (const [from, to] of ranges) {
    appendText(parent, text.slice(start, from));
    const mark = el("mark");
    appendText(mark, text.slice(from, to));
    parent.append(mark);
    start = to;
  }
  appendText(parent, text.slice(start));
}

function safeLink(raw) {
  // A control in a URL would make the link read otherwise than where it goes
  // ("…/<RLO>txt.exe" reads ".../exe.txt"): such a URL stays text, markers and all.
  if (hasBidiControl(raw)) return null;
  let url;
  try {
    url = new URL(raw);
  } catch {
    return null;
  }
  if (url.protocol !== "http:" && url.protocol !== "https:") return null;
  const link = el("a", null, raw);
  // URLs read left to right, whatever the text around them; isolated, the
  // words around a link cannot pull its slashes and numbers out of order.
  link.dir = "ltr";
  link.href = url.href;
  link.rel = "noopener noreferrer nofollow";
  link.target = "_blank";
  return link;
}

// Append untrusted ``text`` to ``parent``, with http(s) URLs as links.
export function appendLinkified(parent, text) {
  let start = 0;
  for (const match of text.matchAll(URL_PATTERN)) {
    let raw = match[0];
    // A sentence's closing punctuation is not part of its URL.
    const trailing = raw.match(TRAILING_PUNCTUATION);
    if (trailing) raw = raw.slice(0, raw.length - trailing[0].length);
    const link = raw && safeLink(raw);
    if (!link) continue;
    appendText(parent, text.slice(start, match.index));
    parent.append(link);
    start = match.index + raw.length;
  }
  appendText(parent, text.slice(start));
}

function sameDay(a, b) {
  return (
    a.getFullYear() === b.getFullYear() &&
    a.getMonth() === b.getMonth() &&
    a.getDate() === b.getDate()
  );
}

const formats = new Map();

function formatter(options) {
  const key = JSON.stringify(options);
  if (!formats.has(key)) formats.set(key, new Intl.DateTimeFormat(language(), options));
  return formats.get(key);
}

// A <time> in the reader's time zone: the time today, the date and time
// before, with the year when it is not this one.
export function timeElement(iso, className = "time") {
  const date = new Date(iso);
  const node = el("time", className);
  node.dateTime = iso;
  if (Number.isNaN(date.getTime())) return node;
  const now = new Date();
  const options = { day: "numeric", month: "short", hour: "numeric", minute: "2-digit" };
  if (date.getFullYear() !== now.getFullYear()) options.year = "numeric";
  const short = sameDay(date, now)
    ? formatter({ hour: "numeric", minute: "2-digit" })
    : formatter(options);
  node.textContent = short.format(date);
  node.title = formatter({ dateStyle: "full", timeStyle: "short" }).format(date);
  return node;
}

// The day ``date`` falls on, in the reader's time zone: "Today", "Yesterday",
// or the date (with the year when it is not this one).
export function dayLabel(date) {
  const now = new Date();
  if (sameDay(date, now)) return gettext("Today");
  const yesterday = new Date(now.getFullYear(), now.getMonth(), now.getDate() - 1);
  if (sameDay(date, yesterday)) return gettext("Yesterday");
  const options = { weekday: "long", day: "numeric", month: "long" };
  if (date.getFullYear() !== now.getFullYear()) options.year = "numeric";
  return formatter(options).format(date);
}

const units = new Map();

function unitFormat(unit, unitDisplay) {
  const key = `${unit}/${unitDisplay}`;
  if (!units.has(key)) {
    units.set(key, new Intl.NumberFormat(language(), { style: "unit", unit, unitDisplay }));
  }
  return units.get(key);
}

// How long since ``iso``, in one unit: "5 min", "2 hr", "3 days" (the
// reader's language); null under a minute.
export function durationSince(iso, now = Date.now()) {
  const minutes = Math.floor((now - Date.parse(iso)) / 60000);
  if (!(minutes >= 1)) return null;
  if (minutes < 60) return unitFormat("minute", "short").format(minutes);
  const hours = Math.floor(minutes / 60);
  if (hours < 24) return unitFormat("hour", "short").format(hours);
  return unitFormat("day", "long").format(Math.floor(hours / 24));
}

// The full date and time of ``iso``, for a title.
export function fullTime(iso) {
  const date = new Date(iso);
  if (Number.isNaN(date.getTime())) return "";
  return formatter({ dateStyle: "full", timeStyle: "short" }).format(date);
}
