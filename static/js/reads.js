// The read marks this page sends (the "read" frame). The team's move an
// agent's unread counts and the customer's "Seen"; the customer's own mark,
// moved when a reply is in sight, is the team's "Seen" (PROTOCOL.md 5.3).

export class ReadMarks {
  // parts: me; threads (user -> Thread); inbox (the team's page);
  // send(frame) -> false without a ready socket.
  constructor(parts) {
    Object.assign(this, parts);
    this.sent = new Map(); // thread -> highest id sent in a read frame
  }

  // An agent read ``user``'s conversation up to its newest message;
  // ``again``: say so even if already said (a new socket).
  team(user, again = false) {
    const thread = this.threads.get(user);
    const upTo = Math.max(thread?.lastId ?? 0, this.inbox.conversations.get(user)?.last.id ?? 0);
    this.inbox.clearUnread(user);
    if (!upTo || (!again && (this.sent.get(user) ?? 0) >= upTo)) return;
    this.#send(user, upTo);
  }

  // The customer's page: read up to the newest message, once a reply is
  // newer than the mark sent and the page is in sight.
  own() {
    const thread = this.threads.get(this.me);
    if (!thread || document.hidden) return;
    const sent = this.sent.get(this.me) ?? 0;
    const reply = thread.ids.findLast((id) => id > sent && thread.byId.get(id).from !== this.me);
    if (reply) this.#send(this.me, thread.lastId);
  }

  #send(user, upTo) {
    if (this.send({ type: "read", thread: user, up_to: upTo })) this.sent.set(user, upTo);
  }
}
