// The workflow as a state diagram, drawn by ECharts from the profile's states and transitions.
document.addEventListener("DOMContentLoaded", () => {
  const graphs = JSON.parse(document.getElementById("graphs").textContent);
  document.querySelectorAll("[data-graph]").forEach((node) => {
    const g = graphs[Number(node.dataset.graph)];
    if (!window.echarts) return;
    echarts.init(node).setOption({
      animation: false, tooltip: {},
      series: [{
        type: "graph", layout: "force", roam: true, draggable: true,
        force: { repulsion: 420, edgeLength: 140 }, edgeSymbol: ["none", "arrow"],
        categories: [{ name: "open" }, { name: "closed" }],
        label: { show: true, formatter: (p) => p.data.value },
        edgeLabel: { show: true, formatter: (p) => p.data.value, fontSize: 10 },
        data: g.nodes.map((n) => ({ ...n, symbolSize: 46 })), links: g.links,
      }],
    });
  });
});
