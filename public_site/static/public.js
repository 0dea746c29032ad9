// The public site's maps (Leaflet, served by the admin UI from npm): the public cases' points,
// and the report form's picker, which writes the clicked point into the form's lon and lat.
(function () {
  "use strict";
  function ground(element, center) {
    var map = L.map(element, { keyboard: true }).setView(center, 14);
    L.control.scale({ imperial: false }).addTo(map);
    return map;
  }
  // the profile's "lon,lat" centre as Leaflet's [lat, lon]
  function latLng(center) {
    var lonLat = (center || "0,0").split(",").map(Number);
    return [lonLat[1], lonLat[0]];
  }
  var list = document.getElementById("map");
  if (list) {
    fetch(list.dataset.cases).then(function (r) { return r.json(); }).then(function (data) {
      var points = data.cases.map(function (c) { return [c.point[1], c.point[0]]; });
      // no case to show: the city's centre, never the ocean at [0, 0]
      var map = ground(list, points.length ? points[0] : latLng(list.dataset.center));
      data.cases.forEach(function (c) {
        L.circleMarker([c.point[1], c.point[0]], { radius: 7, color: c.closed ? "#1b7a3a" : "#b35900" })
          .bindPopup(c.number + " " + c["class"] + "：" + c.state).addTo(map);
      });
      if (points.length > 1) { map.fitBounds(points, { padding: [20, 20] }); }
    });
  }
  var picker = document.getElementById("picker");
  if (picker) {
    var map = ground(picker, latLng(picker.dataset.center));
    var lon = document.getElementById("lon"), lat = document.getElementById("lat");
    var said = document.getElementById("picked"), marker = null;
    function put(latlng) {
      if (marker) { marker.setLatLng(latlng); } else { marker = L.marker(latlng, { alt: "问题位置" }).addTo(map); }
      lon.value = latlng.lng.toFixed(6);
      lat.value = latlng.lat.toFixed(6);
      said.textContent = "已选择位置：经度 " + lon.value + "，纬度 " + lat.value;
    }
    if (lon.value && lat.value) { put(L.latLng(Number(lat.value), Number(lon.value))); }
    map.on("click", function (e) { put(e.latlng); });
  }
})();
