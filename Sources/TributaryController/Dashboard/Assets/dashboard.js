// Tributary dashboard: plain JavaScript over the public REST API (/api/v1, same origin) and
// the live events WebSocket (/ws/events). No framework, no build step.
//
// What it polls (every POLL_MS): /get_controller_status, /api/v1/combiners/, /api/v1/clients/,
// /api/v1/sessions/ and the selected session's /api/v1/rounds/; on round changes also its
// validations, statuses (MODEL_UPDATE_REJECTED, CLIENT_FAILED) and models. Events from the
// WebSocket update the live round progress and trigger refreshes at once.
(function () {
  "use strict";

  const POLL_MS = 1500;
  const DETAIL_EVERY_MS = 5000;
  const MAX_EVENTS = 250;
  const MAX_CLIENTS_PER_COMBINER = 240;
  const MAX_MODELS = 60;
  const TOKEN_KEY = "tributary.adminToken";
  const $ = id => document.getElementById(id);

  const state = {
    token: sessionStorage.getItem(TOKEN_KEY) || "",
    authBlocked: false,        // a 401 was answered with "Cancel": stop calling until a token is set
    tokenPromise: null,        // the open token dialog, shared by every call that got a 401
    controllerState: "unknown",
    combiners: [],
    clients: [],
    sessions: [],
    selectedId: null,
    userSelected: false,
    rounds: [],
    roundsSignature: "",
    detailsAt: 0,
    detailsSignature: "",
    issues: [],                // MODEL_UPDATE_REJECTED and CLIENT_FAILED statuses of the selected session
    validations: [],
    models: [],
    modelCount: 0,
    seedModel: null,
    live: null,                // the round running now, from events
    ws: null,
    wsBackoff: 1000,
    wsTimer: null,
    wsWanted: false,
    eventsPaused: false,
    eventQueue: [],
    topologySignature: "",
    polling: false,
    lastOk: null,
  };

  // ---------------------------------------------------------------- DOM helpers

  function h(tag, attrs, ...children) {
    const node = document.createElement(tag);
    if (attrs) {
      for (const [key, value] of Object.entries(attrs)) {
        if (value === undefined || value === null || value === false) continue;
        if (key === "class") node.className = value;
        else if (key === "text") node.textContent = value;
        else if (key.startsWith("on") && typeof value === "function") node.addEventListener(key.slice(2), value);
        else node.setAttribute(key, value === true ? "" : String(value));
      }
    }
    for (const child of children.flat()) {
      if (child === undefined || child === null || child === false) continue;
      node.appendChild(typeof child === "string" || typeof child === "number" ? document.createTextNode(String(child)) : child);
    }
    return node;
  }

  function setText(id, text) {
    const node = $(id);
    if (node && node.textContent !== text) node.textContent = text;
  }

  const fmt4 = v => (typeof v === "number" && Number.isFinite(v) ? v.toFixed(4) : "—");
  const fmtSec = v => (typeof v === "number" && Number.isFinite(v) ? (v < 10 ? v.toFixed(3) : v.toFixed(1)) : "—");
  const fmtInt = v => (typeof v === "number" && Number.isFinite(v) ? Math.round(v).toLocaleString("en-US") : "—");
  const shortId = id => (id ? String(id).slice(0, 8) : "—");

  function fmtDuration(seconds) {
    if (!(typeof seconds === "number" && Number.isFinite(seconds))) return "—";
    if (seconds < 1) return `${Math.round(seconds * 1000)} ms`;
    if (seconds < 120) return `${seconds.toFixed(2)} s`;
    return `${(seconds / 60).toFixed(1)} min`;
  }

  function ago(iso) {
    const t = Date.parse(iso);
    if (!Number.isFinite(t)) return "never";
    const s = Math.max(0, (Date.now() - t) / 1000);
    if (s < 2) return "just now";
    if (s < 90) return `${Math.round(s)} s ago`;
    if (s < 5400) return `${Math.round(s / 60)} min ago`;
    return `${Math.round(s / 3600)} h ago`;
  }

  function clockTime(iso) {
    const d = iso ? new Date(iso) : new Date();
    if (Number.isNaN(d.getTime())) return "";
    return d.toLocaleTimeString("en-GB", { hour12: false });
  }

  let toastTimer = null;
  function toast(message, kind) {
    const node = $("toast");
    node.textContent = message;
    node.dataset.kind = kind || "info";
    node.hidden = false;
    clearTimeout(toastTimer);
    toastTimer = setTimeout(() => { node.hidden = true; }, kind === "error" ? 8000 : 4000);
  }

  // ---------------------------------------------------------------- API

  class APIError extends Error {
    constructor(status, message) { super(message); this.status = status; }
  }

  async function api(path, options) {
    const opts = options || {};
    for (let attempt = 0; attempt < 3; attempt++) {
      if (state.authBlocked && !opts.interactive) throw new APIError(401, "authentication required");
      const headers = Object.assign({ Accept: "application/json" }, opts.headers || {});
      if (state.token) headers.Authorization = `Bearer ${state.token}`;
      let body;
      if (opts.body !== undefined) { headers["Content-Type"] = "application/json"; body = JSON.stringify(opts.body); }
      let response;
      try {
        response = await fetch(path, { method: opts.method || "GET", headers, body, cache: "no-store" });
      } catch (error) {
        throw new APIError(0, "the controller cannot be reached");
      }
      if (response.status === 401) {
        let message = "authentication required";
        try { message = (await response.json()).message || message; } catch (_) { /* not JSON */ }
        await askForToken(message);   // throws when the user cancels
        continue;
      }
      const text = await response.text();
      let data = null;
      if (text) { try { data = JSON.parse(text); } catch (_) { data = text; } }
      if (!response.ok) {
        const message = data && typeof data === "object" && data.message ? data.message : `HTTP ${response.status}`;
        throw new APIError(response.status, message);
      }
      markOk();
      return data;
    }
    throw new APIError(401, "authentication failed");
  }

  const list = (path, headers) => api(path, { headers }).then(d => (d && Array.isArray(d.result) ? d.result : []));

  function markOk() {
    state.lastOk = new Date();
  }

  // ---------------------------------------------------------------- token dialog

  function askForToken(reason) {
    if (state.tokenPromise) return state.tokenPromise;
    const dialog = $("token-dialog");
    $("token-reason").textContent = `${reason ? reason + ". " : ""}The controller requires an admin token ` +
      "(tributary-controller --jwt-secret S --issue-token admin prints one).";
    $("token-input").value = "";
    state.tokenPromise = new Promise((resolve, reject) => {
      const done = ok => {
        dialog.removeEventListener("close", onClose);
        state.tokenPromise = null;
        if (ok) { state.authBlocked = false; resolve(); } else { state.authBlocked = true; reject(new APIError(401, "no token given")); }
      };
      const onClose = () => {
        const value = $("token-input").value.trim();
        if (dialog.returnValue === "save" && value) {
          setToken(value);
          done(true);
        } else {
          done(false);
          toast("No token: the dashboard cannot read the API. Use “Set token” to try again.", "error");
        }
      };
      dialog.addEventListener("close", onClose);
    });
    dialog.returnValue = "";
    if (!dialog.open) dialog.showModal();
    return state.tokenPromise;
  }

  function setToken(value) {
    state.token = value;
    if (value) sessionStorage.setItem(TOKEN_KEY, value); else sessionStorage.removeItem(TOKEN_KEY);
    updateTokenButton();
    reconnectEvents();
  }

  function updateTokenButton() {
    $("token-button").textContent = state.token ? "Token set" : "Set token";
    $("token-button").setAttribute("aria-label", state.token ? "Change or forget the admin token" : "Set an admin token");
  }

  function setupTokenDialog() {
    const dialog = $("token-dialog");
    $("token-button").addEventListener("click", () => {
      if (state.tokenPromise) return;
      askForToken(state.token ? "Replace the admin token" : "").then(() => pollNow(), () => {});
      $("token-input").value = state.token;
    });
    $("token-cancel").addEventListener("click", () => dialog.close("cancel"));
    $("token-clear").addEventListener("click", () => {
      setToken("");
      $("token-input").value = "";
      dialog.close("cancel");
      toast("Token forgotten.", "info");
    });
    $("token-form").addEventListener("submit", event => {
      event.preventDefault();
      if (!$("token-input").value.trim()) { $("token-input").focus(); return; }
      dialog.close("save");
    });
  }

  // ---------------------------------------------------------------- polling

  async function poll() {
    if (state.polling) return;
    state.polling = true;
    try {
      // One call first: when the API needs a token, only it meets the 401 and opens the dialog.
      const status = await api("/get_controller_status");
      const [combiners, clients, sessions] = await Promise.all([
        list("/api/v1/combiners/", { "X-Limit": "1000", "X-Sort-Key": "name", "X-Sort-Order": "asc" }),
        list("/api/v1/clients/", { "X-Limit": "5000", "X-Sort-Key": "name", "X-Sort-Order": "asc" }),
        list("/api/v1/sessions/", { "X-Limit": "200", "X-Sort-Key": "committed_at", "X-Sort-Order": "desc" }),
      ]);
      state.controllerState = status && status.state ? String(status.state) : "unknown";
      state.combiners = combiners;
      state.clients = clients;
      state.sessions = sessions;
      chooseSession();
      renderHeader();
      renderTopology();
      renderSessions();
      if (!state.wsWanted) { state.wsWanted = true; connectEvents(); }
      await refreshSelected();
    } catch (error) {
      renderOffline(error);
    } finally {
      state.polling = false;
    }
  }

  function pollNow() { setTimeout(poll, 0); }

  function runningSession() {
    return state.sessions.find(s => s.status === "Started") || null;
  }

  function chooseSession() {
    const running = runningSession();
    const exists = id => state.sessions.some(s => s.session_id === id);
    if (state.selectedId && exists(state.selectedId) && (state.userSelected || !running || running.session_id === state.selectedId)) return;
    if (state.selectedId && !exists(state.selectedId)) state.userSelected = false;
    const next = running ? running.session_id : (state.sessions[0] ? state.sessions[0].session_id : null);
    if (next !== state.selectedId) selectSession(next, false);
  }

  function selectSession(id, byUser) {
    if (byUser !== undefined) state.userSelected = byUser;
    if (id === state.selectedId) return;
    state.selectedId = id;
    state.rounds = [];
    state.roundsSignature = "";
    state.detailsSignature = "";
    state.detailsAt = 0;
    state.issues = [];
    state.validations = [];
    state.models = [];
    state.modelCount = 0;
    state.seedModel = null;
    renderSessions();
    renderSession();
    renderParticipants();
    renderModels();
  }

  function selectedSession() {
    return state.sessions.find(s => s.session_id === state.selectedId) || null;
  }

  async function refreshSelected() {
    const session = selectedSession();
    if (!session) { renderSession(); renderParticipants(); renderModels(); return; }
    const id = session.session_id;
    // Incremental: rounds that are final (Finished, Failed) do not change, so ask only for the
    // first one that is still open and everything after it.
    const open = state.rounds.find(r => r.status !== "Finished" && r.status !== "Failed");
    const from = open ? open.round_number : (state.rounds.length ? state.rounds[state.rounds.length - 1].round_number + 1 : 0);
    const fresh = await list(`/api/v1/rounds/?session_id=${encodeURIComponent(id)}${from > 0 ? `&round_number__gte=${from}` : ""}`,
      { "X-Limit": "100000", "X-Sort-Key": "round_number", "X-Sort-Order": "asc" });
    if (state.selectedId !== id) return;
    const rounds = state.rounds.filter(r => r.round_number < from).concat(fresh);
    state.rounds = rounds;
    const signature = rounds.map(r => `${r.round_number}:${r.status}`).join(",") + `|${session.status}`;
    const now = Date.now();
    if (signature !== state.detailsSignature || now - state.detailsAt > DETAIL_EVERY_MS) {
      await refreshDetails(session);
      state.detailsSignature = signature;
      state.detailsAt = now;
    }
    renderSession();
    renderParticipants();
  }

  async function refreshDetails(session) {
    const id = encodeURIComponent(session.session_id);
    const lastRound = state.rounds.length ? state.rounds[state.rounds.length - 1].round_number : 0;
    const [rejected, failed, validations, models, seed] = await Promise.all([
      list(`/api/v1/statuses/?session_id=${id}&type=MODEL_UPDATE_REJECTED`, { "X-Limit": "2000", "X-Sort-Key": "committed_at", "X-Sort-Order": "desc" }),
      list(`/api/v1/statuses/?session_id=${id}&type=CLIENT_FAILED`, { "X-Limit": "2000", "X-Sort-Key": "committed_at", "X-Sort-Order": "desc" }),
      // The latest validation of each client: those of the last few rounds are enough.
      list(`/api/v1/validations/?session_id=${id}${lastRound > 3 ? `&round_number__gte=${lastRound - 2}` : ""}`,
        { "X-Limit": "20000", "X-Sort-Key": "round_number", "X-Sort-Order": "desc" }),
      api(`/api/v1/models/?session_id=${id}`, { headers: { "X-Limit": String(MAX_MODELS), "X-Sort-Key": "round_number", "X-Sort-Order": "desc" } }),
      state.seedModel && state.seedModel.model_id === session.seed_model_id ? Promise.resolve(state.seedModel)
        : session.seed_model_id ? api(`/api/v1/models/${encodeURIComponent(session.seed_model_id)}`).catch(() => null) : Promise.resolve(null),
    ]);
    if (state.selectedId !== session.session_id) return;
    state.issues = rejected.concat(failed);
    state.validations = validations;
    state.models = models && Array.isArray(models.result) ? models.result : [];
    state.modelCount = models && Number.isFinite(models.count) ? models.count : state.models.length;
    state.seedModel = seed;
    renderModels();
  }

  function renderOffline(error) {
    if (error && error.status === 401) {
      setPill("controller-state", "locked", "controller: token needed");
      setText("topology-summary", "an admin token is needed to read the API");
      return;
    }
    setPill("controller-state", "down", error && error.status === 0 ? "controller: unreachable" : `controller: ${error ? error.message : "error"}`);
  }

  function setPill(id, stateName, text) {
    const node = $(id);
    node.dataset.state = stateName;
    if (node.textContent !== text) node.textContent = text;
  }

  // ---------------------------------------------------------------- header

  function renderHeader() {
    const s = state.controllerState;
    setPill("controller-state", s === "idle" ? "ok" : "busy", `controller: ${s}`);
    setText("last-update", state.lastOk ? `updated ${clockTime(state.lastOk.toISOString())}` : "");
  }

  // ---------------------------------------------------------------- topology

  function renderTopology() {
    const combiners = state.combiners;
    const clients = state.clients;
    const online = clients.filter(c => c.status === "online").length;
    const combinersOnline = combiners.filter(c => c.status === "online").length;
    setText("topology-summary",
      `${combinersOnline}/${combiners.length} combiner${combiners.length === 1 ? "" : "s"} online · ${online}/${clients.length} client${clients.length === 1 ? "" : "s"} online`);

    // Rebuild only when something visible changed (statuses, membership, load).
    const signature = JSON.stringify([state.controllerState,
      combiners.map(c => [c.name, c.status, c.clients_online, c.address]),
      clients.map(c => [c.name, c.status, c.combiner])]);
    if (signature === state.topologySignature) return;
    state.topologySignature = signature;

    const byCombiner = new Map(combiners.map(c => [c.name, []]));
    const unassigned = [];
    for (const client of clients) {
      const bucket = client.combiner && byCombiner.get(client.combiner);
      (bucket || unassigned).push(client);
    }
    const maxLoad = Math.max(1, ...combiners.map(c => c.clients_online || 0));

    const branch = (combiner, members) => {
      const status = combiner ? combiner.status || "offline" : "none";
      const load = combiner ? combiner.clients_online || 0 : 0;
      const shown = members.slice(0, MAX_CLIENTS_PER_COMBINER);
      const head = combiner
        ? h("div", { class: "node node-combiner", "data-node": `combiner:${combiner.name}`, "data-status": status },
            h("div", { class: "node-title" }, h("i", { class: "dot", "data-status": status, "aria-hidden": "true" }),
              h("span", { class: "node-name" }, combiner.name), h("span", { class: "status-text" }, status)),
            h("div", { class: "node-detail mono" }, combiner.address || ""),
            h("div", { class: "load", title: `${load} client${load === 1 ? "" : "s"} online` },
              h("span", { class: "load-label" }, `load ${load} client${load === 1 ? "" : "s"}`),
              h("span", { class: "load-bar", "aria-hidden": "true" }, h("span", { style: `width:${Math.round(100 * load / maxLoad)}%` }))))
        : h("div", { class: "node node-combiner node-unassigned", "data-node": "combiner:(none)" },
            h("div", { class: "node-title" }, h("span", { class: "node-name" }, "no combiner")),
            h("div", { class: "node-detail" }, "clients not assigned to a known combiner"));
      const items = shown.map(client => h("li", {
        class: "node node-client", "data-node": `client:${client.name}`, "data-status": client.status || "offline",
        title: `${client.name}: ${client.status}${client.combiner ? ` via ${client.combiner}` : ""}, last seen ${ago(client.last_seen)}`,
      }, h("i", { class: "dot", "data-status": client.status || "offline", "aria-hidden": "true" }),
        h("span", { class: "node-name" }, client.name),
        h("span", { class: "status-text" }, client.status || "offline")));
      if (members.length > shown.length) items.push(h("li", { class: "node-more" }, `+ ${members.length - shown.length} more`));
      if (!members.length) items.push(h("li", { class: "node-more" }, "no clients"));
      return h("li", { class: "topo-branch" }, head, h("ul", { class: "topo-clients", "aria-label": `clients of ${combiner ? combiner.name : "no combiner"}` }, items));
    };

    const branches = combiners.map(c => branch(c, byCombiner.get(c.name)));
    if (unassigned.length) branches.push(branch(null, unassigned));
    const root = h("div", { class: "topo-root" },
      h("div", { class: "node node-controller", "data-node": "controller", "data-status": state.controllerState === "unknown" ? "offline" : "online" },
        h("div", { class: "node-title" }, h("i", { class: "dot", "data-status": "online", "aria-hidden": "true" }),
          h("span", { class: "node-name" }, "controller"), h("span", { class: "status-text" }, state.controllerState)),
        h("div", { class: "node-detail mono" }, location.host)),
      combiners.length || unassigned.length
        ? h("ul", { class: "topo-combiners", "aria-label": "combiners" }, branches)
        : h("p", { class: "empty" }, "no combiner has registered yet"));
    $("topology").replaceChildren(root);
  }

  // ---------------------------------------------------------------- sessions

  function statusBadge(status) {
    return h("span", { class: "badge", "data-status": String(status || "none").toLowerCase() }, status || "—");
  }

  function renderSessions() {
    const running = runningSession();
    const body = $("session-list");
    setText("sessions-summary", `${state.sessions.length} session${state.sessions.length === 1 ? "" : "s"}${running ? " · 1 running" : ""}`);
    $("stop-session").disabled = !running;
    $("skip-barrier").disabled = !running;
    const start = $("start-session");
    start.disabled = !!running || state.busy === true;
    start.title = running ? `Session ${running.name} is running` : "";
    if (!state.sessions.length) {
      body.replaceChildren(h("tr", null, h("td", { colspan: 3, class: "empty" }, "no sessions yet")));
      return;
    }
    const focused = document.activeElement && document.activeElement.dataset ? document.activeElement.dataset.sessionId : null;
    const rows = state.sessions.map(s => {
      const selected = s.session_id === state.selectedId;
      const button = h("button", {
        type: "button", class: "link-button", "data-session-id": s.session_id, "aria-pressed": selected ? "true" : "false",
        title: `Show session ${s.name} (${s.session_id})`, onclick: () => selectSession(s.session_id, true),
      }, s.name);
      return h("tr", { class: selected ? "selected" : "", "aria-current": selected ? "true" : null, "data-session": s.session_id },
        h("td", null, button, h("div", { class: "cell-sub" }, clockTime(s.committed_at), " · ", shortId(s.session_id))),
        h("td", null, statusBadge(s.status)),
        h("td", { class: "num" }, String(s.session_config && s.session_config.rounds || "—")));
    });
    body.replaceChildren(...rows);
    if (focused) {
      const again = body.querySelector(`[data-session-id="${CSS.escape(focused)}"]`);
      if (again) again.focus();
    }
  }

  function formBody() {
    const value = id => $(id).value.trim();
    const rounds = Number(value("f-rounds"));
    const timeout = Number(value("f-timeout"));
    const epochs = Number(value("f-epochs"));
    const lr = Number(value("f-lr"));
    if (!Number.isInteger(rounds) || rounds < 1) throw fieldError("f-rounds", "Rounds must be a whole number of at least 1.");
    if (!(timeout > 0)) throw fieldError("f-timeout", "The round timeout must be positive seconds.");
    if (!Number.isInteger(epochs) || epochs < 1) throw fieldError("f-epochs", "Local epochs must be a whole number of at least 1.");
    if (!(lr > 0)) throw fieldError("f-lr", "The learning rate must be positive.");
    const config = {
      rounds, round_timeout: timeout, aggregator: value("f-aggregator"), validate: $("f-validate").checked,
      training: { local_epochs: epochs, learning_rate: lr },
    };
    const kwargs = value("f-kwargs");
    if (kwargs) {
      let parsed;
      try { parsed = JSON.parse(kwargs); } catch (_) { throw fieldError("f-kwargs", "Aggregator kwargs must be a JSON object."); }
      if (!parsed || typeof parsed !== "object" || Array.isArray(parsed)) throw fieldError("f-kwargs", "Aggregator kwargs must be a JSON object.");
      config.aggregator_kwargs = parsed;
    }
    const body = { session_config: config };
    if (value("f-name")) body.name = value("f-name");
    return body;
  }

  function fieldError(id, message) {
    const error = new Error(message);
    error.field = id;
    return error;
  }

  async function onCreateAndStart(event) {
    event.preventDefault();
    let body;
    try {
      body = formBody();
    } catch (error) {
      toast(error.message, "error");
      if (error.field) { $(error.field).setAttribute("aria-invalid", "true"); $(error.field).focus(); }
      return;
    }
    for (const node of document.querySelectorAll("#session-form [aria-invalid]")) node.removeAttribute("aria-invalid");
    const button = $("start-session");
    button.disabled = true;
    state.busy = true;
    try {
      const session = await api("/api/v1/sessions/", { method: "POST", body, interactive: true });
      await api("/api/v1/sessions/start", { method: "POST", body: { session_id: session.session_id }, interactive: true });
      toast(`Session ${session.name} started (${body.session_config.rounds} rounds).`, "ok");
      $("f-name").value = "";
      state.sessions.unshift(Object.assign({}, session, { status: "Started" }));
      selectSession(session.session_id, false);
    } catch (error) {
      toast(`Could not start the session: ${error.message}`, "error");
    } finally {
      state.busy = false;
      await poll();
    }
  }

  async function control(path, done) {
    try {
      const reply = await api(path, { method: "POST", body: {}, interactive: true });
      toast(done || (reply && reply.message) || "Done.", "ok");
    } catch (error) {
      toast(error.message, "error");
    }
    pollNow();
  }

  async function onContinue() {
    const session = selectedSession();
    if (!session) return;
    const body = { session_id: session.session_id };
    if (session.status !== "Created") {
      const more = Number($("continue-rounds").value);
      if (!Number.isInteger(more) || more < 1) { toast("Rounds must be a whole number of at least 1.", "error"); $("continue-rounds").focus(); return; }
      body.rounds = more;
    }
    try {
      await api("/api/v1/sessions/start", { method: "POST", body, interactive: true });
      toast(session.status === "Created" ? `Session ${session.name} started.` : `Session ${session.name} continues by ${body.rounds} rounds.`, "ok");
      state.userSelected = false;
    } catch (error) {
      toast(`Could not start: ${error.message}`, "error");
    }
    pollNow();
  }

  // ---------------------------------------------------------------- selected session

  function finishedRounds() {
    return state.rounds.filter(r => r.status === "Finished");
  }

  function validationOf(round) {
    const v = round && round.round_data && round.round_data.validation;
    return v && typeof v === "object" ? v : {};
  }

  function median(values) {
    const xs = values.filter(v => Number.isFinite(v)).sort((a, b) => a - b);
    if (!xs.length) return NaN;
    const mid = Math.floor(xs.length / 2);
    return xs.length % 2 ? xs[mid] : (xs[mid - 1] + xs[mid]) / 2;
  }

  function roundSeconds(round) {
    const started = Date.parse(round.committed_at), finished = Date.parse(round.finished_at);
    const d = round.round_data || {};
    const parts = ["time_training", "time_reduce", "time_validation"].map(k => d[k]).filter(Number.isFinite);
    if (parts.length) return parts.reduce((a, b) => a + b, 0);
    return Number.isFinite(started) && Number.isFinite(finished) ? (finished - started) / 1000 : NaN;
  }

  function renderSession() {
    const session = selectedSession();
    const statusNode = $("session-status");
    if (!session) {
      setText("session-name", "—");
      statusNode.textContent = "no session";
      statusNode.dataset.status = "none";
      setText("rounds-finished", "0");
      setText("rounds-total", "0");
      setText("final-accuracy", "—");
      setText("final-loss", "—");
      setText("round-time", "—");
      setText("session-aggregator", "—");
      $("continue-bar").hidden = true;
      renderCharts();
      renderRoundsTable();
      renderProgress();
      return;
    }
    setText("session-name", session.name);
    statusNode.textContent = session.status;
    statusNode.dataset.status = String(session.status).toLowerCase();
    const finished = finishedRounds();
    const last = finished.length ? finished.reduce((a, b) => (b.round_number > a.round_number ? b : a)) : null;
    const total = session.session_config && session.session_config.rounds;
    setText("rounds-finished", String(finished.length));
    setText("rounds-total", String(total || state.rounds.length));
    setText("final-accuracy", last ? fmt4(validationOf(last).accuracy) : "—");
    setText("final-loss", last ? fmt4(validationOf(last).loss) : "—");
    setText("round-time", fmtDuration(median(finished.map(roundSeconds))));
    const cfg = session.session_config || {};
    const kwargs = cfg.aggregator_kwargs && Object.keys(cfg.aggregator_kwargs).length ? ` ${JSON.stringify(cfg.aggregator_kwargs)}` : "";
    setText("session-aggregator", `${cfg.aggregator || "fedavg"}${kwargs}`);

    const bar = $("continue-bar");
    const canStart = session.status !== "Started" && !runningSession();
    bar.hidden = !canStart;
    if (canStart) {
      const created = session.status === "Created";
      bar.querySelector("label").textContent = created ? "This session has not started yet" : "Continue by";
      $("continue-rounds").hidden = created;
      bar.querySelector("span").hidden = created;
      setText("continue-session", created ? "Start" : "Continue");
    }
    renderCharts();
    renderRoundsTable();
    renderProgress();
  }

  function renderCharts() {
    const rounds = finishedRounds();
    const point = (r, pick) => [r.round_number, pick(r)];
    const acc = rounds.map(r => point(r, x => validationOf(x).accuracy));
    const loss = rounds.map(r => point(r, x => validationOf(x).loss));
    const trainAcc = rounds.map(r => point(r, x => (x.round_data && x.round_data.train_metrics || {}).train_accuracy));
    const trainLoss = rounds.map(r => point(r, x => (x.round_data && x.round_data.train_metrics || {}).train_loss));
    const empty = state.selectedId ? "no finished round yet" : "no session";
    window.TributaryChart.render($("chart-accuracy"), {
      series: [{ name: "validation", className: "s1", points: acc }, { name: "training", className: "s2", dashed: true, points: trainAcc }],
      xLabel: "round", tooltipFormat: v => v.toFixed(4), empty, legend: true,
    });
    window.TributaryChart.render($("chart-loss"), {
      series: [{ name: "validation", className: "s3", points: loss }, { name: "training", className: "s4", dashed: true, points: trainLoss }],
      xLabel: "round", tooltipFormat: v => v.toFixed(4), empty, legend: true, zeroBased: true,
    });
    const last = acc.length ? acc[acc.length - 1] : null;
    $("chart-accuracy").setAttribute("aria-label", last ? `Accuracy per round; round ${last[0]}: ${fmt4(last[1])}` : "Accuracy per round: no data");
    const lastLoss = loss.length ? loss[loss.length - 1] : null;
    $("chart-loss").setAttribute("aria-label", lastLoss ? `Loss per round; round ${lastLoss[0]}: ${fmt4(lastLoss[1])}` : "Loss per round: no data");
  }

  // Clients a combiner left out of a round (refused or failed), from the statuses.
  function issuesByRoundAndCombiner() {
    const map = new Map();
    for (const s of state.issues) {
      const m = /by ([^:\s]+):/.exec(s.status || "");
      const key = `${s.round_number}|${m ? m[1] : "?"}`;
      map.set(key, (map.get(key) || 0) + 1);
    }
    return map;
  }

  function combinerChips(round, issues) {
    const reports = Array.isArray(round.combiners) ? round.combiners : [];
    if (!reports.length) return h("span", { class: "muted" }, round.status === "Finished" || round.status === "Failed" ? "—" : "waiting");
    return h("span", { class: "chips" }, reports.map(c => {
      const reported = (c.clients || []).length;
      // Expected: who delivered, whom it left out (stragglers), whose update it refused or who
      // failed; a failed combiner's reason says "k of n clients answered".
      const said = /(\d+) of (\d+) clients/.exec(c.reason || "");
      const expected = Math.max(reported + (c.excluded || []).length + (issues.get(`${round.round_number}|${c.name}`) || 0),
        said ? Number(said[2]) : 0);
      const title = `${c.name}: ${c.status}, ${reported} of ${expected} client${expected === 1 ? "" : "s"} reported` +
        `${Number.isFinite(c.time_seconds) ? `, ${fmtSec(c.time_seconds)} s` : ""}${c.reason ? ` — ${c.reason}` : ""}`;
      return h("span", { class: "chip", "data-status": String(c.status || "").toLowerCase(), title },
        `${c.name} ${reported}/${expected}`);
    }));
  }

  function renderRoundsTable() {
    const body = $("rounds-body");
    if (!state.rounds.length) {
      body.replaceChildren(h("tr", null, h("td", { colspan: 9, class: "empty" }, state.selectedId ? "no rounds yet" : "no session")));
      return;
    }
    const issues = issuesByRoundAndCombiner();
    const rows = state.rounds.slice().reverse().slice(0, 200).map(r => {
      const d = r.round_data || {};
      const v = validationOf(r);
      return h("tr", { "data-round": r.round_number, "data-status": String(r.status).toLowerCase() },
        h("td", { class: "num" }, String(r.round_number)),
        h("td", null, statusBadge(r.status), d.attempt > 1 ? h("span", { class: "cell-sub", title: "attempt" }, ` attempt ${d.attempt}`) : null,
          r.error ? h("div", { class: "cell-sub error-text" }, r.error) : null),
        h("td", { class: "num" }, fmt4(v.accuracy)),
        h("td", { class: "num" }, fmt4(v.loss)),
        h("td", null, combinerChips(r, issues)),
        h("td", { class: "num" }, fmtSec(d.time_training)),
        h("td", { class: "num" }, fmtSec(d.time_reduce)),
        h("td", { class: "num" }, fmtSec(d.time_validation)),
        h("td", { class: "num" }, fmtInt(d.num_examples)));
    });
    body.replaceChildren(...rows);
  }

  // The round running now: per-combiner progress from the events (clients that delivered),
  // against each combiner's online clients; the REST round row when no event has come yet.
  function renderProgress() {
    const box = $("round-progress");
    const session = selectedSession();
    const running = session && session.status === "Started";
    const openRound = state.rounds.slice().reverse().find(r => !["Finished", "Failed"].includes(r.status));
    const live = state.live && session && state.live.sessionId === session.session_id ? state.live : null;
    if (!running && !(live && !live.done)) {
      const last = state.rounds[state.rounds.length - 1];
      box.replaceChildren(h("p", { class: "empty" }, last ? `no round running · last round ${last.round_number} ${String(last.status).toLowerCase()}` : "no round running"));
      return;
    }
    const roundNumber = live ? live.round : openRound ? openRound.round_number : (state.rounds.length + 1);
    const phase = live ? (live.phase === "validate" ? "validating" : "training") : openRound ? String(openRound.status).toLowerCase() : "starting";
    const participants = state.combiners.filter(c => c.status === "online" && (c.clients_online || 0) > 0);
    let sumGot = 0, sumExpected = 0;
    const rows = participants.map(c => {
      const expected = c.clients_online || 0;
      const got = live ? (live.byCombiner.get(`${live.phase}|${c.name}`) || new Set()).size : 0;
      sumGot += got;
      sumExpected += expected;
      const pct = expected ? Math.min(100, Math.round(100 * got / expected)) : 0;
      return h("div", { class: "progress-row", "data-combiner": c.name },
        h("span", { class: "progress-name" }, c.name),
        h("span", { class: "progress-track", role: "progressbar", "aria-label": `${c.name} progress`, "aria-valuemin": 0, "aria-valuemax": expected, "aria-valuenow": got },
          h("span", { class: "progress-fill", style: `width:${pct}%` })),
        h("span", { class: "progress-count mono" }, `${got} / ${expected}`));
    });
    const overall = live ? `${sumGot} / ${sumExpected} client${sumExpected === 1 ? "" : "s"} ${live.phase === "validate" ? "validated" : "delivered"}` : "";
    box.replaceChildren(
      h("p", { class: "progress-head" }, h("strong", null, `Round ${roundNumber}`), ` · ${phase}`,
        overall ? h("span", { class: "muted" }, ` · ${overall}`) : null,
        live && live.startedAt ? h("span", { class: "muted" }, ` · started ${clockTime(live.startedAt)}`) : null),
      rows.length ? h("div", { class: "progress-rows" }, rows) : h("p", { class: "empty" }, "no combiner with online clients"));
  }

  // ---------------------------------------------------------------- participants

  function renderParticipants() {
    const body = $("participants-body");
    const session = selectedSession();
    if (!session) { body.replaceChildren(h("tr", null, h("td", { colspan: 7, class: "empty" }, "no session"))); setText("participants-summary", ""); return; }
    const people = new Map();
    const person = name => {
      if (!people.has(name)) people.set(name, { name, combiner: null, rounds: new Set(), examples: null, accuracy: null, loss: null, valRound: -1, issues: [] });
      return people.get(name);
    };
    for (const client of state.clients) person(client.name).combiner = client.combiner;
    for (const round of state.rounds) {
      for (const c of round.combiners || []) {
        for (const name of c.clients || []) {
          const p = person(name);
          p.rounds.add(round.round_number);
          if (!p.combiner) p.combiner = c.name;
        }
      }
    }
    for (const v of state.validations) {
      const name = v.sender && v.sender.name;
      if (!name) continue;
      const p = person(name);
      if (v.round_number < p.valRound) continue;
      let metrics = {};
      try { metrics = typeof v.data === "string" ? JSON.parse(v.data) : (v.data || {}); } catch (_) { metrics = {}; }
      p.valRound = v.round_number;
      p.examples = v.num_examples;
      p.accuracy = metrics.accuracy;
      p.loss = metrics.loss;
    }
    for (const s of state.issues) {
      const name = s.sender && s.sender.name;
      if (name) person(name).issues.push(s);
    }
    const finished = finishedRounds().length;
    const all = Array.from(people.values()).sort((a, b) => a.name.localeCompare(b.name, "en", { numeric: true }));
    const rejectedTotal = all.reduce((n, p) => n + p.issues.filter(s => s.type === "MODEL_UPDATE_REJECTED").length, 0);
    setText("participants-summary", `${all.length} client${all.length === 1 ? "" : "s"} · ${rejectedTotal} rejected update${rejectedTotal === 1 ? "" : "s"}`);
    if (!all.length) { body.replaceChildren(h("tr", null, h("td", { colspan: 7, class: "empty" }, "no participants"))); return; }
    const rows = all.slice(0, 1000).map(p => {
      const rejected = p.issues.filter(s => s.type === "MODEL_UPDATE_REJECTED");
      const failed = p.issues.filter(s => s.type !== "MODEL_UPDATE_REJECTED");
      const reasonCell = p.issues.length
        ? h("details", { class: "reasons" },
            h("summary", null, rejected.length ? `${rejected.length} rejected` : "", rejected.length && failed.length ? ", " : "", failed.length ? `${failed.length} failed` : ""),
            h("ul", null, p.issues.slice(0, 20).map(s => h("li", null, h("span", { class: "mono" }, `r${s.round_number ?? "?"}`), " ", s.status.replace(/^update rejected by |^client left out by /, "")))))
        : h("span", { class: "muted" }, "none");
      return h("tr", { "data-participant": p.name },
        h("td", { class: "mono" }, p.name),
        h("td", { class: "mono" }, p.combiner || "—"),
        h("td", { class: "num" }, `${p.rounds.size}`, h("span", { class: "muted" }, ` / ${finished}`)),
        h("td", { class: "num" }, fmtInt(p.examples)),
        h("td", { class: "num" }, fmt4(p.accuracy)),
        h("td", { class: "num" }, fmt4(p.loss)),
        h("td", { class: p.issues.length ? "has-issues" : "" }, reasonCell));
    });
    // Keep open <details> open across refreshes.
    const open = new Set(Array.from(body.querySelectorAll("tr[data-participant] details[open]")).map(d => d.closest("tr").dataset.participant));
    body.replaceChildren(...rows);
    for (const row of body.querySelectorAll("tr[data-participant]")) {
      if (open.has(row.dataset.participant)) { const d = row.querySelector("details"); if (d) d.open = true; }
    }
  }

  // ---------------------------------------------------------------- models

  function downloadURL(model) {
    return `/api/v1/models/${encodeURIComponent(model.model_id)}/download?format=npz`;
  }

  // With a token, a plain link cannot send the Authorization header: fetch the file instead.
  async function onDownload(event) {
    const link = event.target.closest("a[data-download]");
    if (!link || !state.token) return;
    event.preventDefault();
    try {
      const response = await fetch(link.href, { headers: { Authorization: `Bearer ${state.token}` } });
      if (!response.ok) throw new Error(`HTTP ${response.status}`);
      const url = URL.createObjectURL(await response.blob());
      const a = h("a", { href: url, download: link.getAttribute("download") || "model.npz" });
      document.body.appendChild(a);
      a.click();
      a.remove();
      setTimeout(() => URL.revokeObjectURL(url), 10000);
    } catch (error) {
      toast(`Download failed: ${error.message}`, "error");
    }
  }

  function renderModels() {
    const trail = $("model-trail");
    const models = state.models.slice();
    if (state.seedModel && !models.some(m => m.model_id === state.seedModel.model_id)) models.push(state.seedModel);
    const total = (state.modelCount || state.models.length) + (models.length - state.models.length);
    setText("models-summary", state.selectedId ? `${total} model${total === 1 ? "" : "s"}` : "");
    if (!models.length) { trail.replaceChildren(h("li", { class: "empty" }, state.selectedId ? "no models yet" : "no session")); return; }
    const accuracyByModel = new Map();
    for (const r of state.rounds) if (r.model_out) accuracyByModel.set(r.model_out, validationOf(r).accuracy);
    const shown = models;
    const items = shown.map(m => {
      const seed = state.seedModel && m.model_id === state.seedModel.model_id;
      const acc = accuracyByModel.get(m.model_id);
      const fileName = `${(m.name || m.model_id).replace(/[^A-Za-z0-9._-]+/g, "_")}.npz`;
      return h("li", { class: `model${seed ? " model-seed" : ""}`, "data-model": m.model_id },
        h("span", { class: "model-round mono", title: seed ? "seed model" : `round ${m.round_number}` }, seed ? "seed" : `r${m.round_number ?? "?"}`),
        h("span", { class: "model-main" },
          h("span", { class: "model-name" }, m.name || shortId(m.model_id)),
          h("span", { class: "cell-sub mono", title: `${m.model_id} · ${fmtInt(m.parameter_count)} parameters · ${fmtInt(m.size_bytes)} bytes` },
            `${shortId(m.model_id)}${Number.isFinite(acc) ? ` · acc ${fmt4(acc)}` : ` · ${fmtInt(m.parameter_count)} params`}`)),
        h("a", { class: "btn btn-small", href: downloadURL(m), download: fileName, "data-download": "npz",
          "aria-label": `Download ${m.name || m.model_id} as .npz` }, ".npz"));
    });
    if (total > shown.length) items.splice(items.length - (state.seedModel ? 1 : 0), 0, h("li", { class: "empty" }, `… ${total - shown.length} earlier models`));
    trail.replaceChildren(...items);
  }

  // ---------------------------------------------------------------- events

  function eventsURL() {
    const scheme = location.protocol === "https:" ? "wss" : "ws";
    const query = state.token ? `?token=${encodeURIComponent(state.token)}` : "";
    return `${scheme}://${location.host}/ws/events${query}`;
  }

  function connectEvents() {
    clearTimeout(state.wsTimer);
    if (state.authBlocked) { setPill("ws-state", "down", "events: token needed"); return; }
    let ws;
    try {
      ws = new WebSocket(eventsURL());
    } catch (_) {
      scheduleReconnect();
      return;
    }
    state.ws = ws;
    setPill("ws-state", "connecting", "events: connecting");
    ws.addEventListener("open", () => {
      if (state.ws !== ws) return;
      state.wsBackoff = 1000;
      setPill("ws-state", "ok", "events: live");
    });
    ws.addEventListener("message", message => {
      if (state.ws !== ws) return;
      let event;
      try { event = JSON.parse(message.data); } catch (_) { return; }
      if (event && typeof event === "object") onEvent(event);
    });
    ws.addEventListener("close", () => {
      if (state.ws !== ws) return;
      state.ws = null;
      setPill("ws-state", "down", "events: reconnecting");
      scheduleReconnect();
    });
    ws.addEventListener("error", () => { /* "close" follows and reconnects */ });
  }

  function scheduleReconnect() {
    clearTimeout(state.wsTimer);
    const delay = state.wsBackoff;
    state.wsBackoff = Math.min(15000, state.wsBackoff * 2);
    state.wsTimer = setTimeout(connectEvents, delay);
  }

  function reconnectEvents() {
    if (!state.wsWanted) return;
    const old = state.ws;
    state.ws = null;
    if (old) { try { old.close(); } catch (_) { /* closed */ } }
    state.wsBackoff = 1000;
    connectEvents();
  }

  let refreshTimer = null;
  function refreshSoon() {
    clearTimeout(refreshTimer);
    refreshTimer = setTimeout(poll, 150);
  }

  function onEvent(event) {
    const type = event.type;
    switch (type) {
      case "session_started":
        state.live = null;
        if (event.session_id) { state.userSelected = false; selectSession(event.session_id); }
        refreshSoon();
        break;
      case "round_started":
        state.live = {
          sessionId: event.session_id, round: event.round, phase: "train", byCombiner: new Map(),
          total: null, startedAt: event.timestamp, done: false,
        };
        renderProgress();
        refreshSoon();
        break;
      case "client_update": {
        const live = state.live;
        if (live && live.round === event.round) {
          const phase = event.status === "validation_completed" ? "validate" : "train";
          if (phase === "validate" && live.phase === "train") live.phase = "validate";
          const key = `${phase}|${event.combiner}`;
          if (!live.byCombiner.has(key)) live.byCombiner.set(key, new Set());
          live.byCombiner.get(key).add(event.client_id);
          renderProgress();
        }
        break;
      }
      case "training_progress":
        if (state.live && state.live.round === event.round) {
          state.live.phase = event.phase === "validate" ? "validate" : "train";
          state.live.total = { reported: event.clients_reported, expected: event.clients_expected };
          renderProgress();
        }
        break;
      case "round_completed":
        if (state.live && state.live.round === event.round) state.live.done = true;
        refreshSoon();
        break;
      case "session_completed":
        state.live = null;
        refreshSoon();
        break;
      case "combiner_joined":
      case "combiner_left":
        refreshSoon();
        break;
      default:
        break;
    }
    addFeed(event, false);
  }

  function describe(event) {
    const t = event.type;
    const g = event.global_metrics || {};
    switch (t) {
      case "session_started": return `session ${event.experiment_id || shortId(event.session_id)} started (${event.rounds} rounds)`;
      case "round_started": return `round ${event.round} started`;
      case "client_update": return `${event.client_id} ${event.status === "validation_completed" ? "validated" : "delivered an update"} via ${event.combiner} (round ${event.round})`;
      case "training_progress": return `round ${event.round} ${event.phase}: ${event.clients_reported} / ${event.clients_expected} clients`;
      case "round_completed":
        return `round ${event.round} ${String(event.status || "completed").toLowerCase()}: accuracy ${fmt4(g.accuracy)}, loss ${fmt4(g.loss)}, ` +
          `${event.participating_clients} client${event.participating_clients === 1 ? "" : "s"}, ${fmtDuration(event.round_duration)}`;
      case "session_completed": return `session ${event.experiment_id || shortId(event.session_id)} ${String(event.status || "completed").toLowerCase()}`;
      case "combiner_joined": return `combiner ${event.combiner || event.name || ""} joined`;
      case "combiner_left": return `combiner ${event.combiner || event.name || ""} left${event.reason ? ` (${event.reason})` : ""}`;
      case "command": return `command ${event.command_type}`;
      default: {
        const rest = Object.assign({}, event);
        delete rest.type; delete rest.timestamp;
        return JSON.stringify(rest);
      }
    }
  }

  function addFeed(event, history) {
    const item = { event, history };
    if (state.eventsPaused) { state.eventQueue.push(item); if (state.eventQueue.length > MAX_EVENTS) state.eventQueue.shift(); return; }
    renderFeedItem(item);
  }

  function renderFeedItem(item) {
    const feed = $("events-feed");
    const e = item.event;
    const kind = item.history ? "history" : (e.type || "event");
    const li = h("li", { class: `event${item.history ? " event-history" : ""}`, "data-type": e.type || "event" },
      h("time", { datetime: e.timestamp || "" }, clockTime(e.timestamp)),
      h("span", { class: "event-type", "data-kind": kind }, item.history ? (e.statusType || "status") : e.type),
      h("span", { class: "event-text" }, item.history ? e.text : describe(e)));
    feed.insertBefore(li, feed.firstChild);
    while (feed.children.length > MAX_EVENTS) feed.removeChild(feed.lastChild);
  }

  async function loadHistory() {
    try {
      const statuses = await list("/api/v1/statuses/", { "X-Limit": "20", "X-Sort-Key": "committed_at", "X-Sort-Order": "desc" });
      for (const s of statuses.reverse()) {
        renderFeedItem({ history: true, event: { timestamp: s.timestamp || s.committed_at, statusType: s.type, text: `${s.sender && s.sender.name ? s.sender.name + ": " : ""}${s.status}` } });
      }
    } catch (_) { /* shown by the poll */ }
  }

  function setupEventsControls() {
    $("events-pause").addEventListener("change", event => {
      state.eventsPaused = event.target.checked;
      if (!state.eventsPaused) { for (const item of state.eventQueue.splice(0)) renderFeedItem(item); }
    });
    $("events-clear").addEventListener("click", () => { $("events-feed").replaceChildren(); state.eventQueue = []; });
  }

  // ---------------------------------------------------------------- start

  function start() {
    updateTokenButton();
    setupTokenDialog();
    setupEventsControls();
    $("session-form").addEventListener("submit", onCreateAndStart);
    $("stop-session").addEventListener("click", () => control("/api/v1/control/stop"));
    $("skip-barrier").addEventListener("click", () => control("/api/v1/control/skip"));
    $("continue-session").addEventListener("click", onContinue);
    $("model-trail").addEventListener("click", onDownload);
    renderSession();
    poll().then(loadHistory);
    setInterval(poll, POLL_MS);
  }

  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", start); else start();
})();
