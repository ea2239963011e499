// Who is signed in. The token lives in this browser's localStorage only: it reaches the page in
// the body of a same-origin POST (local sign-in) or a token exchange (OIDC), never in a URL.
import { computed, signal } from "@preact/signals";

export type Role = "user" | "operator" | "admin";
export interface Me { id: string; role: Role; email?: string; name?: string }
// config.json: internal/local/console's Config (locally), the stack's ConsoleConfig output (AWS).
export interface OidcConfig { authority: string; clientId: string; scope: string; logoutUrl?: string }
export interface Config {
  signIn: "local" | "oidc";
  websocketUrl: string;
  oidc?: OidcConfig;
}

const KEY = "streamspace.token";
export const token = signal<string | null>(valid(localStorage.getItem(KEY)));
export const me = signal<Me | null>(null);
export const config = signal<Config | null>(null);
export const isStaff = computed(() => me.value?.role === "admin" || me.value?.role === "operator");

// valid drops a stored token that has expired (its exp claim), so the page asks to sign in
// instead of failing every call.
function valid(t: string | null): string | null {
  if (!t) return null;
  try {
    const exp = JSON.parse(atob(t.split(".")[1].replace(/-/g, "+").replace(/_/g, "/"))).exp;
    return typeof exp === "number" && exp * 1000 > Date.now() + 30_000 ? t : null;
  } catch {
    return null;
  }
}

export function setToken(t: string | null) {
  if (t) localStorage.setItem(KEY, t);
  else localStorage.removeItem(KEY);
  token.value = t;
  if (!t) me.value = null;
}

export async function loadConfig(): Promise<Config> {
  const r = await fetch("/config.json", { cache: "no-store" });
  if (!r.ok) throw new Error("The console's configuration could not be loaded.");
  config.value = (await r.json()) as Config;
  return config.value;
}

// localSignIn asks the local stack's issuer for a token (make run only; no such endpoint in AWS).
export async function localSignIn(user: string, role: Role): Promise<void> {
  const r = await fetch("/local/token", {
    method: "POST",
    headers: { "Content-Type": "application/json" },
    body: JSON.stringify({ user, role }),
  });
  const body = await r.json().catch(() => ({}));
  if (!r.ok) throw new Error(body.detail || body.title || "Sign-in failed.");
  setToken(body.token);
}
