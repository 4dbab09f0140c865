// kunci.js — the browser side of kunci's sessions. Served from /static/kunci.js and loaded
// with the page's CSP nonce; no inline script anywhere.
//
// - Removes kunci's one-time `_mk=1` marker from the address bar after the bootstrap redirect,
//   so it is never bookmarked.
// - When the tab becomes visible again after a while, asks the server for the session: a
//   valid session gets a fresh token cookie silently; an ended one sends the user to
//   /login?next=… instead of failing on the next click.
// - kunci.fetch(url, options): same-origin fetch that adds the CSRF header to unsafe methods
//   and retries once after a 401 `token_expired`, after refreshing.
// - Access tokens given to kunci.setAccessToken live in memory only, never in localStorage.
(function () {
  "use strict";

  var accessToken = null;
  var hiddenSince = null;
  var REFRESH_AFTER_MS = 60 * 1000;

  function cookie(name) {
    var parts = document.cookie ? document.cookie.split("; ") : [];
    for (var i = 0; i < parts.length; i++) {
      var eq = parts[i].indexOf("=");
      var key = parts[i].slice(0, eq);
      if (key === name || key === "__Host-" + name) {
        return decodeURIComponent(parts[i].slice(eq + 1));
      }
    }
    return null;
  }

  function here() {
    return window.location.pathname + window.location.search;
  }

  function toLogin() {
    window.location.assign("/login?next=" + encodeURIComponent(here()));
  }

  function problemCode(response) {
    var type = response.headers.get("content-type") || "";
    if (type.indexOf("json") < 0) {
      return Promise.resolve(null);
    }
    return response.clone().json().then(function (body) {
      return body && body.error;
    }, function () {
      return null;
    });
  }

  function refresh() {
    return window.fetch("/api/v1/session", {
      credentials: "same-origin",
      headers: { "Accept": "application/json" },
    }).then(function (response) {
      if (response.status === 401) {
        return problemCode(response).then(function (code) {
          if (code === "session_expired") {
            toLogin();
          }
          return false;
        });
      }
      return response.ok;
    });
  }

  function kunciFetch(url, options) {
    options = Object.assign({ credentials: "same-origin" }, options || {});
    var headers = new Headers(options.headers || {});
    var method = (options.method || "GET").toUpperCase();
    if (["POST", "PUT", "PATCH", "DELETE"].indexOf(method) >= 0) {
      var csrf = cookie("kunci_csrf");
      if (csrf) {
        headers.set("X-CSRF-Token", csrf);
      }
    }
    if (accessToken) {
      headers.set("Authorization", "Bearer " + accessToken);
    }
    options.headers = headers;
    return window.fetch(url, options).then(function (response) {
      if (response.status !== 401) {
        return response;
      }
      return problemCode(response).then(function (code) {
        if (code !== "token_expired") {
          return response;
        }
        return refresh().then(function () {
          var csrf = cookie("kunci_csrf");
          if (csrf && headers.has("X-CSRF-Token")) {
            headers.set("X-CSRF-Token", csrf);
          }
          return window.fetch(url, options);
        });
      });
    });
  }

  document.addEventListener("visibilitychange", function () {
    if (document.visibilityState === "hidden") {
      hiddenSince = Date.now();
    } else if (hiddenSince !== null && Date.now() - hiddenSince >= REFRESH_AFTER_MS) {
      hiddenSince = null;
      refresh();
    }
  });

  if (/[?&]_mk=1(&|$)/.test(window.location.search) && window.history.replaceState) {
    var cleaned = window.location.search.replace(/([?&])_mk=1(&|$)/, function (_, before, after) {
      return after ? before : "";
    });
    window.history.replaceState(null, "", window.location.pathname + cleaned + window.location.hash);
  }

  // Times the server rendered in UTC, shown in the reader's own zone and language.
  function localTimes() {
    var times = document.querySelectorAll("time[datetime]");
    for (var i = 0; i < times.length; i++) {
      var when = new Date(times[i].getAttribute("datetime"));
      if (!isNaN(when.getTime())) {
        times[i].title = times[i].textContent;
        times[i].textContent = when.toLocaleString(document.documentElement.lang || undefined, {
          dateStyle: "medium",
          timeStyle: "short",
        });
      }
    }
  }
  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", localTimes);
  } else {
    localTimes();
  }

  window.kunci = {
    fetch: kunciFetch,
    refresh: refresh,
    csrfToken: function () { return cookie("kunci_csrf"); },
    setAccessToken: function (token) { accessToken = token; },
  };
  // Pages (and tests) can tell that the helper loaded and runs under the page's policy.
  document.documentElement.setAttribute("data-kunci", "ready");
})();
