// DOM building for untrusted text: every piece of a message goes in through
// textContent or createTextNode, never as markup. Links are built as
// elements, and only for http(s) URLs.

import { language } from "./i18n.js";

const URL_PATTERN = /\bhttps?:\/\/[^\s<>"'`]+/gi;
const TRAILING_PUNCTUATION = /[.,;:!?'")\]}]+$/;

export function el(tag, className, text) {
  const node = document.createElement(tag);
  if (className) node.className = className;
  if (text !== undefined) node.textContent = text;
  return node;
}

function safeLink(raw) {
  let url;
  try {
    url = new URL(raw);
  } catch {
    return null;
  }
  if (url.protocol !== "http:" && url.protocol !== "https:") return null;
  const link = el("a", null, raw);
  link.href = url.href;
  link.rel = "noopener noreferrer nofollow";
  link.target = "_blank";
  return link;
}

// Append ``text`` to ``parent`` as text nodes, with http(s) URLs as links.
export function appendLinkified(parent, text) {
  let start = 0;
  for (const match of text.matchAll(URL_PATTERN)) {
    let raw = match[0];
    // A sentence's closing punctuation is not part of its URL.
    const trailing = raw.match(TRAILING_PUNCTUATION);
    if (trailing) raw = raw.slice(0, raw.length - trailing[0].length);
    const link = raw && safeLink(raw);
    if (!link) continue;
    parent.append(document.createTextNode(text.slice(start, match.index)), link);
    start = match.index + raw.length;
  }
  parent.append(document.createTextNode(text.slice(start)));
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

// A <time> in the reader's time zone: the time today, the date and time before.
export function timeElement(iso, className = "time") {
  const date = new Date(iso);
  const node = el("time", className);
  node.dateTime = iso;
  if (Number.isNaN(date.getTime())) return node;
  const short = sameDay(date, new Date())
    ? formatter({ hour: "numeric", minute: "2-digit" })
    : formatter({ day: "numeric", month: "short", hour: "numeric", minute: "2-digit" });
  node.textContent = short.format(date);
  node.title = formatter({ dateStyle: "full", timeStyle: "short" }).format(date);
  return node;
}
