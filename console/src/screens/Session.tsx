import { useEffect, useState } from "preact/hooks";
import { api } from "../api";
import { me } from "../auth";
import { templateLabel } from "../catalog";
import { onEvent, sessions, upsert } from "../live";
import type { Session, SessionAccess, SessionWithAccess } from "../types";
import { ErrorText, Loading, Page, StateBadge, fmtTime, useAction, useLoad } from "../ui";
import { Desktop } from "./Desktop";
import { LifecycleButtons } from "./Sessions";
import { Sharing } from "./Sharing";
import { Activity } from "./Activity";

// One session: its state (live), the desktop, tags, sharing and activity.
export function SessionPage({ id }: { id: string }) {
  const l = useLoad(() => api<SessionWithAccess>("GET", "/sessions/" + id), [id]);
  const fromList = sessions.value?.get(id);
  // Sessions not in "my sessions" (shared with me, a team's) refresh on their own events.
  useEffect(() => onEvent((ev) => { if (ev.sessionId === id && !sessions.value?.has(id)) l.reload(); }), [id]);
  const s = fromList && (!l.data || fromList.version >= l.data.version) ? fromList : l.data;
  const autoOpen = new URLSearchParams(location.search).get("open") === "1";
  if (!s) return <Page title="Session">{l.error ? <ErrorText error={l.error} /> : <Loading what="the session" />}</Page>;
  // What the caller may do, as the API said when the page loaded it.
  const may = l.data?.yourAccess;
  const manage = may ? may.manage : s.ownerId === me.value?.id || me.value?.role === "admin";
  // A change answered by the API is the session without the access, which did not change.
  const changed = (x: Session) => l.set({ ...x, yourAccess: may } as SessionWithAccess);
  return (
    <Page title={templateLabel(s.templateName)}>
      <dl class="facts" data-session={s.id} data-state={s.state}>
        <div><dt>State</dt><dd><StateBadge state={s.state} idle={s.idle} />{s.error && <span class="sub"> {s.error}</span>}</dd></div>
        <div><dt>Owner</dt><dd>{s.ownerId}{s.teamId && <> · <a href={"/teams/" + s.teamId}>team</a></>}</dd></div>
        <div><dt>Resources</dt><dd>{s.resources.cpu} CPU · {s.resources.memory}</dd></div>
        <div><dt>Viewers</dt><dd>{s.activeConnections}</dd></div>
        <div><dt>Last activity</dt><dd>{fmtTime(s.lastActivity)}</dd></div>
        <div><dt>Id</dt><dd class="mono">{s.id}</dd></div>
      </dl>
      {may && may.level !== "control" && <p class="sub">You have {may.level} access to this session{may.via === "share" ? " (shared with you)" : ""}.</p>}
      <LifecycleButtons s={s} onChange={changed} open={false} may={may} />
      <Desktop s={s} autoOpen={autoOpen} />
      <Tags s={s} may={may} onChange={(x) => { upsert(x); changed(x); }} />
      {manage && <Sharing s={s} />}
      <Activity s={s} />
    </Page>
  );
}

function Tags({ s, may, onChange }: { s: Session; may?: SessionAccess; onChange: (s: Session) => void }) {
  const [add, setAdd] = useState("");
  const a = useAction();
  const put = (tags: string[]) => a.run(async () => {
    try {
      onChange(await api<Session>("PUT", `/sessions/${s.id}/tags`, { tags }, { ifMatch: s.version }));
      setAdd("");
    } catch (e) {
      onChange(await api<Session>("GET", "/sessions/" + s.id));
      throw e;
    }
  });
  if (s.state === "terminated") return null;
  const edit = !may || may.level === "control";
  return (
    <section aria-labelledby="tags-title">
      <h2 id="tags-title">Tags</h2>
      <ul class="tags">
        {s.tags.length === 0 && <li class="sub">No tags.</li>}
        {s.tags.map((t) => (
          <li key={t} class="tag">{t} {edit && <button type="button" class="link-button" aria-label={"Remove tag " + t} onClick={() => put(s.tags.filter((x) => x !== t))}>×</button>}</li>
        ))}
      </ul>
      {edit && <form class="inline" onSubmit={(e) => {
        e.preventDefault();
        const t = add.trim();
        if (s.tags.includes(t)) a.setError(`The session already has the tag "${t}".`);
        else if (t) void put([...s.tags, t]);
      }}>
        <label for="tag-add">Add a tag</label>
        <input id="tag-add" value={add} maxLength={128} onInput={(e) => setAdd(e.currentTarget.value)} />
        <button type="submit" disabled={a.busy}>Add</button>
      </form>}
      <ErrorText error={a.error} />
    </section>
  );
}
