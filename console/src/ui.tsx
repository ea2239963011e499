// Shared pieces of every screen: loading, empty and error states, and small formatters.
import type { ComponentChildren } from "preact";
import { useCallback, useEffect, useRef, useState } from "preact/hooks";
import { message } from "./api";

export interface Loaded<T> { data: T | undefined; error: string | null; loading: boolean; reload: () => void; set: (t: T) => void }

// useLoad runs fn when deps change and keeps its result, error (in words) and loading flag.
export function useLoad<T>(fn: () => Promise<T>, deps: unknown[]): Loaded<T> {
  const [data, set] = useState<T | undefined>(undefined);
  const [error, setError] = useState<string | null>(null);
  const [loading, setLoading] = useState(true);
  const gen = useRef(0);
  const reload = useCallback(() => {
    const g = ++gen.current;
    setLoading(true);
    fn().then(
      (d) => { if (g === gen.current) { set(() => d); setError(null); setLoading(false); } },
      (e) => { if (g === gen.current) { setError(message(e)); setLoading(false); } },
    );
    // eslint-disable-next-line
  }, deps);
  useEffect(reload, [reload]);
  return { data, error, loading, reload, set: (d: T) => set(() => d) };
}

// useAction runs a user's action, keeping its error in words and a busy flag for the buttons.
export function useAction() {
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<string | null>(null);
  const run = useCallback(async <T,>(fn: () => Promise<T>): Promise<T | undefined> => {
    setBusy(true);
    setError(null);
    try {
      return await fn();
    } catch (e) {
      setError(message(e));
      return undefined;
    } finally {
      setBusy(false);
    }
  }, []);
  return { busy, error, run, setError };
}

export function Loading({ what }: { what: string }) {
  return <p class="loading" role="status">Loading {what}…</p>;
}

export function Empty({ children }: { children: ComponentChildren }) {
  return <p class="empty">{children}</p>;
}

export function ErrorText({ error }: { error: string | null | undefined }) {
  if (!error) return null;
  return <p class="error" role="alert">{error}</p>;
}

// Section: a loaded list with its three other states in one place.
export function Section<T>({ l, what, empty, children }: {
  l: Loaded<T[]>; what: string; empty: ComponentChildren; children: (items: T[]) => ComponentChildren;
}) {
  if (l.error) return <ErrorText error={l.error} />;
  if (!l.data) return <Loading what={what} />;
  if (l.data.length === 0) return <Empty>{empty}</Empty>;
  return <>{children(l.data)}</>;
}

export function Page({ title, children, actions }: { title: string; children: ComponentChildren; actions?: ComponentChildren }) {
  useEffect(() => { document.title = title + " – StreamSpace"; }, [title]);
  return (
    <>
      <div class="page-head">
        <h1 tabIndex={-1} id="page-title">{title}</h1>
        {actions}
      </div>
      {children}
    </>
  );
}

export function StateBadge({ state, idle }: { state: string; idle?: boolean }) {
  return <span class={"badge state-" + state}>{state}{idle && state === "running" ? " · idle" : ""}</span>;
}

export function Gauge({ label, value, max, unit = "" }: { label: string; value: number; max: number; unit?: string }) {
  const id = "g-" + label.replace(/\W+/g, "-").toLowerCase();
  return (
    <div class="gauge">
      <label for={id}>{label}</label>
      <meter id={id} min={0} max={max || 1} value={value} high={max * 0.8} optimum={0}>{value} of {max}</meter>
      <span class="gauge-text">{fmtNum(value)} of {fmtNum(max)}{unit}</span>
    </div>
  );
}

export function fmtNum(n: number): string {
  return Number.isInteger(n) ? String(n) : n.toFixed(1);
}

export function fmtTime(t?: string): string {
  if (!t) return "—";
  const d = new Date(t);
  return isNaN(d.getTime()) ? "—" : d.toLocaleString(undefined, { dateStyle: "medium", timeStyle: "short" });
}

export function fmtBytes(n?: number): string {
  if (!n) return "—";
  const u = ["B", "KB", "MB", "GB"];
  let i = 0;
  while (n >= 1024 && i < u.length - 1) { n /= 1024; i++; }
  return `${n.toFixed(i ? 1 : 0)} ${u[i]}`;
}

// cpuMillis/memMiB read the API's resource strings ("500m", "2", "2Gi", "512Mi").
export function cpuMillis(s: string): number {
  return s.endsWith("m") ? parseInt(s) : Math.round(parseFloat(s) * 1000);
}
export function memMiB(s: string): number {
  return s.endsWith("Gi") ? parseInt(s) * 1024 : parseInt(s);
}

export async function copy(text: string): Promise<boolean> {
  try {
    await navigator.clipboard.writeText(text);
    return true;
  } catch {
    return false;
  }
}
