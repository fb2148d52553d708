// Parsec GUI: a few progressive enhancements; every page works without them.
(function () {
  "use strict";

  // Confirmations: a form or button with data-confirm asks first.
  document.addEventListener("submit", function (e) {
    var msg = e.target.getAttribute("data-confirm");
    if (msg && !window.confirm(msg)) { e.preventDefault(); }
  });

  // Uploads: sent with progress in the page and a way to cancel; the browser reads the files
  // from disk as it sends them.
  var upload = function (form, data, count) {
    var bar = form.querySelector("progress"), status = form.querySelector(".upload-status"), cancel = form.querySelector(".upload-cancel");
    var xhr = new XMLHttpRequest();
    xhr.open("POST", form.action);
    xhr.setRequestHeader("X-Parsec-Refresh", "1");
    xhr.upload.onprogress = function (p) {
      if (!p.lengthComputable) { return; }
      bar.hidden = false;
      bar.value = Math.round(100 * p.loaded / p.total);
      status.textContent = "Sending… " + bar.value + "%";
    };
    xhr.upload.onload = function () { status.textContent = "Encrypting and saving…"; };
    // While it runs, the form is busy: a live refresh does not redraw it (see interacting).
    var done = function () { delete form.dataset.busy; document.dispatchEvent(new Event("parsec:settled")); };
    xhr.onload = function () { window.location.href = xhr.responseURL || window.location.href; };
    xhr.onerror = function () { status.textContent = "The upload failed: the GUI cannot be reached."; cancel.hidden = true; done(); };
    xhr.onabort = function () { status.textContent = "Upload cancelled: nothing was changed."; bar.hidden = true; cancel.hidden = true; done(); };
    form.dataset.busy = "1";
    cancel.hidden = false;
    cancel.onclick = function () { xhr.abort(); };
    status.textContent = "Sending…";
    data.set("count", String(count));
    xhr.send(data);
  };
  document.addEventListener("submit", function (e) {
    var form = e.target;
    if (!form.hasAttribute("data-upload") || e.defaultPrevented) { return; }
    e.preventDefault();
    var count = 0;
    form.querySelectorAll("input[type=file]").forEach(function (i) { count += i.files.length; });
    upload(form, new FormData(form), count);
  });

  // Drag and drop: files and whole folders dropped on the folder's table are uploaded, each
  // file under its path in the dropped folder.
  var readEntry = function (entry, into) {
    if (entry.isFile) {
      return new Promise(function (ok, fail) {
        entry.file(function (f) { into.push({ file: f, path: entry.fullPath.replace(/^\//, "") }); ok(); }, fail);
      });
    }
    var reader = entry.createReader();
    var next = function () {
      return new Promise(function (ok, fail) { reader.readEntries(ok, fail); }).then(function (batch) {
        if (!batch.length) { return null; }
        return Promise.all(batch.map(function (child) { return readEntry(child, into); })).then(next);
      });
    };
    return next();
  };
  document.addEventListener("dragover", function (e) {
    if (e.target.closest("[data-drop]")) { e.preventDefault(); }
  });
  document.addEventListener("drop", function (e) {
    var zone = e.target.closest("[data-drop]");
    if (!zone || !e.dataTransfer) { return; }
    e.preventDefault();
    var form = document.querySelector(zone.getAttribute("data-drop"));
    var status = form.querySelector(".upload-status");
    // The entries are read now: the dropped items are gone once the event returns.
    var entries = Array.prototype.map.call(e.dataTransfer.items || [], function (i) { return i.webkitGetAsEntry ? i.webkitGetAsEntry() : null; }).filter(Boolean);
    var plain = Array.prototype.map.call(e.dataTransfer.files, function (f) { return { file: f, path: f.name }; });
    status.textContent = "Reading what was dropped…";
    var found = [];
    Promise.all(entries.map(function (en) { return readEntry(en, found); })).then(function () {
      var files = entries.length ? found : plain;
      if (!files.length) { status.textContent = "Nothing to upload: the dropped folders are empty."; return; }
      var data = new FormData(form);
      data.delete("files");
      files.forEach(function (f) { data.append("files", f.file, f.path); });
      upload(form, data, files.length);
    }, function (err) {
      status.textContent = "The dropped items cannot be read: " + err.message;
    });
  });

  // Copy buttons.
  document.addEventListener("click", function (e) {
    var b = e.target.closest("[data-copy]");
    if (!b) { return; }
    navigator.clipboard.writeText(b.getAttribute("data-copy")).then(function () {
      b.textContent = "Copied";
    }, function () {
      b.textContent = "Copy failed: select the link";
    });
  });

  // "Select all" checkboxes.
  document.addEventListener("change", function (e) {
    var name = e.target.getAttribute("data-select-all");
    if (!name) { return; }
    document.querySelectorAll('input[type=checkbox][name="' + name + '"]').forEach(function (c) { c.checked = e.target.checked; });
  });

  // Right-click on a row opens its menu.
  document.addEventListener("contextmenu", function (e) {
    var row = e.target.closest("[data-menu]");
    if (!row) { return; }
    var menu = document.getElementById(row.getAttribute("data-menu"));
    if (!menu) { return; }
    e.preventDefault();
    document.querySelectorAll("details.menu[open]").forEach(function (d) { d.open = false; });
    menu.open = true;
    var first = menu.querySelector(".menu-items a, .menu-items button");
    if (first) { first.focus(); }
  });
  // Escape closes an open menu.
  document.addEventListener("keydown", function (e) {
    if (e.key !== "Escape") { return; }
    document.querySelectorAll("details.menu[open]").forEach(function (d) { d.open = false; d.querySelector("summary").focus(); });
  });

  // Shared recovery: the shares chosen so far, and the majority an empty threshold means.
  var sharesChosen = function (form) {
    var total = 0, people = 0;
    form.querySelectorAll("input[name=recipient]").forEach(function (c) {
      var n = parseInt(form.querySelector('input[name="shares-' + c.value + '"]').value, 10);
      if (c.checked && n > 0) { total += n; people++; }
    });
    var out = form.querySelector("#shares-total"), threshold = form.querySelector("#threshold");
    if (!people) { out.textContent = "No recipient chosen yet."; return; }
    var majority = Math.floor(total / 2) + 1;
    threshold.placeholder = "a majority: " + majority;
    out.textContent = total + (total === 1 ? " share" : " shares") + " among " + people + (people === 1 ? " recipient" : " recipients") +
      "; the threshold can be 1 to " + total + " (empty: " + majority + ").";
  };
  document.querySelectorAll("form[data-shares]").forEach(sharesChosen);
  ["change", "input"].forEach(function (type) {
    document.addEventListener(type, function (e) {
      var form = e.target.form;
      if (form && form.hasAttribute("data-shares")) { sharesChosen(form); }
    });
  });

  // Password strength hint.
  document.addEventListener("input", function (e) {
    var out = e.target.getAttribute("data-strength");
    if (!out) { return; }
    var p = e.target.value, kinds = 0;
    [/[a-z]/, /[A-Z]/, /[0-9]/, /[^A-Za-z0-9]/].forEach(function (re) { if (re.test(p)) { kinds++; } });
    var score = p.length >= 16 ? 3 : p.length >= 12 && kinds >= 2 ? 2 : p.length >= 8 && kinds >= 2 ? 1 : 0;
    document.getElementById(out).textContent = "Strength: " + ["too weak", "fair", "good", "strong"][score];
  });

  // An exchange left midway (another page, the tab closed) is cancelled on both sides, once
  // the browser has asked to confirm; its own forms (a code, the details, Cancel) go on.
  var navigating = false;
  var cancelFlow = function () { return document.querySelector(".flow input[name=action][value=cancel]"); };
  // A form sent replaces the page: live refreshes wait meanwhile, so that one answered late
  // (the session just ended, say) does not load another page over the form's answer and
  // its message. A form whose answer stays on this page lets them go on after a while.
  var leaving = false, leftAt = 0;
  document.addEventListener("submit", function (e) {
    if (e.defaultPrevented) { return; }
    if (e.target.closest(".flow")) { navigating = true; }
    leaving = true;
    var at = ++leftAt;
    window.setTimeout(function () {
      if (at === leftAt) { leaving = false; document.dispatchEvent(new Event("parsec:settled")); }
    }, 5000);
  });
  window.addEventListener("beforeunload", function (e) {
    if (!navigating && cancelFlow()) { e.preventDefault(); e.returnValue = ""; }
  });
  window.addEventListener("pagehide", function () {
    var cancel = cancelFlow();
    // The form's input named "action" hides its action property: read the attribute.
    if (!navigating && cancel) { navigator.sendBeacon(cancel.form.getAttribute("action"), new URLSearchParams({ action: "cancel" })); }
  });

  // Live pages fetch themselves again when the GUI says something changed.
  if (document.body.dataset.live && window.EventSource) {
    var busy = false, again = false, stale = false;
    // A page the person is working in is not redrawn under their hands: a menu open, a form
    // being filled (its button included) or holding what they typed or chose, an upload
    // under way. The refresh waits until they are done.
    var changed = function (el) {
      if (el.type === "checkbox" || el.type === "radio") { return el.checked !== el.defaultChecked; }
      if (el.type === "file") { return el.files && el.files.length > 0; }
      if (el.tagName === "SELECT") { return Array.prototype.some.call(el.options, function (o) { return o.selected !== o.defaultSelected; }); }
      return el.type !== "hidden" && el.value !== el.defaultValue;
    };
    var interacting = function () {
      var active = document.activeElement;
      if (document.querySelector("details.menu[open], form[data-busy]")) { return true; }
      if (active && active.matches("input, select, textarea, button") && active.form && active.form.method === "post") { return true; }
      return Array.prototype.some.call(document.forms, function (f) {
        return f.method === "post" && Array.prototype.some.call(f.querySelectorAll("input, select, textarea"), changed);
      });
    };
    var refresh = function () {
      if (busy) { again = true; return; }
      if (leaving || interacting()) { stale = true; return; }
      stale = false;
      busy = true;
      fetch(window.location.href, { credentials: "same-origin", headers: { "X-Parsec-Refresh": "1" } }).then(function (r) {
        if (leaving) { return null; }
        if (r.redirected) { navigating = true; window.location.href = r.url; return null; }
        return r.text();
      }).then(function (html) {
        if (!html) { return; }
        if (leaving || interacting()) { stale = true; return; } // the person began meanwhile
        var doc = new DOMParser().parseFromString(html, "text/html");
        var main = doc.getElementById("main"), here = document.getElementById("main");
        if (main && here) {
          // What the page said after an action (messages, the outcomes of invitations just
          // made) stays until the person leaves the page; the same template orders them alike.
          var kept = here.querySelectorAll("[data-keep]"), fresh = main.querySelectorAll("[data-keep]");
          kept.forEach(function (k, i) { if (fresh[i]) { fresh[i].innerHTML = k.innerHTML; } });
          if (main.innerHTML !== here.innerHTML) {
            here.innerHTML = main.innerHTML;
            here.querySelectorAll("form[data-shares]").forEach(sharesChosen);
          }
        }
        var top = doc.querySelector("header.top"), hereTop = document.querySelector("header.top");
        if (top && hereTop && top.innerHTML !== hereTop.innerHTML) { hereTop.innerHTML = top.innerHTML; }
        // The banner (the server cannot be reached) comes and goes with the server.
        var banner = doc.querySelector(".banner"), hereBanner = document.querySelector(".banner"), hereMain = document.getElementById("main");
        if (banner && !hereBanner && hereMain) { hereMain.parentNode.insertBefore(document.importNode(banner, true), hereMain); }
        else if (!banner && hereBanner) { hereBanner.remove(); }
        else if (banner && hereBanner && banner.innerHTML !== hereBanner.innerHTML) { hereBanner.innerHTML = banner.innerHTML; }
        if (!doc.body.dataset.live) { source.close(); }
        document.body.dataset.seen = doc.body.dataset.seen || "";
      }).finally(function () {
        busy = false;
        if (again) { again = false; refresh(); }
      });
    };
    // What the page saw is said, so that an event published between its drawing and its
    // listening is not missed.
    var source = new EventSource("/events?seen=" + encodeURIComponent(document.body.dataset.seen || ""));
    source.onmessage = refresh;
    // Once a menu closes, the focus leaves a form, an upload ends or a form's answer left the
    // page as it was, a refresh put off meanwhile is made, a moment later: a click that
    // ended it (a form's button) acts first.
    var settled = function () {
      window.setTimeout(function () { if (stale && !leaving && !interacting()) { refresh(); } }, 300);
    };
    document.addEventListener("toggle", function (e) { if (e.target.matches && e.target.matches("details.menu") && !e.target.open) { settled(); } }, true);
    document.addEventListener("focusout", settled);
    document.addEventListener("parsec:settled", settled);
    // An exchange also asks every few seconds, in case an event was missed.
    if (document.querySelector(".flow")) { window.setInterval(refresh, 2000); }
  }
})();
