// common.js: small behaviours every page shares (no inline scripts under the CSP), listened
// for on the document, so that they hold for a body put in place later (upload.js does).
document.addEventListener("change", (event) => {
  if (event.target.matches("select[data-autosubmit]")) event.target.form.requestSubmit();
});
document.addEventListener("submit", (event) => {
  const form = event.target;
  if (form.matches("form[data-confirm]") && !window.confirm(form.dataset.confirm)) event.preventDefault();
});
