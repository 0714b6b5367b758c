// api.js: talk to the JSON API. Label saves go through a queue kept in localStorage,
// so a save that fails (server down, network gone) is retried until the server confirms it,
// across page reloads.

let csrfToken = document.querySelector('meta[name="csrf-token"]')?.content ?? "";

/**
 * A JSON API call with the session's CSRF token. A token refused because the session was
 * renewed since the page loaded (signed in again in another tab) is fetched anew from a page
 * of this session, once, and the call sent again: the page goes on without a reload.
 */
export async function request(method, url, body) {
  const send = () => {
    const options = { method, headers: { "X-CSRFToken": csrfToken }, credentials: "same-origin" };
    if (body !== undefined) {
      options.headers["Content-Type"] = "application/json";
      options.body = JSON.stringify(body);
    }
    return fetch(url, options);
  };
  const response = await send();
  if (response.status !== 400) return response;
  const reason = await response.clone().json().then((b) => b?.reason, () => null);
  if (reason !== "csrf" || !(await renewCsrfToken())) return response;
  return send();
}

/** The current session's CSRF token, read from the sign-in page and put in this page's forms;
 * true if it changed. */
async function renewCsrfToken() {
  try {
    const html = await (await fetch("/login", { credentials: "same-origin" })).text();
    const token = new DOMParser().parseFromString(html, "text/html")
      .querySelector('meta[name="csrf-token"]')?.content;
    if (!token || token === csrfToken) return false;
    csrfToken = token; // and the page's forms (Shift+Enter's next article, sign out) with it
    for (const field of document.querySelectorAll('input[name="csrf_token"]')) field.value = token;
    document.querySelector('meta[name="csrf-token"]')?.setAttribute("content", token);
    return true;
  } catch {
    return false; // unreachable: the caller keeps the change and says so
  }
}

const RETRY_STATUSES = new Set([401, 408, 425, 429]);
const MAX_DELAY_MS = 8000;

export class SaveQueue {
  /**
   * Every change the server has not confirmed is kept under its own localStorage key,
   * `<prefix>.<paragraphId>`, so tabs never overwrite each other's changes and a reload finds them.
   * onState(paragraphId, state, entry, error): state is
   * saved|pending|failed|signed-out|stale-page|rejected;
   * a rejected change comes with the server's reason (e.g. a note over the limit).
   * onCount(waiting, failing, stopped): how many changes wait, how many of them failed, and
   * why retrying stopped: null, "signed-out" (401) or "stale-page" (the session was renewed
   * elsewhere, so this page's CSRF token is refused). Stopped changes are kept, not retried on
   * a timer: the next visit (after signing in) sends them; a tab shown again tries once.
   * requests: for changes other than labels (`put(id, {kind, ...})`), kind -> (id, entry) =>
   * Promise<Response>; a saved one's onState gets the server's answer as a fifth argument.
   */
  constructor(prefix, { onState, onCount, requests = {} }) {
    this.prefix = `${prefix}.`;
    this.onState = onState;
    this.onCount = onCount;
    this.requests = requests;
    this.pending = new Map(); // paragraphId -> {label, note, at}
    this.inFlight = new Set();
    this.failing = new Set();
    this.delay = 1000;
    this.timer = null;
    this.storageWorks = true;
    this.stopped = null;
    for (let i = 0; i < localStorage.length; i++) {
      const key = localStorage.key(i);
      if (key?.startsWith(this.prefix)) {
        const entry = this.#read(key);
        if (entry) this.pending.set(key.slice(this.prefix.length), entry);
      }
    }
    window.addEventListener("online", () => this.retryNow());
    document.addEventListener("visibilitychange", () => {
      if (!document.hidden && this.stopped) this.retryNow(); // signed in again in another tab?
    });
    window.addEventListener("storage", (event) => this.#fromOtherTab(event));
  }

  /** The changes not yet confirmed: [[paragraphId, {label, note, source, article?, at}], ...]. */
  entries() {
    return [...this.pending.entries()];
  }

  /** Queue the wanted state of a paragraph (label null clears it) and send it. */
  put(paragraphId, label, note, source = "human") {
    this.#send([this.#queue(paragraphId, { label, note, source })]);
  }

  /** Queue the wanted state of something else under `id`, sent by requests[fields.kind] (the
   * spans of a paragraph, the links of an article), and send it. */
  putKind(id, fields) {
    this.#send([this.#queue(id, fields)]);
  }

  /**
   * Queue several paragraphs of one article ([{paragraphId, label, note, source}], label null
   * clears) and send them in one request per kind: the labels in one POST
   * /api/articles/<id>/annotations (all or nothing), the clears in one DELETE. Each paragraph
   * is kept and retried like a single change, and retried in one batch again.
   */
  putMany(articleId, items) {
    this.#send(items.map(({ paragraphId, label, note, source }) =>
      this.#queue(paragraphId, { label, note, source }, articleId)));
  }

  flush() {
    this.#send([...this.pending.keys()]);
    this.#count();
  }

  retryNow() {
    clearTimeout(this.timer);
    this.timer = null;
    this.delay = 1000;
    this.flush();
  }

  #queue(key, fields, article = null) {
    const id = String(key);
    const entry = { ...fields, at: Date.now() + Math.random() / 1000 };
    if (article !== null) entry.article = article;
    this.pending.set(id, entry);
    this.#store(id, entry);
    this.onState(id, "pending", entry);
    return id;
  }

