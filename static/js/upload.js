// The upload form of the runs index: files dropped on it, and a progress bar while they are
// sent. Without this script the form is a plain multipart form that does the same.
(function () {
  "use strict";
  var form = document.querySelector("[data-upload-form]");
  if (!form) return;
  var zone = form.querySelector("[data-drop-zone]");
  var input = form.querySelector("input[type=file]");
  var list = form.querySelector("[data-drop-list]");
  var bar = form.querySelector("[data-upload-progress]");

  function showNames() {
    var names = Array.prototype.map.call(input.files, function (file) { return file.name; });
    list.textContent = names.length
      ? names.length + (names.length === 1 ? " file: " : " files: ") + names.join(", ")
      : "";
  }

  input.addEventListener("change", showNames);
  ["dragenter", "dragover"].forEach(function (type) {
    zone.addEventListener(type, function (event) {
      event.preventDefault();
      zone.classList.add("dragging");
    });
  });
  ["dragleave", "drop"].forEach(function (type) {
    zone.addEventListener(type, function () { zone.classList.remove("dragging"); });
  });
  zone.addEventListener("drop", function (event) {
    event.preventDefault();
    if (event.dataTransfer && event.dataTransfer.files.length) {
      input.files = event.dataTransfer.files;
      showNames();
    }
  });

  form.addEventListener("submit", function (event) {
    if (!window.FormData || !input.files.length) return; // the server says what is missing
    event.preventDefault();
    var request = new XMLHttpRequest();
    request.open("POST", form.action);
    // Asks for the address of the result instead of a redirect, so that the page's
    // one-time message is shown by the page we go to, not used up by this request.
    request.setRequestHeader("X-Upload-Form", "1");
    request.upload.addEventListener("progress", function (progress) {
      if (!progress.lengthComputable) return;
      bar.hidden = false;
      bar.value = Math.round((100 * progress.loaded) / progress.total);
    });
    request.addEventListener("load", function () {
      var location = null;
      try { location = JSON.parse(request.responseText).location; } catch (error) { /* a page */ }
      if (request.status === 200 && location) {
        window.location.assign(location);
      } else {
        // Refused (no project, a bad file): send the form itself to show the page's errors.
        HTMLFormElement.prototype.submit.call(form);
      }
    });
    request.addEventListener("error", function () { HTMLFormElement.prototype.submit.call(form); });
    request.send(new FormData(form));
  });
})();
