// burrow admin: ask before cancelling or deleting a job, in a dialog instead of the
// confirmation page the server shows without JavaScript. No dependencies, no inline script.
"use strict";

document.addEventListener("submit", (event) => {
  const form = event.target;
  if (!(form instanceof HTMLFormElement) || !form.dataset.confirm) {
    return;
  }
  const dialog = document.getElementById("ba-confirm");
  if (!(dialog instanceof HTMLDialogElement) || typeof dialog.showModal !== "function") {
    return; // the server's confirmation page asks instead
  }
  event.preventDefault();
  dialog.querySelector("[data-confirm-message]").textContent = form.dataset.confirm;
  const ok = dialog.querySelector("[data-confirm-ok]");
  if (form.dataset.confirmOk) {
    ok.textContent = form.dataset.confirmOk;
  }
  dialog.returnValue = "";
  dialog.addEventListener(
    "close",
    () => {
      if (dialog.returnValue !== "ok") {
        return;
      }
      const confirmed = document.createElement("input");
      confirmed.type = "hidden";
      confirmed.name = "confirmed";
      confirmed.value = "yes";
      form.appendChild(confirmed);
      form.submit();
    },
    { once: true },
  );
  dialog.showModal();
});