  /** The entry to send for a paragraph, marked in flight; null if none or already in flight. */
  #take(id) {
    if (this.inFlight.has(id)) return null;
    const stored = this.#read(this.prefix + id);
    const mine = this.pending.get(id);
    if (!stored && this.storageWorks) {
      this.pending.delete(id); // another tab had it confirmed
      return null;
    }
    const entry = stored && (!mine || stored.at > mine.at) ? stored : mine; // the newest wins
    if (!entry) return null;
    this.pending.set(id, entry);
    this.inFlight.add(id);
    return entry;
  }

  /** Send these paragraphs' changes: batch entries of one article and kind together. */
  #send(ids) {
    const groups = new Map(); // request key -> [[id, entry], ...]
    for (const id of ids) {
      const entry = this.#take(id);
      if (!entry) continue;
      const key = entry.article == null ? `single ${id}` : `${entry.article} ${entry.label === null}`;
      if (!groups.has(key)) groups.set(key, []);
      groups.get(key).push([id, entry]);
    }
    if (groups.size === 0) this.#count();
    for (const changes of groups.values()) this.#deliver(changes);
  }

  async #deliver(changes) {
    const [id, entry] = changes[0];
    let response = null;
    try {
      response = await this.#request(id, entry, changes);
    } catch {
      response = null; // network error: the server is unreachable
    }
    const answered = response && (!response.ok || entry.kind); // a label's saved answer is not read
    const body = answered ? await response.json().catch(() => null) : null;
    const stopped = response?.status === 401 ? "signed-out" : body?.reason === "csrf" ? "stale-page" : null;
    const retry = !response || stopped !== null || response.status >= 500 || RETRY_STATUSES.has(response.status);
    const error = retry ? null : body?.error ?? null;
    const again = [];
    for (const [changedId, sent] of changes) {
      this.inFlight.delete(changedId);
      if (retry) {
        this.failing.add(changedId);
        this.onState(changedId, stopped ?? "failed", sent);
      } else {
        this.failing.delete(changedId);
        if (this.pending.get(changedId)?.at === sent.at) {
          this.pending.delete(changedId);
          if (this.#read(this.prefix + changedId)?.at === sent.at) localStorage.removeItem(this.prefix + changedId);
          this.onState(changedId, response.ok ? "saved" : "rejected", sent, error, body);
        } else if (this.pending.has(changedId)) {
          again.push(changedId); // changed while this save was on its way
        }
      }
    }
    this.stopped = stopped;
    if (stopped) {
      clearTimeout(this.timer); // retrying cannot help: the reader has to sign in or reload
      this.timer = null;
    } else if (retry) {
      this.#scheduleRetry();
    } else {
      this.delay = 1000;
      if (this.failing.size > 0) this.retryNow(); // the server answers again: retry the rest
      else if (again.length > 0) this.#send(again);
    }
    this.#count();
  }

  #request(id, entry, changes) {
    if (entry.kind) return this.requests[entry.kind](id, entry);
    if (entry.article == null) {
      const url = `/api/paragraphs/${id}/annotation`;
      return entry.label === null
        ? request("DELETE", url)
        : request("PUT", url, { label: entry.label, note: entry.note || null, source: entry.source ?? "human" });
    }
    const url = `/api/articles/${entry.article}/annotations`;
    return entry.label === null
      ? request("DELETE", url, { paragraph_ids: changes.map(([changedId]) => Number(changedId)) })
      : request("POST", url, { items: changes.map(([changedId, sent]) => ({
        paragraph_id: Number(changedId), label: sent.label, note: sent.note || null,
        source: sent.source ?? "human" })) });
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
    this.onCount(this.pending.size, this.failing.size, this.stopped);
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
