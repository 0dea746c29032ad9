// The queue's selection survives the queue's own refreshes (every 30 s, and after a bulk action):
// the rows are drawn anew, so the ticked cases are remembered here and ticked again. A case
// that left the queue (someone acted on it) leaves the selection with it.
(() => {
  const chosen = new Set();
  const boxes = () => document.querySelectorAll("#rows input[name=cases]");
  const show = () => {
    const count = document.getElementById("chosen");
    if (count) count.textContent = chosen.size;
    const all = document.querySelector("#rows input.select-all");
    const list = [...boxes()];
    if (all) all.checked = list.length > 0 && list.every((box) => box.checked);
  };
  document.addEventListener("change", (event) => {
    const box = event.target;
    if (box.matches("#rows input.select-all")) {
      boxes().forEach((each) => {
        each.checked = box.checked;
        box.checked ? chosen.add(each.value) : chosen.delete(each.value);
      });
    } else if (box.matches("#rows input[name=cases]")) {
      box.checked ? chosen.add(box.value) : chosen.delete(box.value);
    } else {
      return;
    }
    show();
  });
  document.addEventListener("htmx:afterSwap", (event) => {
    if (event.detail.target.id !== "rows") return;
    const present = new Set();
    boxes().forEach((box) => {
      present.add(box.value);
      box.checked = chosen.has(box.value);
    });
    chosen.forEach((value) => present.has(value) || chosen.delete(value));
    show();
  });
})();
