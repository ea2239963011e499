import { useEffect, useRef, useState } from "preact/hooks";
import { api } from "../api";
import type { Connection, Session } from "../types";
import { ErrorText, useAction } from "../ui";

type ViewerState = "idle" | "opening" | "connected" | "ended";
interface ViewerHook { state: string; code: number; reason: string }

const levelWords = { view: "View only: your keys and clicks do not reach the desktop.", collaborate: "Collaborating: you can type and click.", control: "Full control." };

// The desktop in the page: the gateway's own viewer page (noVNC, loaded only now, never part of
// the console's bundle) in a same-origin frame, opened with a single-use ticketed URL from
// connect. The frame's state is read from the page's hook (window.streamspace), so when the
// gateway ends the stream the console says so in words.
export function Desktop({ s, autoOpen }: { s: Session; autoOpen: boolean }) {
  const [conn, setConn] = useState<Connection | null>(null);
  const [state, setState] = useState<ViewerState>("idle");
  const [ended, setEnded] = useState("");
  const frame = useRef<HTMLIFrameElement>(null);
  const a = useAction();
  const open = () => a.run(async () => {
    setEnded("");
    setState("opening");
    try {
      setConn(await api<Connection>("POST", `/sessions/${s.id}/connect`));
    } catch (e) {
      setState("idle");
      throw e;
    }
  });
  useEffect(() => { if (autoOpen && s.state === "running" && state === "idle") void open(); }, [autoOpen, s.state]);
  useEffect(() => {
    if (!conn) return;
    const t = setInterval(() => {
      const hook = (frame.current?.contentWindow as (Window & { streamspace?: ViewerHook }) | null)?.streamspace;
      if (!hook) return;
      if (hook.state === "connected") setState("connected");
      if (hook.state === "closed" || hook.state === "refused") {
        const text = frame.current?.contentDocument?.getElementById("status")?.textContent ?? "";
        setEnded(endedWords(hook.code, text));
        setState("ended");
        setConn(null);
      }
    }, 200);
    return () => clearInterval(t);
  }, [conn]);
  const close = () => {
    if (conn) void api("POST", `/sessions/${s.id}/disconnect`, { connectionId: conn.connectionId }).catch(() => undefined);
    setConn(null);
    setState("idle");
  };
  return (
    <section class="desktop" aria-labelledby="desktop-title" data-viewer={state}>
      <div class="section-head">
        <h2 id="desktop-title">Desktop</h2>
        <div class="buttons">
          {!conn && <button type="button" onClick={open} disabled={a.busy || s.state !== "running"}>{state === "ended" ? "Open again" : "Open desktop"}</button>}
          {conn && <button type="button" class="secondary" onClick={() => frame.current?.requestFullscreen?.()}>Full screen</button>}
          {conn && <button type="button" class="secondary" onClick={close}>Close desktop</button>}
        </div>
      </div>
      {s.state !== "running" && !conn && state !== "ended" && <p class="hint">The desktop opens once the session is running (now {s.state}).</p>}
      <ErrorText error={a.error} />
      {state === "ended" && <p class="ended-banner" role="alert"><strong>Access ended.</strong> {ended}</p>}
      {conn && (<>
        <p class="hint" role="status">{state === "connected" ? "Connected. " : "Connecting… "}{levelWords[conn.permissionLevel]}</p>
        <iframe ref={frame} class="viewer" src={conn.url} title={`Remote desktop of ${s.templateName}`} allow="fullscreen; clipboard-read; clipboard-write" referrerpolicy="no-referrer" />
      </>)}
    </section>
  );
}

function endedWords(code: number, text: string): string {
  const byCode: Record<number, string> = {
    4403: "Your access to this session ended.", 4404: "The session is not running any more.", 4409: "The connection was ended.",
    4402: "The link expired before the desktop opened.", 4502: "The desktop stopped answering.", 4503: "Access could not be verified.", 4001: "The gateway restarted.",
  };
  const t = text.replace(/\s*Open the session again from StreamSpace to reconnect\.?/, "").trim();
  return (t || byCode[code] || "The stream ended.") + " Open the desktop again to reconnect.";
}
