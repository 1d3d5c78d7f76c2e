// Close open menus when clicking elsewhere; copy buttons copy their data-copy text; print buttons print.
// (Handlers live here, never in on... attributes: the Content-Security-Policy allows no inline script.)
document.addEventListener("click", (event) => {
  if (event.target.closest("[data-print]")) window.print();
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

// Pull runs in progress (usage Data sync): a row with data-run-status polls that JSON every 2 s and
// updates its status, progress, rows and error in place until the run finishes.
function watchRun(row) {
  const set = (name, text) => row.querySelectorAll(`[data-run-field="${name}"]`).forEach((el) => { el.textContent = text; });
  const poll = () => fetch(row.dataset.runStatus, { headers: { Accept: "application/json" }, credentials: "same-origin" })
    .then((response) => (response.ok ? response.json() : Promise.reject(response.status)))
    .then((run) => {
      const badge = row.querySelector("[data-run-badge]");
      badge.textContent = run.status_label;
      badge.className = `status status-run-${run.status}`;
      const bar = row.querySelector("progress");
      bar.value = run.progress_percent;
      bar.className = `run-bar-${run.status}`;
      set("progress_percent", `${run.progress_percent}%`);
      const done = run.windows_done + run.windows_failed;
      set("windows", run.windows_total ? `${done} of ${run.windows_total} windows${run.windows_failed ? `, ${run.windows_failed} failed` : ""}` : "waiting for a worker");
      set("rows_written", run.rows_written.toLocaleString("en-US"));
      const error = run.error.split("\n")[0];
      set("error", error.length > 90 ? `${error.slice(0, 90)}…` : error);
      row.querySelectorAll('[data-run-field="error"]').forEach((el) => { el.title = run.error; });
      if (!run.finished) { setTimeout(poll, 2000); return; }
      row.removeAttribute("data-run-status");
      const left = document.querySelectorAll("tr[data-run-status]").length;
      document.querySelectorAll("[data-active-runs]").forEach((el) => { el.textContent = `${left} in progress`; el.hidden = !left; });
    })
    .catch((status) => {  // 4xx: the run is gone or no longer ours; otherwise (offline, 5xx) retry, less often
      if (!(status >= 400 && status < 500)) setTimeout(poll, 10000);
    });
  setTimeout(poll, 2000);
}
document.addEventListener("DOMContentLoaded", () => document.querySelectorAll("tr[data-run-status]").forEach(watchRun));

// Usage: stacked bars of minutes per tier. <canvas data-usage-chart="ID"> reads the json_script with that ID;
// the page loads the vendored Chart.js before this deferred script runs.
function drawUsageCharts() {
  if (!window.Chart) return;
  document.querySelectorAll("canvas[data-usage-chart]").forEach((canvas) => {
    const source = document.getElementById(canvas.dataset.usageChart);
    if (!source) return;
    const data = JSON.parse(source.textContent);
    const datasets = data.datasets
      .filter((set) => set.data.some((value) => value > 0))
      .map((set) => ({ label: set.label, data: set.data, backgroundColor: set.color, borderWidth: 0, stack: "minutes" }));
    new window.Chart(canvas, {
      type: "bar",
      data: { labels: data.labels, datasets },
      options: {
        responsive: true,
        maintainAspectRatio: false,
        animation: false,
        interaction: { mode: "index", intersect: false },
        scales: {
          x: { stacked: true, grid: { display: false } },
          y: { stacked: true, beginAtZero: true, title: { display: true, text: "Minutes" } },
        },
        plugins: {
          legend: { position: "bottom" },
          tooltip: {
            callbacks: {
              label: (item) => `${item.dataset.label}: ${item.parsed.y.toLocaleString()} min`,
              footer: (items) => `Total: ${items.reduce((sum, item) => sum + item.parsed.y, 0).toLocaleString()} min`,
            },
          },
        },
      },
    });
  });
}
document.addEventListener("DOMContentLoaded", drawUsageCharts);

// Usage filters: editing a date switches the period to "Custom range"; a search box filters a list of labels.
document.addEventListener("change", (event) => {
  const form = event.target.closest("form[data-usage-filters]");
  if (form && event.target.type === "date" && form.elements.period) form.elements.period.value = "custom";
});
document.addEventListener("input", (event) => {
  const list = event.target.dataset && event.target.dataset.filterList;
  if (!list) return;
  const query = event.target.value.trim().toLowerCase();
  document.querySelectorAll(`${list} label`).forEach((label) => {
    label.hidden = Boolean(query) && !label.textContent.toLowerCase().includes(query);
  });
});

// Live regions: an element with data-live-refresh="SECONDS" and an id is fetched again from the page's own URL
// every SECONDS and replaced by its fresh copy, unless the tab is hidden or the reader is typing in it.
function refreshLive(region) {
  const seconds = Number(region.dataset.liveRefresh) || 10;
  const again = () => setTimeout(() => refreshLive(document.getElementById(region.id) || region), seconds * 1000);
  if (document.hidden || region.contains(document.activeElement) && document.activeElement.matches("input, select, textarea")) {
    again();
    return;
  }
  fetch(window.location.href, { headers: { Accept: "text/html" }, credentials: "same-origin" })
    .then((response) => (response.ok ? response.text() : Promise.reject(response.status)))
    .then((html) => {
      const fresh = new DOMParser().parseFromString(html, "text/html").getElementById(region.id);
      if (fresh) region.replaceWith(fresh);
    })
    .catch(() => {})
    .finally(again);
}
document.addEventListener("DOMContentLoaded", () => document.querySelectorAll("[data-live-refresh][id]").forEach((region) => {
  setTimeout(() => refreshLive(region), (Number(region.dataset.liveRefresh) || 10) * 1000);
}));
