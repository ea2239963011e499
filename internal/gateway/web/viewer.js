// The desktop viewer: takes the single-use ticket from the address's fragment (which browsers
// never send to a server), removes it from the address bar, and hands it to the gateway in the
// WebSocket handshake. What the gateway says when it closes the stream is shown in words.
import RFB from "./novnc/core/rfb.js";

const status = document.getElementById("status");
const levelLabel = document.getElementById("level");
const screen = document.getElementById("screen");
const fullscreen = document.getElementById("fullscreen");

// Inside the console (which frames this page from the same origin) the console shows the
// status and the full-screen button itself; the viewer's own bar would say everything twice.
if (window.self !== window.top) document.body.classList.add("embedded");

// Test and embedding hook: the page's state in one place.
const state = (window.streamspace = { state: "starting", code: 0, reason: "" });

function show(s, text, code = 0, reason = "") {
  Object.assign(state, { state: s, code, reason });
  document.body.dataset.state = s;
  status.textContent = text;
  if (s === "closed" || s === "refused") fullscreen.hidden = true;
}

const messages = {
  4401: "This link is not valid.",
  4402: "This link has expired.",
  4403: "Your access to this session ended.",
  4404: "The session is not running.",
  4409: "This link was used already.",
  4502: "The desktop did not answer.",
  4503: "Access could not be verified.",
  4001: "The gateway restarted.",
};

function level(ticket) {
  try {
    const body = ticket.split(".")[2].replace(/-/g, "+").replace(/_/g, "/");
    return JSON.parse(atob(body)).lvl || "view";
  } catch {
    return "view";
  }
}

const params = new URLSearchParams(location.hash.slice(1));
const ticket = params.get("ticket");
history.replaceState(null, "", location.pathname + location.search);

if (!ticket) {
  show("refused", "Open this session from StreamSpace to get a link: links work once, for 60 seconds.");
} else {
  const lvl = level(ticket);
  levelLabel.textContent = lvl === "view" ? "View only" : lvl === "control" ? "Full control" : "Collaborating";
  const session = location.pathname.split("/").pop();
  const url = new URL("../ws/" + encodeURIComponent(session), location.href);
  url.protocol = url.protocol === "https:" ? "wss:" : "ws:";
  const ws = new WebSocket(url, ["binary", "streamspace.ticket." + ticket]);
  ws.addEventListener("close", (e) => {
    if (state.state === "closed" || state.state === "refused") return;
    // The gateway's reason says what happened in words; the code's message is the fallback.
    let text = e.reason ? e.reason[0].toUpperCase() + e.reason.slice(1) : messages[e.code] || "The stream ended";
    if (!/[.!?]$/.test(text)) text += ".";
    show(state.state === "connected" ? "closed" : "refused", text + " Open the session again from StreamSpace to reconnect.", e.code, e.reason);
  });
  const rfb = new RFB(screen, ws, { shared: true });
  state.rfb = rfb; // for embedding pages (and tests that play a tampered client)
  rfb.viewOnly = lvl === "view";
  rfb.scaleViewport = true;
  rfb.resizeSession = false;
  rfb.addEventListener("connect", () => {
    show("connected", "Connected");
    fullscreen.hidden = !document.fullscreenEnabled;
    if (!rfb.viewOnly) rfb.focus();
  });
  rfb.addEventListener("desktopname", (e) => { document.title = e.detail.name + " – StreamSpace"; });
  fullscreen.addEventListener("click", () => document.documentElement.requestFullscreen());
}
