/* phygital.js: Phygital's first-party tracking snippet (no dependencies, no build step).
 * <script src="PHYGITAL_URL/js/phygital.js" data-write-key="wk_…" async></script>
 * Optional: data-host (default: where this file came from), data-auto-page="false".
 * Or phygital.load(writeKey, {host, autoPage, flushInterval}); calls made earlier on a
 * `window.phygital = window.phygital || []` stub are replayed.
 * API: page(name?, properties?), track(event, properties?), identify(userId?, traits?),
 * alias(userId, previousId?), reset(), flush(), anonymousId(), userId().
 * One distinct [data-sku] on a page names its product (page() carries it as properties.sku);
 * a click on [data-track="Product Added"] sends that event with the nearest [data-sku]. */
(function (window, document) {
  "use strict";

  var VERSION = "1.0.0";
  var ANON = "phg_aid";
  var USER = "phg_uid";
  var MAX_BATCH = 20;
  var MAX_QUEUE = 500;
  var MAX_MESSAGE = 32000; // one bigger message makes the server refuse the whole batch
  var MAX_BODY = 60000; // sendBeacon and keepalive fetch refuse bodies past 64 KB

  var stub = window.phygital;
  if (stub && stub.VERSION) return; // included twice
  var early = Array.isArray(stub) ? stub.slice() : [];
  var script = document.currentScript || document.querySelector('script[src*="/js/phygital.js"]');
  var config = null;
  var pending = []; // calls made before load()
  var queue = [];
  var timer = null;
  var backoff = 0;
  var memory = {}; // when cookies and localStorage are both refused

  function warn(text) {
    if (window.console) console.warn("phygital.js: " + text);
  }

  function isObject(value) {
    return value !== null && typeof value === "object" && !Array.isArray(value);
  }

  function uuid() {
    var c = window.crypto;
    if (c && c.randomUUID) return c.randomUUID(); // secure contexts only
    var b = new Uint8Array(16);
    if (c && c.getRandomValues) c.getRandomValues(b);
    else for (var i = 0; i < 16; i++) b[i] = Math.random() * 256;
    b[6] = (b[6] & 0x0f) | 0x40;
    b[8] = (b[8] & 0x3f) | 0x80;
    var hex = "";
    for (var j = 0; j < 16; j++) hex += (b[j] + 256).toString(16).slice(1);
    return [hex.slice(0, 8), hex.slice(8, 12), hex.slice(12, 16), hex.slice(16, 20), hex.slice(20)]
      .join("-");
  }

  // Ids live in a first-party cookie and in localStorage: either survives the other's clearing.
  function recall(name) {
    var match = document.cookie.match(new RegExp("(?:^|; )" + name + "=([^;]*)"));
    var value = match && decodeURIComponent(match[1]);
    try {
      value = value || localStorage.getItem(name);
    } catch (e) {}
    return value || memory[name] || null;
  }

  function remember(name, value) {
    memory[name] = value;
    document.cookie = name + "=" + encodeURIComponent(value || "") + "; Max-Age=" +
      (value ? 31536000 : 0) + "; Path=/; SameSite=Lax" +
      (location.protocol === "https:" ? "; Secure" : "");
    try {
      if (value) localStorage.setItem(name, value);
      else localStorage.removeItem(name);
    } catch (e) {}
  }

  function anonymousId() {
    var id = recall(ANON);
    if (!id) remember(ANON, (id = uuid()));
    return id;
  }

  function userId() {
    return recall(USER);
  }

  // One distinct sku on the page makes it that product's page; a list of products is not.
  function pageSku() {
    var skus = {};
    document.querySelectorAll("[data-sku]").forEach(function (el) {
      if (el.getAttribute("data-sku")) skus[el.getAttribute("data-sku")] = 1;
    });
    var found = Object.keys(skus);
    return found.length === 1 ? found[0] : null;
  }

  function pageInfo() {
    return { path: location.pathname, url: location.href.split("#")[0], title: document.title,
      referrer: document.referrer, search: location.search };
  }

  // The server's measure: JSON with every non-ASCII character escaped as \uXXXX.
  function size(value) {
    var text = JSON.stringify(value);
    return text.length + 5 * (text.match(/[^\x00-\x7f]/g) || []).length;
  }

  function enqueue(type, fields) {
    var message = {
      type: type,
      messageId: uuid(),
      // Not `timestamp`: with originalTimestamp and sentAt the server corrects the clock's skew.
      originalTimestamp: new Date().toISOString(),
      anonymousId: anonymousId(),
      context: {
        page: pageInfo(),
        userAgent: navigator.userAgent,
        locale: navigator.language,
        library: { name: "phygital.js", version: VERSION },
      },
    };
    if (userId()) message.userId = userId();
    Object.keys(fields).forEach(function (key) { message[key] = fields[key]; });
    if (size(message) > MAX_MESSAGE) return warn(type + " over 32 KB dropped");
    queue.push(message);
    if (queue.length > MAX_QUEUE) queue.shift();
    if (queue.length >= MAX_BATCH) flush();
    else schedule(config.flushInterval);
  }

  function schedule(delay) {
    timer = timer || setTimeout(function () {
      timer = null;
      flush();
    }, delay);
  }

  // writeKey in the body and a text/plain string: a "simple" request, no CORS preflight.
  function nextRequest() {
    var batch = [];
    var total = 200;
    while (queue.length && batch.length < MAX_BATCH) {
      total += size(queue[0]) + 1;
      if (batch.length && total > MAX_BODY) break;
      batch.push(queue.shift());
    }
    var body = { batch: batch, sentAt: new Date().toISOString(), writeKey: config.writeKey };
    return { batch: batch, body: JSON.stringify(body) };
  }

  function post(request) {
    if (!window.fetch) return beacon(request);
    fetch(config.host + "/v1/batch", { method: "POST", body: request.body, credentials: "omit" })
      .then(function (response) {
        if (response.ok) backoff = 0;
        else if (response.status === 429 || response.status >= 500) retry(request.batch);
        else warn("batch refused (HTTP " + response.status + ")");
      }, function () {
        retry(request.batch);
      });
  }

  // A repeated messageId is stored once, so sending a batch again is safe.
  function retry(batch) {
    queue = batch.concat(queue).slice(-MAX_QUEUE);
    backoff = Math.min(backoff * 2 || 1000, 60000);
    schedule(backoff);
  }

  // The page is going away: a beacon outlives it; keepalive fetch if the beacon is refused.
  function beacon(request) {
    var url = config.host + "/v1/batch";
    try {
      if (navigator.sendBeacon && navigator.sendBeacon(url, request.body)) return;
    } catch (e) {}
    if (window.fetch) {
      fetch(url, { method: "POST", body: request.body, keepalive: true, credentials: "omit" })
        .catch(function () {});
    }
  }

  function flush(leaving) {
    clearTimeout(timer);
    timer = null;
    while (queue.length) {
      if (leaving) beacon(nextRequest());
      else post(nextRequest());
    }
  }

  function onClick(event) {
    var el = event.target.closest && event.target.closest("[data-track]");
    if (!el || !el.getAttribute("data-track")) return;
    var holder = el.closest("[data-sku]");
    var properties = holder ? { sku: holder.getAttribute("data-sku") } : {};
    api.track(el.getAttribute("data-track"), properties);
  }

  function whenLoaded(name, fn) {
    return function () {
      if (config) fn.apply(null, arguments);
      else pending.push([name].concat([].slice.call(arguments)));
    };
  }

  function load(writeKey, options) {
    if (config) return;
    if (!writeKey) return warn("load() needs a write key");
    options = options || {};
    var src = script && script.src && new URL(script.src, location.href);
    var host = options.host || (script && script.getAttribute("data-host")) ||
      (src && src.origin + src.pathname.replace(/\/js\/phygital\.js$/, ""));
    config = {
      writeKey: String(writeKey),
      host: String(host || location.origin).replace(/\/+$/, ""),
      flushInterval: options.flushInterval || 2000,
    };
    remember(ANON, anonymousId()); // every visit gives the cookies another year
    if (userId()) remember(USER, userId());
    document.addEventListener("click", onClick, true);
    document.addEventListener("visibilitychange", function () {
      if (document.visibilityState === "hidden") flush(true);
    });
    addEventListener("pagehide", function () {
      flush(true);
    });
    if (options.autoPage !== false) api.page();
    pending.splice(0).forEach(invoke);
  }

  var api = {
    VERSION: VERSION,
    load: load,
    page: whenLoaded("page", function (name, properties) {
      if (isObject(name)) return api.page(null, name);
      var props = pageInfo();
      Object.assign(props, isObject(properties) ? properties : {});
      if (props.sku == null && props.product_id == null && pageSku()) props.sku = pageSku();
      enqueue("page", name ? { name: String(name), properties: props } : { properties: props });
    }),
    track: whenLoaded("track", function (event, properties) {
      if (!event || typeof event !== "string") return warn("track() needs an event name");
      enqueue("track", { event: event, properties: isObject(properties) ? properties : {} });
    }),
    identify: whenLoaded("identify", function (id, traits) {
      if (isObject(id)) return api.identify(null, id);
      if (id != null && id !== "") remember(USER, String(id));
      enqueue("identify", { traits: isObject(traits) ? traits : {} });
    }),
    // As in Segment: joins previousId (by default the current user or anonymous id) to userId.
    alias: whenLoaded("alias", function (id, previousId) {
      if (id == null || id === "") return warn("alias() needs a user id");
      var previous = previousId || userId() || anonymousId();
      enqueue("alias", { userId: String(id), previousId: String(previous) });
    }),
    // Forget the person on this browser (logout, shared computer): a new anonymous id from now.
    reset: whenLoaded("reset", function () {
      remember(USER, null);
      remember(ANON, uuid());
    }),
    flush: function () {
      flush(false);
    },
    anonymousId: anonymousId,
    userId: userId,
    push: function (call) {
      invoke(call);
    },
  };

  function invoke(call) {
    if (call && typeof api[call[0]] === "function") api[call[0]].apply(api, call.slice(1));
  }

  window.phygital = api;
  // A load() among the stub's calls wins over the script tag's attributes.
  early.filter(function (call) { return call && call[0] === "load"; }).forEach(invoke);
  if (!config && script && script.getAttribute("data-write-key")) {
    load(script.getAttribute("data-write-key"), {
      autoPage: script.getAttribute("data-auto-page") !== "false",
    });
  }
  early.filter(function (call) { return call && call[0] !== "load"; }).forEach(invoke);
})(window, document);
