// The console's own script: GOV.UK Frontend's components (error summary focus,
// service navigation menu …). Everything works without it.
import { initAll } from "/vendor/govuk-frontend/govuk-frontend.min.js";

initAll();

// htmx swaps the queue's results in place: start the components inside them too.
document.body.addEventListener("htmx:afterSwap", (event) => {
  initAll({ scope: event.detail.target });
});
