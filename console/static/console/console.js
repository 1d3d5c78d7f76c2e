// Close open menus when clicking elsewhere; copy buttons copy their data-copy text.
document.addEventListener("click", (event) => {
  document.querySelectorAll("details.menu[open]").forEach((menu) => {
    if (!menu.contains(event.target)) menu.removeAttribute("open");
  });
  const copy = event.target.closest("[data-copy]");
  if (copy) {
    navigator.clipboard.writeText(copy.dataset.copy).then(() => {
      const label = copy.textContent;
      copy.textContent = "Copied";
      setTimeout(() => { copy.textContent = label; }, 1500);
    });
  }
});

// Countdowns: <span class="countdown" data-expires="UNIX SECONDS">.
function updateCountdowns() {
  document.querySelectorAll(".countdown[data-expires]").forEach((el) => {
    const left = Number(el.dataset.expires) - Math.floor(Date.now() / 1000);
    if (left <= 0) { el.textContent = "expired"; return; }
    const h = Math.floor(left / 3600), m = Math.floor((left % 3600) / 60), s = left % 60;
    el.textContent = `${h}h ${String(m).padStart(2, "0")}m ${String(s).padStart(2, "0")}s left`;
  });
}
setInterval(updateCountdowns, 1000);
document.addEventListener("DOMContentLoaded", updateCountdowns);
