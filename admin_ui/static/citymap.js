// 一张图: the grids by name, the open cases by light, the components and a heat layer of the
// period's reports, on the deployment's basemap (map_tiles) or, without one, on a plain ground.
// Clicking a grid lists its cases beside the map; changing a filter reloads the page.
document.addEventListener("DOMContentLoaded", () => {
  document.querySelectorAll("form[data-autosubmit]").forEach((form) => {
    form.addEventListener("change", () => form.requestSubmit());
  });
  const box = document.getElementById("citymap");
  if (!box || !window.L) return;
  const data = JSON.parse(document.getElementById("map-data").textContent);
  const words = JSON.parse(document.getElementById("map-words").textContent);
  const colours = { green: "#2f9e44", yellow: "#e8a100", red: "#d6336c" };
  // Leaflet's own controls speak English: these say the page's words
  const map = L.map(box, { zoomSnap: 0.5, zoomControl: false });
  L.control.zoom({ zoomInTitle: words.zoom_in, zoomOutTitle: words.zoom_out }).addTo(map);
  map.attributionControl.setPrefix('<a href="https://leafletjs.com">Leaflet</a>');
  box.gridcaseMap = map; // for tests and the browser's console
  if (data.tiles) {
    L.tileLayer(data.tiles, { attribution: data.attribution, maxZoom: 19 }).addTo(map);
  } else {
    box.classList.add("plain");
  }
  const many = data.grids.features.length > 40;
  const grids = L.geoJSON(data.grids, {
    style: { color: "#0b63ce", weight: 1.2, fillColor: "#0b63ce", fillOpacity: 0.04, className: "grid" },
    onEachFeature: (feature, layer) => {
      const { code, name } = feature.properties;
      layer.bindTooltip(name, many ? { sticky: true } : { permanent: true, direction: "center", className: "grid-label" });
      layer.on("click", () => htmx.ajax("GET", `/ui/map/grids/${encodeURIComponent(code)}`, "#grid-cases"));
      layer.on("add", () => layer.getElement().setAttribute("data-grid", code));
    },
  }).addTo(map);
  const cases = L.layerGroup(data.cases.map(([lat, lon, light, id, number, cls]) => {
    const link = document.createElement("a");
    link.href = `/ui/cases/${id}`;
    link.textContent = `${number} ${data.class_names[cls] || cls}`;
    return L.circleMarker([lat, lon], {
      radius: 5, color: "#fff", weight: 1, fillColor: colours[light], fillOpacity: 0.95, className: `case ${light}`,
    }).bindPopup(link);
  })).addTo(map);
  const components = L.layerGroup(data.components.map(([lat, lon, code, name, cls]) => L.circleMarker([lat, lon], {
    radius: 3, color: "#5c6b7a", weight: 1, fillColor: "#5c6b7a", fillOpacity: 0.6, className: "component",
  }).bindTooltip(`${data.class_names[cls] || cls} ${name || code}`)));
  if (data.components.length <= 500) components.addTo(map);
  const heat = L.heatLayer ? L.heatLayer(data.heat, { radius: 18, blur: 15, maxZoom: 17 }) : L.layerGroup();
  const overlays = {};
  overlays[words.grids] = grids;
  overlays[words.cases] = cases;
  overlays[words.components] = components;
  overlays[words.heat] = heat;
  const layers = L.control.layers(null, overlays, { collapsed: false }).addTo(map);
  layers.getContainer().querySelector(".leaflet-control-layers-toggle").title = words.layers;
  L.control.scale({ imperial: false }).addTo(map);

  const legend = L.control({ position: "bottomright" });
  legend.onAdd = () => {
    const div = L.DomUtil.create("div", "map-legend");
    const title = L.DomUtil.create("strong", "", div);
    title.textContent = words.legend;
    const row = (swatch, text) => {
      const line = L.DomUtil.create("div", "", div);
      L.DomUtil.create("span", `swatch ${swatch}`, line);
      line.append(text);
    };
    row("green", words.green);
    row("yellow", words.yellow);
    row("red", words.red);
    row("component", words.components);
    row("grid", words.grids);
    const scale = L.DomUtil.create("div", "", div);
    L.DomUtil.create("span", "swatch heat", scale);
    scale.append(`${words.heat}: ${words.low} → ${words.high}`);
    return div;
  };
  legend.addTo(map);

  const bounds = grids.getLayers().length ? grids.getBounds()
    : L.latLngBounds(data.cases.map(([lat, lon]) => [lat, lon]));
  if (bounds.isValid()) map.fitBounds(bounds, { padding: [12, 12] });
  else map.setView([35, 105], 4);
});
