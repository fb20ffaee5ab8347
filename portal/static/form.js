// Comfort only: hide the questions that do not apply to the answers given so far.
// Without JavaScript every question shows, each hint saying when it applies.
(function () {
  "use strict";
  document.documentElement.classList.add("js");
  var blocks = document.querySelectorAll(".conditional[data-when]");
  function update() {
    blocks.forEach(function (block) {
      var rule = block.getAttribute("data-when").split("=");
      var checked = document.querySelector('input[name="' + rule[0] + '"]:checked');
      var show = checked !== null && checked.value === rule[1];
      var invalid = block.querySelector(".field-invalid") !== null;
      block.hidden = !(show || invalid);
    });
  }
  document.addEventListener("change", function (event) {
    if (event.target.type === "radio") { update(); }
  });
  update();
  // After a failed submission, take keyboard and screen-reader users to the list of problems.
  var summary = document.getElementById("error-summary");
  if (summary) { summary.focus(); }
})();
