// The call inspector. Everything works without this script (forms and links); it only saves clicks:
// - the search's time range applies as soon as a preset is picked, and editing a date switches to "Custom";
// - on a call's page, at most 20 users can be ticked at once (the rest are disabled meanwhile), with a count;
// - picking another receiver redraws the receiver's charts at once.
document.addEventListener("change", (event) => {
  const target = event.target;
  const search = target.closest("form[data-call-search]");
  if (search) {
    if (target.name === "range" && target.value !== "custom") search.submit();
    if (target.type === "datetime-local" && search.elements.range) search.elements.range.value = "custom";
  }
  if (target.matches("input[data-choose-user]")) limitChoice(target.form);
  if (target.matches("select[data-receiver]")) target.form.submit();
});

function limitChoice(form) {
  if (!form) return;
  const limit = Number(form.dataset.maxChosen || 20);
  const boxes = Array.from(form.querySelectorAll("input[data-choose-user]"));
  const elsewhere = form.querySelectorAll("input[data-chosen-elsewhere]").length;
  const chosen = boxes.filter((box) => box.checked).length + elsewhere;
  boxes.forEach((box) => { box.disabled = !box.checked && chosen >= limit; });
  form.querySelectorAll("[data-choose-count]").forEach((counter) => {
    counter.textContent = `${chosen} of at most ${limit} users chosen`;
    counter.classList.toggle("full", chosen >= limit);
  });
}

document.addEventListener("DOMContentLoaded", () => {
  document.querySelectorAll("form[data-max-chosen]").forEach(limitChoice);
});
