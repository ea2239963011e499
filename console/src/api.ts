// The one way screens call the API: the caller's token, JSON in and out, and errors turned into
// sentences (RFC 9457 problem details), never a stack trace or raw JSON on screen.
import { setToken, token } from "./auth";

export class ApiError extends Error {
  constructor(message: string, readonly status: number, readonly fields: Record<string, string> = {}) {
    super(message);
  }
}

interface Problem { title?: string; detail?: string; status?: number; errors?: { field: string; detail: string }[] }

export interface CallOptions { ifMatch?: number; idempotencyKey?: string; signal?: AbortSignal }

const statusWords: Record<number, string> = {
  401: "Your sign-in has expired. Sign in again.",
  403: "You are not allowed to do that.",
  404: "It does not exist, or you cannot see it.",
  409: "That conflicts with the current state. Refresh and try again.",
  410: "That is no longer available.",
  412: "Someone changed this in the meantime. The latest version is shown; try again.",
  413: "That is too large.",
  429: "Too many requests. Wait a moment and try again.",
};

export async function api<T = unknown>(method: string, path: string, body?: unknown, o: CallOptions = {}): Promise<T> {
  const headers: Record<string, string> = { Accept: "application/json" };
  if (token.value) headers.Authorization = "Bearer " + token.value;
  if (body !== undefined) headers["Content-Type"] = "application/json";
  if (o.ifMatch !== undefined) headers["If-Match"] = `"${o.ifMatch}"`;
  if (o.idempotencyKey) headers["Idempotency-Key"] = o.idempotencyKey;
  let r: Response;
  try {
    r = await fetch("/api/v1" + path, { method, headers, body: body === undefined ? undefined : JSON.stringify(body), signal: o.signal });
  } catch (e) {
    if ((e as Error).name === "AbortError") throw e;
    throw new ApiError("StreamSpace cannot be reached. Check your connection and try again.", 0);
  }
  if (r.status === 204) return undefined as T;
  const text = await r.text();
  let data: unknown = undefined;
  try {
    data = text ? JSON.parse(text) : undefined;
  } catch {
    /* not JSON: described by the status below */
  }
  if (r.ok) return data as T;
  if (r.status === 401) setToken(null);
  throw problemError(r.status, data as Problem | undefined, r.headers.get("Retry-After"));
}

// The words the forms use for the API's fields, so a refusal names what the person typed.
const fieldWords: Record<string, string> = {
  "resources.cpu": "CPU", "resources.memory": "Memory", resources: "Resources", cpu: "CPU", memory: "Memory",
  sharedWithUserId: "User", userId: "User", newOwnerUserId: "New owner", permissionLevel: "Level",
  expiresIn: "Valid for", expiresAt: "Expiry", maxUses: "Uses", rateLimit: "Requests per hour", scopes: "Scopes",
  idleTimeout: "Idle timeout", maxSessionDuration: "Maximum duration", templateName: "Template", teamId: "Team",
  displayName: "Display name", name: "Name", description: "Description", category: "Category", image: "Image",
  localCommand: "Local command", tags: "Tags", role: "Role", maxSessions: "Sessions", maxCpuMillis: "CPU", maxMemoryMiB: "Memory",
};

function problemError(status: number, p: Problem | undefined, retryAfter: string | null): ApiError {
  const fields: Record<string, string> = {};
  for (const f of p?.errors ?? []) fields[f.field] = f.detail;
  const list = Object.entries(fields).map(([f, d]) => `${fieldWords[f] ?? f}: ${d}`);
  // A 412's detail speaks of versions; the person needs to know someone else changed it first.
  // Field errors say it all (the detail repeats them with the API's names).
  let msg = list.length ? list.join("; ")
    : status !== 412 && typeof p?.detail === "string" && p.detail ? p.detail : statusWords[status] ?? (typeof p?.title === "string" ? p.title : "");
  if (!msg) msg = status >= 500 ? "StreamSpace had a problem. Try again in a moment." : "The request was refused.";
  msg = sentence(msg);
  if (status === 429 && retryAfter) msg += ` Retry in ${retryAfter} s.`;
  return new ApiError(msg, status, fields);
}

// sentence capitalises a message and ends it with a stop (the API's messages never begin with
// an id; field names are replaced by the form's words above).
function sentence(s: string): string {
  s = s.trim();
  s = s.charAt(0).toUpperCase() + s.slice(1);
  return /[.!?]$/.test(s) ? s : s + ".";
}

export function message(e: unknown): string {
  if (e instanceof ApiError) return e.message;
  if (e instanceof Error && e.message && !/^[A-Z][a-zA-Z]*Error\b/.test(e.message)) return sentence(e.message);
  return "Something went wrong. Try again.";
}

export interface Page<T> { items: T[]; nextCursor: string }

// all follows cursors (up to a bound) for screens that show a whole, small list.
export async function all<T>(path: string, max = 10): Promise<T[]> {
  const out: T[] = [];
  let cursor = "";
  for (let i = 0; i < max; i++) {
    const sep = path.includes("?") ? "&" : "?";
    const p = await api<Page<T>>("GET", path + (cursor ? `${sep}cursor=${encodeURIComponent(cursor)}` : ""));
    out.push(...p.items);
    if (!p.nextCursor) break;
    cursor = p.nextCursor;
  }
  return out;
}

export function newKey(): string {
  return crypto.randomUUID();
}
