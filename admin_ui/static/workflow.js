// The workflow as a state diagram, drawn by ECharts at the positions the server laid out
// (admin_ui/workflow_diagram.py): stage names in boxes, arrows labelled with the transitions'
// names; the wheel zooms, dragging pans, and the buttons zoom or reset.
document.addEventListener("DOMContentLoaded", () => {
  if (!window.echarts) return;
  const graphs = JSON.parse(document.getElementById("graphs").textContent);
  const words = JSON.parse(document.getElementById("workflow-words").textContent);
  const colours = ["#2f9e44", "#0b63ce", "#8a94a0"];
  const charts = [];
  document.querySelectorAll("[data-graph]").forEach((node) => {
    const g = graphs[Number(node.dataset.graph)];
    const chart = echarts.init(node);
    charts[Number(node.dataset.graph)] = chart;
    chart.setOption({
      animation: false,
      tooltip: {
        formatter: (p) => (p.dataType === "edge"
          ? `${p.data.value}${p.data.roles ? `<br>${words.roles}: ${p.data.roles}` : ""}`
          : p.data.value),
      },
      series: [{
        type: "graph", layout: "none", roam: true, zoom: 1, scaleLimit: { min: 0.4, max: 5 },
        categories: colours.map((colour) => ({ itemStyle: { color: colour } })),
        symbol: "roundRect", symbolSize: [108, 38], edgeSymbol: ["none", "arrow"], edgeSymbolSize: 9,
        label: { show: true, formatter: (p) => p.data.value, color: "#fff", fontSize: 13 },
        edgeLabel: {
          show: true, formatter: (p) => p.data.value, fontSize: 11, color: "#1f2933",
          backgroundColor: "rgba(255,255,255,.85)", padding: [1, 3],
        },
        lineStyle: { color: "#7b8794", width: 1.4, opacity: 0.9 },
        emphasis: { focus: "adjacency", lineStyle: { width: 2.5 } },
        data: g.nodes, links: g.links,
      }],
    });
    window.addEventListener("resize", () => chart.resize());
  });
  document.querySelectorAll("[data-zoom]").forEach((button) => {
    button.addEventListener("click", () => {
      const chart = charts[Number(button.dataset.zoom)];
      const by = Number(button.dataset.by);
      const zoom = chart.getOption().series[0].zoom || 1;
      if (by) chart.setOption({ series: [{ zoom: Math.min(5, Math.max(0.4, zoom * by)) }] });
      else chart.dispatchAction({ type: "restore" });
    });
  });
});
