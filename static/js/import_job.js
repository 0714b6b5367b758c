// import_job.js: a background import's page polls its job (GET /api/import-jobs/<id>) and
// shows how far it is; once it ends the page is loaded again to show the outcome.

const MB = 1024 * 1024;
const EVERY = 1000; // ms between polls

/** A message from the job element's data-* (translated by the page), its {name}s filled in. */
function message(box, name, values) {
  return box.dataset[name].replace(/\{(\w+)\}/g, (_, key) => values[key]);
}

function show(box, job) {
  const bar = box.querySelector("progress");
  const text = box.querySelector(".job-text");
  if (!bar || !text) return;
  if (job.stage === "paragraphs stored") { // every record read and checked: storing them
    bar.removeAttribute("value");
    text.textContent = box.dataset.storing;
    return;
  }
  if (job.bytes_total) bar.value = Math.floor((100 * job.bytes_read) / job.bytes_total);
  text.textContent = message(box, "read", { records: job.records_read,
    read: (job.bytes_read / MB).toFixed(1), total: (job.bytes_total / MB).toFixed(1) });
}

async function poll(box) {
  try {
    const response = await fetch(box.dataset.url, { headers: { Accept: "application/json" } });
    if (!response.ok) throw new Error(String(response.status));
    const job = await response.json();
    if (job.state !== box.dataset.state && !["queued", "running"].includes(job.state)) {
      location.reload(); // the outcome, rendered by the server
      return;
    }
    document.getElementById("job-state").textContent = JSON.parse(box.dataset.states)[job.state];
    show(box, job);
  } catch {
    const text = box.querySelector(".job-text");
    if (text) text.textContent = box.dataset.lost;
  }
  setTimeout(() => poll(box), EVERY);
}

const box = document.getElementById("import-job");
if (box && ["queued", "running"].includes(box.dataset.state)) setTimeout(() => poll(box), EVERY);
