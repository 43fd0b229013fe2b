/* Close an open menu when the page is clicked elsewhere (Datasette's inline script,
   moved to a file so the Content-Security-Policy can forbid inline scripts). */
document.body.addEventListener('click', function (ev) {
  var target = ev.target;
  while (target && target.tagName != 'DETAILS') { target = target.parentNode; }
  Array.from(document.getElementsByTagName('details')).forEach(function (d) {
    if (d.open && d != target) { d.open = false; }
  });
});
