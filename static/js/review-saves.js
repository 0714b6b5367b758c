// review-saves.js: the review page's saves. Each thing saved whole (a gold label, a paragraph's
// gold spans, an article's gold links) is a job, keyed, sent again until the server has its
// newest value: a server that cannot be reached is retried, waiting longer each time; a
// refusal (400, 403, 404) is final; signed out (401) waits for the tab to be shown again.
import { request } from "./api.js";

const RETRY_STATUSES = new Set([401, 408, 425, 429]);
const MAX_DELAY_MS = 8000;
const STATE_ORDER = ["signed-out", "failed", "rejected", "pending", "saved"];

/**
 * onChange(card): a job of this card changed state (its worst state is stateOf(card)).
 * onSettled(job): a job's request came back, whatever the answer (what waits on it may go).
 */
export function createSaves({ onChange, onSettled }) {
  const jobs = new Map(); // key -> {card, build, onSaved, waitsFor, version, state, delay, timer, inFlight}

  /** The worst state of the card's jobs: signed-out, failed, rejected, pending, saved or "". */
  function stateOf(card) {
    const states = [...jobs.values()].filter((job) => job.card === card).map((job) => job.state);
    return STATE_ORDER.find((state) => states.includes(state)) ?? "";
  }

  /**
   * Save what `build()` gives ({method, url, body, value}) now and until the server has it;
   * onSaved(answer, value) runs once it has the newest. `tags` are kept on the job (`waitsFor`:
   * a function of the other jobs, true while this one must not be sent yet).
   */
  function want(key, card, build, onSaved = null, tags = {}) {
    const job = jobs.get(key) ?? { inFlight: false, version: 0, delay: 500 };
    const before = job.card;
    Object.assign(job, tags, { card, build, onSaved, state: "pending", version: job.version + 1 });
    jobs.set(key, job);
    if (before && before !== card) onChange(before);
    onChange(card);
    send(job);
  }

  async function send(job) {
    if (job.inFlight || job.waitsFor?.([...jobs.values()])) return; // sent when that comes back
    clearTimeout(job.timer);
    const version = job.version;
    const { method, url, body, value } = job.build();
    job.inFlight = true;
    let response = null;
    try {
      response = await request(method, url, body);
    } catch {
      response = null; // the server is unreachable
    }
    job.inFlight = false;
    if (job.version !== version) return send(job); // changed while this one was on its way
    if (response?.ok) {
      job.state = "saved";
      job.delay = 500;
      const answer = response.status === 204 ? null : await response.json().catch(() => null);
      job.onSaved?.(answer, value);
    } else if (response && response.status < 500 && !RETRY_STATUSES.has(response.status)) {
      job.state = "rejected"; // bad input, no right, paragraph gone: retrying cannot help
    } else if (response?.status === 401) {
      job.state = "signed-out"; // no retrying until signed in again: the tab shown again tries once
    } else {
      job.state = "failed";
      job.delay = Math.min(job.delay * 2, MAX_DELAY_MS);
      job.timer = setTimeout(() => send(job), job.delay);
    }
    onChange(job.card);
    onSettled(job);
  }

  /** Send the job under `key` if it waits to be sent (pending or failed). */
  function nudge(key) {
    const job = jobs.get(key);
    if (job && ["pending", "failed"].includes(job.state)) send(job);
  }

  function retryNow() {
    for (const job of jobs.values()) {
      if (job.state === "failed" || job.state === "signed-out") send(job);
    }
  }

  return { want, nudge, retryNow, stateOf, get: (key) => jobs.get(key) };
}
