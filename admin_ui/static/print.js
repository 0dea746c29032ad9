// The print view's button prints the page (no inline script under the Content-Security-Policy).
document.addEventListener("DOMContentLoaded", () => {
  document.querySelectorAll("[data-print]").forEach((button) => button.addEventListener("click", () => window.print()));
});
