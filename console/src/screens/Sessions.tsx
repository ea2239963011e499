import { useEffect } from "preact/hooks";
import { signal } from "@preact/signals";
import { api, message } from "../api";
import { templateLabel } from "../catalog";
import { listError, sessions, upsert } from "../live";
import type { Session, SessionAccess, UserQuota } from "../types";
import { Empty, ErrorText, Gauge, Loading, Page, StateBadge, fmtTime, useAction } from "../ui";

export const live = (s: Session) => s.state !== "terminated" && s.state !== "failed";

// A session that failed in the last 15 minutes stays with the current ones, its reason shown,
// so a launch that fails does not seem to vanish into "Ended sessions".
const recentFailure = (s: Session) => s.state === "failed" && Date.now() - Date.parse(s.updatedAt) < 15 * 60 * 1000;

// The caller's quota as the API reports it (GET /users/me/quota): limits, live usage, and
// whether the account waits for a role grant. Fetched again whenever the caller's own live
// sessions change (an event on the live list), so the gauges follow launches and terminations.
export const myQuota = signal<UserQuota | null>(null);
export const quotaError = signal<string | null>(null);

export function useMyQuota(list: Session[]) {
  const mine = list.filter((s) => live(s) && !s.teamId).map((s) => `${s.id}:${s.state}:${s.resources.cpu}:${s.resources.memory}`).sort().join();
  useEffect(() => {
    let stale = false;
    api<UserQuota>("GET", "/users/me/quota").then(
      (q) => { if (!stale) { myQuota.value = q; quotaError.value = null; } },
      (e) => { if (!stale) quotaError.value = message(e); });
    return () => { stale = true; };
  }, [mine]);
  return myQuota.value;
}

// The caller's own quota gauges (teams have their own).
export function MyQuota({ list }: { list: Session[] }) {
  const q = useMyQuota(list);
  if (quotaError.value && !q) return <ErrorText error={quotaError.value} />;
  if (!q) return <Loading what="your quota" />;
  return (
    <section class="quota" aria-label="Your quota">
      <Gauge label="Sessions" value={q.usage.liveSessions} max={q.maxSessions} />
      <Gauge label="CPU" value={q.usage.cpuMillis / 1000} max={q.maxCpuMillis / 1000} unit=" cores" />
      <Gauge label="Memory" value={q.usage.memoryMiB / 1024} max={q.maxMemoryMiB / 1024} unit=" GiB" />
    </section>
  );
}

export function Sessions() {
  const m = sessions.value;
  const list = m ? [...m.values()].sort((a, b) => b.createdAt.localeCompare(a.createdAt)) : null;
  const current = list?.filter((s) => live(s) || recentFailure(s)) ?? [];
  const ended = list?.filter((s) => !live(s) && !recentFailure(s)).slice(0, 20) ?? [];
  return (
    <Page title="My sessions" actions={<a class="button" href="/launch">Launch a session</a>}>
      {listError.value && <ErrorText error={listError.value} />}
      {!list ? <Loading what="your sessions" /> : (
        <>
          <MyQuota list={list} />
          {current.length === 0 ? <Empty>No sessions yet. <a href="/launch">Launch one</a> from the catalog.</Empty> : <SessionTable list={current} />}
          {ended.length > 0 && (
            <details class="ended">
              <summary>Ended sessions ({ended.length})</summary>
              <SessionTable list={ended} />
            </details>
          )}
        </>
      )}
    </Page>
  );
}

export function SessionTable({ list, actions = true }: { list: Session[]; actions?: boolean }) {
  return (
    <table class="sessions">
      <caption class="sr-only">Sessions</caption>
      <thead><tr><th scope="col">Session</th><th scope="col">State</th><th scope="col">Tags</th><th scope="col">Started</th>{actions && <th scope="col"><span class="sr-only">Actions</span></th>}</tr></thead>
      <tbody>
        {list.map((s) => (
          <tr key={s.id} data-session={s.id} data-state={s.state}>
            <td><a href={"/sessions/" + s.id}>{templateLabel(s.templateName)}</a><div class="sub">{s.id}{s.teamId ? " · team" : ""}</div></td>
            <td><StateBadge state={s.state} idle={s.idle} />{s.error && <div class="sub">{s.error}</div>}</td>
            <td>{s.tags.length ? s.tags.map((t) => <span class="tag" key={t}>{t}</span>) : <span class="sub">none</span>}</td>
            <td>{fmtTime(s.createdAt)}</td>
            {actions && <td><LifecycleButtons s={s} /></td>}
          </tr>
        ))}
      </tbody>
    </table>
  );
}

// LifecycleButtons change the desired state with If-Match on the version shown; a 412 means
// someone changed it meanwhile, and the list is refreshed before the message is shown. Given
// the caller's access, only the buttons that will work are shown (hibernate and wake need
// control, terminate the owner's right).
export function LifecycleButtons({ s, onChange, open = true, may }: { s: Session; onChange?: (s: Session) => void; open?: boolean; may?: SessionAccess }) {
  const a = useAction();
  const set = (desiredState: string) => a.run(async () => {
    try {
      const out = await api<Session>("PATCH", "/sessions/" + s.id, { desiredState }, { ifMatch: s.version });
      upsert(out);
      onChange?.(out);
    } catch (e) {
      const fresh = await api<Session>("GET", "/sessions/" + s.id).catch(() => null);
      if (fresh) { upsert(fresh); onChange?.(fresh); }
      throw e;
    }
  });
  const label = s.templateName + " " + s.id;
  if (!live(s)) return null;
  const control = !may || may.level === "control";
  const terminate = !may || may.delete;
  return (
    <div class="row-actions">
      {open && s.state === "running" && <a class="button" href={`/sessions/${s.id}?open=1`} aria-label={"Open " + label}>Open</a>}
      {control && s.desiredState === "running" && s.state !== "pending" && <button type="button" class="secondary" disabled={a.busy} onClick={() => set("hibernated")} aria-label={"Hibernate " + label}>Hibernate</button>}
      {control && s.desiredState === "hibernated" && <button type="button" class="secondary" disabled={a.busy} onClick={() => set("running")} aria-label={"Wake " + label}>Wake</button>}
      {terminate && <button type="button" class="danger" disabled={a.busy} onClick={() => { if (confirm(`Terminate ${s.templateName}? Its processes stop for good.`)) void set("terminated"); }} aria-label={"Terminate " + label}>Terminate</button>}
      <ErrorText error={a.error} />
    </div>
  );
}
