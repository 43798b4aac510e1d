// Destructive buttons ask first: a submit button (or form) with data-confirm="question?" submits only when
// the person answers OK, and then says so to the server (confirmed=yes), which asks again on a page otherwise.
document.addEventListener("submit", (event) => {
  const form = event.target;
  const button = event.submitter;
  const question = (button && button.dataset.confirm) || form.dataset.confirm;
  if (!question) return;
  if (!window.confirm(question)) {
    event.preventDefault();
    return;
  }
  let confirmed = form.querySelector("input[name=confirmed]");
  if (!confirmed) {
    confirmed = document.createElement("input");
    confirmed.type = "hidden";
    confirmed.name = "confirmed";
    form.appendChild(confirmed);
  }
  confirmed.value = "yes";
});
