// api.js: talk to the JSON API. Label saves go through a queue kept in localStorage,
// so a save that fails (server down, network gone) is retried until the server confirms it,
// across page reloads.

const csrfToken = document.querySelector('meta[name="csrf-token"]')?.content ?? "";

export async function request(method, url, body) {
  const options = { method, headers: { "X-CSRFToken": csrfToken }, credentials: "same-origin" };
  if (body !== undefined) {
    options.headers["Content-Type"] = "application/json";
    options.body = JSON.stringify(body);
  }
  return fetch(url, options);
}

const RETRY_STATUSES = new Set([401, 408, 425, 429]);
const MAX_DELAY_MS = 8000;

export class SaveQueue {
  /**
   * Every change the server has not confirmed is kept under its own localStorage key,
   * `<prefix>.<paragraphId>`, so tabs never overwrite each other's changes and a reload finds them.
   * onState(paragraphId, state, entry, error): state is saved|pending|failed|signed-out|rejected;
   * a rejected change comes with the server's reason (e.g. a note over the limit).
   * onCount(waiting, failing): how many changes wait, and how many of them failed.
   */
  constructor(prefix, { onState, onCount }) {
    this.prefix = `${prefix}.`;
    this.onState = onState;
    this.onCount = onCount;
    this.pending = new Map(); // paragraphId -> {label, note, at}
    this.inFlight = new Set();
    this.failing = new Set();
    this.delay = 1000;
    this.timer = null;
    this.storageWorks = true;
    for (let i = 0; i < localStorage.length; i++) {
      const key = localStorage.key(i);
      if (key?.startsWith(this.prefix)) {
        const entry = this.#read(key);
        if (entry) this.pending.set(key.slice(this.prefix.length), entry);
      }
    }
    window.addEventListener("online", () => this.retryNow());
    window.addEventListener("storage", (event) => this.#fromOtherTab(event));
  }

  /** The changes not yet confirmed: [[paragraphId, {label, note, at}], ...]. */
  entries() {
    return [...this.pending.entries()];
  }

  /** Queue the wanted state of a paragraph (label null clears it) and send it. */
  put(paragraphId, label, note) {
    const id = String(paragraphId);
    const entry = { label, note, at: Date.now() + Math.random() / 1000 };
    this.pending.set(id, entry);
    this.#store(id, entry);
    this.onState(id, "pending", entry);
    this.#send(id);
  }

  flush() {
    for (const id of this.pending.keys()) this.#send(id);
    this.#count();
  }

  retryNow() {
    clearTimeout(this.timer);
    this.timer = null;
    this.delay = 1000;
    this.flush();
  }

  async #send(id) {
    if (this.inFlight.has(id)) return;
    const stored = this.#read(this.prefix + id);
    const mine = this.pending.get(id);
    if (!stored && this.storageWorks) {
      this.pending.delete(id); // another tab had it confirmed
      return this.#count();
    }
    const entry = stored && (!mine || stored.at > mine.at) ? stored : mine; // the newest wins
    if (!entry) return this.#count();
    this.pending.set(id, entry);
    this.inFlight.add(id);
    let response = null;
    try {
      const url = `/api/paragraphs/${id}/annotation`;
      response = entry.label === null
        ? await request("DELETE", url)
        : await request("PUT", url, { label: entry.label, note: entry.note || null });
    } catch {
      response = null; // network error: the server is unreachable
    }
    const retry = !response || response.status >= 500 || RETRY_STATUSES.has(response.status);
    const error = retry || response.ok ? null : await response.json().then((b) => b?.error ?? null, () => null);
    this.inFlight.delete(id);
    if (!retry) {
      this.failing.delete(id);
      this.delay = 1000;
      if (this.pending.get(id)?.at === entry.at) {
        this.pending.delete(id);
        if (this.#read(this.prefix + id)?.at === entry.at) localStorage.removeItem(this.prefix + id);
        this.onState(id, response.ok ? "saved" : "rejected", entry, error);
      } else if (this.pending.has(id)) {
        this.#send(id); // changed while this save was on its way
      }
      if (this.failing.size > 0) this.retryNow(); // the server answers again: retry the rest
    } else {
      this.failing.add(id);
      this.onState(id, response?.status === 401 ? "signed-out" : "failed", entry);
      this.#scheduleRetry();
    }
    this.#count();
  }

  #fromOtherTab(event) {
    if (!event.key?.startsWith(this.prefix)) return;
    const id = event.key.slice(this.prefix.length);
    const entry = event.newValue ? JSON.parse(event.newValue) : null;
    const mine = this.pending.get(id);
    if (entry && (!mine || entry.at > mine.at)) this.pending.set(id, entry);
    if (!entry && mine && !this.inFlight.has(id)) {
      this.pending.delete(id); // the other tab had it confirmed
      this.failing.delete(id);
    }
    this.#count();
  }

  #scheduleRetry() {
    if (this.timer) return;
    this.timer = setTimeout(() => {
      this.timer = null;
      this.delay = Math.min(this.delay * 2, MAX_DELAY_MS);
      this.flush();
    }, this.delay);
  }

  #count() {
    this.onCount(this.pending.size, this.failing.size);
  }

  #read(key) {
    try {
      return JSON.parse(localStorage.getItem(key));
    } catch {
      return null;
    }
  }

  #store(id, entry) {
    try {
      localStorage.setItem(this.prefix + id, JSON.stringify(entry));
      this.storageWorks = true;
    } catch {
      this.storageWorks = false; // full or disabled: still sent, but it won't outlive the page
    }
  }
}
