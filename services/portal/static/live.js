// Live updates: the person's notifications, relayed by the portal at /flux (Server-Sent Events).
// Each one becomes a French sentence in the live region #direct (read out by screen readers),
// and the parts of the page marked data-live-refresh="<event type prefix>" are fetched again.
// Without JavaScript the pages are simply up to date when reloaded.
(() => {
  const region = document.getElementById("direct");
  const said = document.getElementById("mots-du-direct");
  if (!region || !said || !window.EventSource) return;
  const messages = JSON.parse(said.textContent);
  const since = Date.parse(region.dataset.depuis);
  const KEY = "mcvt-flux"; // the last event this tab has heard, so the next page resumes there
  const SHOWN = 3;
  const RETRY_MS = 30000;

  function show(message) {
    const item = document.createElement("p");
    item.className = "live-item";
    item.append(message.text + " ");
    if (message.link !== location.pathname) {
      const link = document.createElement("a");
      link.href = message.link;
      link.textContent = message.label;
      item.append(link);
    }
    region.prepend(item);
    while (region.children.length > SHOWN) region.lastElementChild.remove();
  }

  function refresh(type) {
    for (const part of document.querySelectorAll("[data-live-refresh]")) {
      if (!part.id || !type.startsWith(part.dataset.liveRefresh)) continue;
      // Never under the hands of someone answering a card: the sentence above says it changed.
      if (part.contains(document.activeElement)) continue;
      const selector = "#" + CSS.escape(part.id);
      window.htmx.ajax("GET", location.pathname + location.search,
        { target: selector, select: selector, swap: "outerHTML" });
    }
  }

  function open() {
    const position = sessionStorage.getItem(KEY);
    const source = new EventSource("/flux" + (position ? "?depuis=" + encodeURIComponent(position) : ""));
    for (const [type, message] of Object.entries(messages)) {
      source.addEventListener(type, (event) => {
        sessionStorage.setItem(KEY, event.lastEventId);
        let time = NaN;
        try {
          // Microseconds cut to milliseconds, the precision Date.parse is sure to read.
          time = Date.parse(JSON.parse(event.data).time.replace(/(\.\d{3})\d+/, "$1"));
        } catch (_) { /* shown anyway */ }
        // On a tab's first page, what happened before the page was made is already on it.
        if (!position && time < since) return;
        show(message);
        refresh(type);
      });
    }
    source.addEventListener("error", () => {
      // EventSource reconnects by itself after a network error; an answer it will not retry
      // (the session ended, too many tabs) closes it: try again later from where it stopped.
      if (source.readyState === EventSource.CLOSED) setTimeout(open, RETRY_MS);
    });
  }

  open();
})();
