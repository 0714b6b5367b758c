// upload.js: the import form sends its file with XMLHttpRequest, showing how much is sent; the
// server's answer (the result page, the too-large page, an error page) then takes the page's
// place as a plain submit's would (a background import's job page is loaded by its address).
// Without JavaScript the form posts as usual.

const MB = 1024 * 1024;

/** A message from the status element's data-* (translated by the page), its {name}s filled in. */
function message(status, name, values = {}) {
  return status.dataset[name].replace(/\{(\w+)\}/g, (_, key) => values[key]);
}

function show(status, text, percent) {
  const bar = status.querySelector("progress");
  if (percent === null) bar.removeAttribute("value"); // indeterminate: the server is at work
  else bar.value = percent;
  status.querySelector(".upload-text").textContent = text;
  status.classList.add("progress"); // laid out as the progress page's bars (not while hidden)
  status.hidden = false;
}

/** Put the answer's page in place of this one: the same scripts, listening on the document. */
function replacePage(html) {
  const page = new DOMParser().parseFromString(html, "text/html");
  document.title = page.title;
  document.body.replaceWith(document.adoptNode(page.body));
}

function send(form, status) {
  const button = form.querySelector("button[type=submit]");
  const request = new XMLHttpRequest();
  request.open("POST", form.action);
  request.upload.addEventListener("progress", (event) => {
    if (!event.lengthComputable) return;
    const percent = Math.floor((100 * event.loaded) / event.total);
    show(status, message(status, "sent", { sent: (event.loaded / MB).toFixed(1),
      total: (event.total / MB).toFixed(1), percent }), percent);
  });
  request.upload.addEventListener("load", () => show(status, message(status, "importing"), null));
  request.addEventListener("load", () => {
    // a background import: the answer redirected to its job page, which polls (its script runs)
    if (new URL(request.responseURL).pathname !== new URL(form.action).pathname) {
      location.assign(request.responseURL);
    } else replacePage(request.responseText);
  });
  request.addEventListener("error", () => {
    show(status, message(status, "failed"), 0);
    button.disabled = false;
  });
  button.disabled = true; // one upload at a time
  request.send(new FormData(form)); // with the form's csrf_token field
}

document.addEventListener("submit", (event) => {
  const form = event.target;
  const status = document.getElementById("upload-progress");
  if (event.defaultPrevented || !form.matches("form[data-upload-progress]") || !status) return;
  event.preventDefault();
  send(form, status);
});
