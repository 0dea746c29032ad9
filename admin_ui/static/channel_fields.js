// Shows what belongs to the chosen channel only (a hotline's caller, a channel's reply limit):
// an element with data-channels is shown when the chosen channel is among them, and its fields
// are disabled while hidden, so the form does not send them.
document.addEventListener("DOMContentLoaded", () => {
  document.querySelectorAll("form").forEach((form) => {
    const channel = form.querySelector("select[name=channel]");
    if (!channel) return;
    const show = () => {
      form.querySelectorAll("[data-channels]").forEach((node) => {
        const shown = node.dataset.channels.split(" ").includes(channel.value);
        node.hidden = !shown;
        node.querySelectorAll("input, select, textarea").forEach((field) => { field.disabled = !shown; });
      });
    };
    channel.addEventListener("change", show);
    show();
  });
});
