// Leave empty fields and defaults out of the URL, so a search's address holds only what was asked.
// (The form has a field named "elements", which hides form.elements, so fields are queried.)
(function () {
  "use strict";
  const form = document.getElementById("search-form");
  const DEFAULTS = { per_page: "20", elements_mode: "all" };
  form.addEventListener("submit", function () {
    const fields = form.querySelectorAll("input[name], select[name], textarea[name]");
    fields.forEach(function (field) {
      if (field.value.trim() === "" || DEFAULTS[field.name] === field.value) field.disabled = true;
    });
    // Enabled again once the browser has read the form, so going back shows it as it was.
    setTimeout(function () { fields.forEach(function (field) { field.disabled = false; }); }, 0);
  });
})();
