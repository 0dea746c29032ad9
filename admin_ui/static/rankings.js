// The explanation of a ranking's row opens beside that row: the panel moves down to the row the
// person clicked (a long ranking's last rows are thousands of pixels below the first), and the
// row stays marked while its explanation is shown.
document.addEventListener("DOMContentLoaded", () => {
  const panel = document.getElementById("explanation");
  const layout = panel && panel.parentElement;
  if (!panel || !layout) return;
  let row = null;
  document.addEventListener("click", (event) => {
    const link = event.target.closest("a.explain-link");
    if (!link) return;
    if (row) row.classList.remove("selected");
    row = link.closest("tr");
    row.classList.add("selected");
  });
  document.body.addEventListener("htmx:afterSwap", (event) => {
    if (event.detail.target !== panel || !row) return;
    const top = row.getBoundingClientRect().top - layout.getBoundingClientRect().top;
    // no lower than the layout's end: a panel longer than the rows below it ends with them
    const room = layout.scrollHeight - panel.offsetHeight;
    panel.style.marginTop = `${Math.max(0, Math.min(top, room))}px`;
    panel.scrollIntoView({ block: "nearest" });
  });
});
