// The map of the offers and needs listed beside it: one marker per list item that has a place,
// so the map and the list always show the same things. The outline layer (France's départements,
// and the Jura's communes from zoom 10, served by the portal) shows even when no tile loads.
(function () {
  "use strict";
  let map = null;
  let communes = null;

  function markerFor(item) {
    const kind = item.dataset.kind;
    const title = item.dataset.title;
    const icon = window.L.divIcon({ className: "marker-" + kind, iconSize: [16, 16] });
    const marker = window.L.marker([parseFloat(item.dataset.lat), parseFloat(item.dataset.lon)], {
      icon: icon, title: title, alt: title, keyboard: true,
    });
    const link = document.createElement("a");
    link.href = "#" + item.id;
    link.textContent = title;
    link.addEventListener("click", () => {
      document.querySelectorAll(".item.selected").forEach((el) => el.classList.remove("selected"));
      item.classList.add("selected");
    });
    marker.bindPopup(link);
    return marker;
  }

  function outline(url, style) {
    return fetch(url).then((r) => r.json()).then((data) => window.L.geoJSON(data, { style: style, interactive: false }));
  }

  function draw() {
    const box = document.getElementById("map");
    if (!box || !window.L) return;
    if (map) { map.remove(); map = null; communes = null; }
    map = window.L.map(box, { scrollWheelZoom: false });
    map.attributionControl.setPrefix(false);
    if (box.dataset.tiles) {
      window.L.tileLayer(box.dataset.tiles, { maxZoom: 18, attribution: box.dataset.tilesAttribution }).addTo(map);
    }
    map.attributionControl.addAttribution(box.dataset.outlineAttribution);
    const cluster = window.L.markerClusterGroup ? window.L.markerClusterGroup() : window.L.layerGroup();
    const items = document.querySelectorAll(".items li[data-lat]");
    const points = [];
    items.forEach((item) => {
      const marker = markerFor(item);
      cluster.addLayer(marker);
      points.push(marker.getLatLng());
    });
    map.addLayer(cluster);
    // What the map shows, for tests and assistive checks: one marker per listed item.
    window.__mcvtMap = { markers: points.length };
    const here = map;
    outline(box.dataset.outline, { color: "#164536", weight: 2, fill: false })
      .then((layer) => layer.addTo(here)).catch(() => {});
    if (points.length) {
      map.fitBounds(window.L.latLngBounds(points).pad(0.3), { maxZoom: 12 });
    } else {
      map.setView([46.4, 5.55], 10);
    }
    map.on("zoomend", () => {
      if (here.getZoom() >= 10 && !communes) {
        communes = outline(box.dataset.communes, { color: "#6b7a73", weight: 1, fill: false });
        communes.then((layer) => layer.addTo(here)).catch(() => {});
      }
    });
    if (map.getZoom() >= 10) map.fire("zoomend");
  }

  document.addEventListener("DOMContentLoaded", draw);
  document.addEventListener("htmx:afterSettle", (event) => {
    if (event.detail.target && event.detail.target.id === "market") draw();
    else if (document.getElementById("map") && !document.querySelector("#map.leaflet-container")) draw();
  });
})();
