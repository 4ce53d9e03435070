// Translation helpers over Django's JavaScript catalog (/jsi18n/, loaded
// before the modules). makemessages finds the literal gettext("...") calls
// in every module, so each module calls these by exactly these names.

const catalog = globalThis;

export function gettext(msgid) {
  return typeof catalog.gettext === "function" ? catalog.gettext(msgid) : msgid;
}

export function ngettext(singular, plural, count) {
  if (typeof catalog.ngettext === "function") {
    return catalog.ngettext(singular, plural, count);
  }
  return count === 1 ? singular : plural;
}

// The same English words meaning different things ("Resolved": a view, a
// status) are told apart by a context.
export function pgettext(context, msgid) {
  return typeof catalog.pgettext === "function" ? catalog.pgettext(context, msgid) : msgid;
}

// A named placeholder, "%(name)s"; the only kind the catalog's strings use.
export const PLACEHOLDER = /%\((\w+)\)s/g;

// interpolate("Hello %(name)s", {name: "Ana"}): named placeholders only.
export function interpolate(format, values) {
  return format.replace(PLACEHOLDER, (whole, key) =>
    Object.hasOwn(values, key) ? String(values[key]) : whole,
  );
}

// The socket's error frames carry an English "detail"; the page shows its own
// translated text for each code.
export function errorText(code) {
  switch (code) {
    case "empty_text":
      return gettext("The message is empty.");
    case "too_long":
      return gettext("The message is too long: at most 4,000 characters.");
    case "rate_limited":
      return gettext("You are sending messages too fast. Wait a moment and try again.");
    case "unknown_user":
      return gettext("This person's account no longer exists.");
    case "invalid_recipient":
      return gettext("This message cannot be sent to that person.");
    case "forbidden":
      return gettext("You are not allowed to do that.");
    default:
      return gettext("The message could not be sent.");
  }
}

export function connectionText(state) {
  switch (state) {
    case "connected":
      return gettext("Connected");
    case "reconnecting":
      return gettext("Reconnecting…");
    case "offline":
      return pgettext("connection state", "Offline");
    case "signed-out":
      return gettext("Signed out");
    default:
      return gettext("Connecting…");
  }
}

export function language() {
  return document.documentElement.lang || navigator.language || "en";
}
