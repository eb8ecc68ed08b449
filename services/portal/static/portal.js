// Small interactions with Alpine's CSP build (no inline expressions evaluated) and htmx.
// Everything here is an enhancement: each form and link works without JavaScript.
document.addEventListener("alpine:init", () => {
  // A decline reason shown only once "Refuser" is pressed a first time.
  window.Alpine.data("reveal", () => ({
    open: false,
    init() {
      this.$el.addEventListener("submit", (event) => {
        if (!this.open) {
          event.preventDefault();
          event.stopImmediatePropagation();
          this.open = true;
          this.$nextTick(() => this.$el.querySelector("input[name=reason]").focus());
        }
      }, { capture: true });
    },
  }));
});

// After htmx replaces part of a page, keep the keyboard focus where the person was working.
document.addEventListener("htmx:afterSettle", (event) => {
  const target = event.detail.target;
  if (!target || !target.classList) return;
  if (target.classList.contains("match") || target.id.startsWith("match-")) {
    const card = document.getElementById(target.id) || target;
    const heading = card.querySelector("h3");
    if (heading) { heading.setAttribute("tabindex", "-1"); heading.focus(); }
  }
});

// Focus the error summary of a form sent back with errors.
document.addEventListener("DOMContentLoaded", () => {
  const summary = document.getElementById("erreurs");
  if (summary) summary.focus();
});
