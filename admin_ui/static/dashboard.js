// Draws the dashboard's charts from the JSON the page carries (no inline script: CSP-friendly).
document.addEventListener("DOMContentLoaded", () => {
  const data = JSON.parse(document.getElementById("charts").textContent);
  const draw = (id, option) => {
    const node = document.getElementById(id);
    if (node && window.echarts) echarts.init(node).setOption({ animation: false, ...option });
  };
  draw("chart-channel", { tooltip: {}, series: [{ type: "pie", radius: ["40%", "70%"], data: data.channel }] });
  draw("chart-trend", {
    grid: { left: 40, right: 10, top: 10, bottom: 30 }, tooltip: { trigger: "axis" },
    xAxis: { type: "category", data: data.trend.days }, yAxis: { type: "value" },
    series: [{ type: "line", smooth: true, areaStyle: {}, data: data.trend.counts }],
  });
  draw("chart-hours", {
    grid: { left: 40, right: 10, top: 10, bottom: 30 }, tooltip: { trigger: "axis" },
    xAxis: { type: "category", data: data.hours.map((_, h) => `${h}时`) }, yAxis: { type: "value" },
    series: [{ type: "bar", data: data.hours }],
  });
});
