// Upload page: drag-and-drop onto the file input, the list of chosen files, the transfer
// progress bar, and refusals (400/413/503) or failures shown where the upload was made; a failed
// Retry or Delete is said on its row. The forms work without this script (plain POSTs); htmx
// and this file only enhance them.
(function () {
  "use strict";

  function listChosen(form) {
    const input = form.querySelector("input[type=file]");
    const list = form.querySelector("[data-chosen]");
    list.replaceChildren();
    for (const file of input.files) {
      const item = document.createElement("li");
      item.textContent = file.name + " (" + Math.max(1, Math.round(file.size / 1024)) + " KB)";
      list.append(item);
    }
  }

  function setBar(form, percent) {
    const box = form.querySelector("[data-upload-progress]");
    const bar = box.querySelector("[role=progressbar]");
    box.hidden = percent === null;
    bar.setAttribute("aria-valuenow", String(percent || 0));
    bar.firstElementChild.style.width = (percent || 0) + "%";
  }

  const REFUSALS = [400, 413, 503];

  function alertNotice(className, message) {
    const notice = document.createElement("p");
    notice.className = className;
    notice.setAttribute("role", "alert");
    notice.textContent = message;
    return notice;
  }

  // Why an htmx request failed, for the messages below: its status, or a lost connection.
  function failure(event) {
    const status = event.detail.xhr ? event.detail.xhr.status : 0;
    const why = status ? "the server answered " + status : "the connection was lost";
    return { status: status, why: why };
  }

  function wire(form) {
    const zone = form.querySelector("[data-dropzone]");
    const input = form.querySelector("input[type=file]");
    input.addEventListener("change", () => listChosen(form));
    for (const name of ["dragenter", "dragover"]) {
      zone.addEventListener(name, (event) => {
        event.preventDefault();
        zone.classList.add("is-over");
      });
    }
    for (const name of ["dragleave", "dragend"]) {
      zone.addEventListener(name, () => zone.classList.remove("is-over"));
    }
    zone.addEventListener("drop", (event) => {
      event.preventDefault();
      zone.classList.remove("is-over");
      if (!event.dataTransfer || !event.dataTransfer.files.length) return;
      input.files = event.dataTransfer.files;
      listChosen(form);
      form.requestSubmit();
    });
    form.addEventListener("htmx:xhr:progress", (event) => {
      const { loaded, total } = event.detail;
      if (total) setBar(form, Math.round((100 * loaded) / total));
    });
    // htmx fires beforeSwap on the target (#upload-result), not on the form that asked.
    document.body.addEventListener("htmx:beforeSwap", (event) => {
      const status = event.detail.xhr.status;
      const refused = REFUSALS.includes(status);  // nothing stored; the body says why
      if (event.detail.requestConfig.elt === form && refused) {
        event.detail.shouldSwap = true;
        event.detail.isError = false;
      }
    });
    // Anything else that went wrong (a server error, the connection dropped) still gets a
    // message: an upload must never end in silence.
    for (const name of ["htmx:responseError", "htmx:sendError"]) {
      form.addEventListener(name, (event) => {
        const { status, why } = failure(event);
        if (REFUSALS.includes(status)) return;
        const result = document.querySelector(form.getAttribute("hx-target"));
        result.replaceChildren(alertNotice("notice notice-error", "The upload did not finish (" +
          why + "). Reload the page to see which files arrived, then upload the rest again."));
      });
    }
    form.addEventListener("htmx:afterRequest", (event) => {
      setBar(form, null);
      if (event.detail.successful) {
        form.reset();
        listChosen(form);
      }
    });
  }

  // Retry and Delete on a document row: a failure is said on that row, never swallowed.
  function rowFailure(event) {
    const row = event.target.closest && event.target.closest("tr.doc");
    if (!row) return;
    const { status, why } = failure(event);
    const message = status === 404 ? "This document is gone (deleted elsewhere). Reload the page."
      : "That did not work (" + why + "). Try again.";
    const cell = row.querySelector(".row-actions");
    cell.querySelector(".row-error")?.remove();
    cell.append(alertNotice("row-error notice notice-error small", message));
  }

  document.addEventListener("DOMContentLoaded", () => {
    const form = document.getElementById("upload-form");
    if (form) wire(form);
    document.body.addEventListener("htmx:responseError", rowFailure);
    document.body.addEventListener("htmx:sendError", rowFailure);
  });
})();
