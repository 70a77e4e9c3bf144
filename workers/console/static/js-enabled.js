// GOV.UK Frontend's "js-enabled" line, from a file rather than inline: the console's
// Content-Security-Policy refuses inline script. Loaded at the start of <body>, before
// anything is drawn, so styles for pages with JavaScript apply from the first paint.
document.body.className +=
  " js-enabled" + ("noModule" in HTMLScriptElement.prototype ? " govuk-frontend-supported" : "");
