// The intake's location picker: a click on the map, a found place (grids, components, past
// cases' addresses) or the device's location sets the form's 经度 and 纬度, and says which grid
// the point lies in.
document.addEventListener("DOMContentLoaded", () => {
  const picker = document.querySelector("[data-picker]");
  if (!picker || !window.L) return;
  const form = picker.closest("form");
  const lon = form.querySelector("input[name=lon]");
  const lat = form.querySelector("input[name=lat]");
  const address = form.querySelector("input[name=address]");
  const words = JSON.parse(picker.querySelector(".picker-words").textContent);
  const status = picker.querySelector(".picker-status");
  const results = picker.querySelector(".picker-results");
  const search = picker.querySelector(".picker-search");
  const box = picker.querySelector(".picker-map");
  // Leaflet's own controls speak English: these say the page's words
  const map = L.map(box, { zoomSnap: 0.5, zoomControl: false });
  L.control.zoom({ zoomInTitle: words.zoom_in, zoomOutTitle: words.zoom_out }).addTo(map);
  map.attributionControl.setPrefix('<a href="https://leafletjs.com">Leaflet</a>');
  box.gridcaseMap = map; // for tests and the browser's console
  let marker = null;

  const choose = async (latlng, place) => {
    const point = L.latLng(latlng);
    if (marker) marker.setLatLng(point);
    else marker = L.circleMarker(point, { radius: 8, color: "#d6336c", weight: 3, fillOpacity: 0.3 }).addTo(map);
    lon.value = point.lng.toFixed(6);
    lat.value = point.lat.toFixed(6);
    [lon, lat].forEach((input) => input.dispatchEvent(new Event("change", { bubbles: true })));
    if (place && place.kind === "address" && address && !address.value) address.value = place.label;
    status.textContent = `${words.chosen}: ${lon.value}, ${lat.value}`;
    const answer = await fetch(`/ui/places/at?lon=${lon.value}&lat=${lat.value}`, { headers: { Accept: "application/json" } });
    if (answer.ok) {
      const { grid } = await answer.json();
      status.textContent = `${words.chosen}: ${lon.value}, ${lat.value} · ${grid ? `${words.in_grid}: ${grid}` : words.outside}`;
    }
  };

  fetch(picker.dataset.picker, { headers: { Accept: "application/json" } }).then((r) => r.json()).then((config) => {
    if (config.tiles) L.tileLayer(config.tiles, { attribution: config.attribution, maxZoom: 19 }).addTo(map);
    else box.classList.add("plain");
    const grids = L.geoJSON(config.grids, {
      style: { color: "#0b63ce", weight: 1, fillOpacity: 0.03 },
      onEachFeature: (feature, layer) => layer.bindTooltip(feature.properties.name, { sticky: true }),
    }).addTo(map);
    // a click on a grid is a click on the map: the grids only show where the city is
    grids.on("click", (event) => choose(event.latlng));
    if (grids.getLayers().length) map.fitBounds(grids.getBounds());
    else map.setView([35, 105], 4);
    if (lon.value && lat.value && !Number.isNaN(Number(lon.value))) choose([Number(lat.value), Number(lon.value)]);
    picker.dataset.ready = "yes";
  });
  map.on("click", (event) => choose(event.latlng));

  let timer = null;
  const find = async () => {
    const text = search.value.trim();
    results.replaceChildren();
    if (!text) return;
    const answer = await fetch(`/ui/places/search?q=${encodeURIComponent(text)}`, { headers: { Accept: "application/json" } });
    if (!answer.ok) return;
    const found = (await answer.json()).results;
    if (!found.length) {
      const li = document.createElement("li");
      li.className = "muted";
      li.textContent = words.none;
      results.append(li);
    }
    found.forEach((place) => {
      const li = document.createElement("li");
      const button = document.createElement("button");
      button.type = "button";
      button.className = "link";
      button.textContent = `${place.label}`;
      const kind = document.createElement("span");
      kind.className = "muted";
      kind.textContent = ` · ${words[place.kind] || place.kind}`;
      button.addEventListener("click", () => {
        map.setView([place.lat, place.lon], Math.max(map.getZoom(), 16));
        choose([place.lat, place.lon], place);
        results.replaceChildren();
      });
      li.append(button, kind);
      results.append(li);
    });
  };
  search.addEventListener("input", () => {
    clearTimeout(timer);
    timer = setTimeout(find, 250);
  });
  search.addEventListener("keydown", async (event) => {
    if (event.key !== "Enter") return;
    event.preventDefault(); // Enter here picks the first place found; it must not send the report
    clearTimeout(timer);
    await find();
    const first = results.querySelector("button");
    if (first) first.click();
  });

  picker.querySelector(".picker-locate").addEventListener("click", () => {
    if (!navigator.geolocation) {
      status.textContent = words.denied;
      return;
    }
    status.textContent = words.locating;
    navigator.geolocation.getCurrentPosition(
      (position) => {
        const here = [position.coords.latitude, position.coords.longitude];
        map.setView(here, Math.max(map.getZoom(), 16));
        choose(here);
      },
      (error) => { status.textContent = `${words.denied}: ${error.message}`; },
      { enableHighAccuracy: true, timeout: 15000 },
    );
  });
});
