// The live session list: one WebSocket per signed-in tab (docs/websocket-client.md) that
// reconnects with capped backoff, drops redelivered event ids, and after every (re)connect
// refetches the list, since events sent while it was away are not queued for it. Each event
// refetches the one session it names, so the list shows the server's state, never a guess.
import { signal } from "@preact/signals";
import { all, api, ApiError } from "./api";
import { config, token } from "./auth";
import type { Session } from "./types";

export type LinkState = "connecting" | "live" | "offline";
export const link = signal<LinkState>("connecting");
export const sessions = signal<Map<string, Session> | null>(null);
export const listError = signal<string | null>(null);
// Listeners for every event (screens that show teams, keys, shares refresh on their events).
const listeners = new Set<(ev: LiveEvent) => void>();
export interface LiveEvent { id: string; type: string; sessionId?: string; teamId?: string; data?: unknown }

export function onEvent(f: (ev: LiveEvent) => void): () => void {
  listeners.add(f);
  return () => listeners.delete(f);
}

const seen = new Set<string>();
let socket: WebSocket | null = null;
let stopped = true;
let backoff = 500;
let ping: ReturnType<typeof setInterval> | undefined;
let retry: ReturnType<typeof setTimeout> | undefined;

export async function resync() {
  try {
    const items = await all<Session>("/sessions?limit=100");
    sessions.value = new Map(items.map((s) => [s.id, s]));
    listError.value = null;
  } catch (e) {
    listError.value = e instanceof ApiError ? e.message : "The sessions could not be loaded.";
  }
}

export function upsert(s: Session) {
  const m = new Map(sessions.value ?? []);
  const old = m.get(s.id);
  if (!old || old.version <= s.version) m.set(s.id, s);
  sessions.value = m;
}

const pending = new Map<string, Promise<void>>();
function refresh(id: string) {
  if (pending.has(id)) return;
  const p = api<Session>("GET", "/sessions/" + id)
    .then((s) => {
      // The list is "my sessions": shared and team sessions of others appear on their own screens.
      if (sessions.value?.has(id) || s.ownerId === mine()) upsert(s);
    })
    .catch((e) => {
      if (e instanceof ApiError && e.status === 404 && sessions.value?.has(id)) {
        const m = new Map(sessions.value);
        m.delete(id);
        sessions.value = m;
      }
    })
    .finally(() => pending.delete(id));
  pending.set(id, p);
}

let me = "";
function mine() { return me; }

export function start(userId: string) {
  me = userId;
  stopped = false;
  connect();
}

export function stop() {
  stopped = true;
  clearInterval(ping);
  clearTimeout(retry);
  if (socket) {
    socket.onclose = null;
    socket.close();
  }
  socket = null;
  sessions.value = null;
  seen.clear();
}

function connect() {
  const base = config.value?.websocketUrl;
  if (stopped || !base || !token.value) return;
  link.value = "connecting";
  const url = new URL(base, location.href);
  url.protocol = url.protocol === "https:" ? "wss:" : url.protocol === "http:" ? "ws:" : url.protocol;
  url.searchParams.set("token", token.value);
  const ws = new WebSocket(url);
  socket = ws;
  ws.onopen = () => {
    backoff = 500;
    link.value = "live";
    ping = setInterval(() => ws.send(JSON.stringify({ action: "ping" })), 5 * 60 * 1000);
    void resync(); // anything that changed while we were away
  };
  ws.onmessage = (m) => {
    let ev: LiveEvent;
    try {
      ev = JSON.parse(m.data);
    } catch {
      return;
    }
    if (!ev.id || seen.has(ev.id)) return; // pong, subscribed, or a redelivery
    seen.add(ev.id);
    if (seen.size > 5000) seen.delete(seen.values().next().value!);
    if (ev.sessionId) refresh(ev.sessionId);
    for (const f of listeners) f(ev);
  };
  ws.onclose = () => {
    clearInterval(ping);
    if (socket !== ws || stopped) return;
    link.value = "offline";
    retry = setTimeout(connect, backoff);
    backoff = Math.min(backoff * 2, 30000) * (0.8 + Math.random() * 0.4);
  };
}
