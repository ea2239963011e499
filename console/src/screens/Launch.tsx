import { useEffect, useMemo, useRef, useState } from "preact/hooks";
import { all, api, newKey } from "../api";
import { sessions, upsert } from "../live";
import { navigate } from "../router";
import type { Session, Team, Template } from "../types";
import { Empty, ErrorText, Loading, Page, useAction, useLoad } from "../ui";
import { MyQuota, myQuota } from "./Sessions";
import { teamLabel } from "./Teams";

// The catalog: search, categories and tags, then launch with resources and timeouts.
export function Launch() {
  const l = useLoad(() => all<Template>("/templates?limit=100"), []);
  const teams = useLoad(() => all<Team>("/teams/my-teams?limit=100"), []);
  const [q, setQ] = useState("");
  const [cat, setCat] = useState("");
  const [tag, setTag] = useState("");
  const [chosen, setChosen] = useState<Template | null>(null);
  const cats = useMemo(() => [...new Set((l.data ?? []).map((t) => t.category))].sort(), [l.data]);
  const tags = useMemo(() => [...new Set((l.data ?? []).flatMap((t) => t.tags))].sort(), [l.data]);
  const needle = q.trim().toLowerCase();
  const shown = (l.data ?? []).filter((t) =>
    (!cat || t.category === cat) && (!tag || t.tags.includes(tag)) &&
    (!needle || [t.name, t.displayName, t.description, ...t.tags].some((s) => s.toLowerCase().includes(needle))));
  const list = sessions.value ? [...sessions.value.values()] : [];
  const quota = myQuota.value;
  const waiting = !!quota?.awaitingRoleGrant;
  const full = !!quota && !waiting && quota.usage.liveSessions >= quota.maxSessions;
  return (
    <Page title="Launch a session">
      <MyQuota list={list} />
      {waiting && <p class="warn" role="status">Your account waits for an administrator to grant it a role; until then it can run no sessions of its own. Team sessions are not affected.</p>}
      {full && <p class="warn" role="status">You are using all {quota.maxSessions} of your sessions. Terminate one before launching another (a session you launch for a team counts against your quota and the team's).</p>}
      <div class="filters" role="search">
        <label for="q">Search</label>
        <input id="q" type="search" value={q} onInput={(e) => setQ(e.currentTarget.value)} placeholder="Name, description or tag" />
        <label for="cat">Category</label>
        <select id="cat" value={cat} onChange={(e) => setCat(e.currentTarget.value)}>
          <option value="">All categories</option>
          {cats.map((c) => <option key={c} value={c}>{c}</option>)}
        </select>
        <label for="tag">Tag</label>
        <select id="tag" value={tag} onChange={(e) => setTag(e.currentTarget.value)}>
          <option value="">All tags</option>
          {tags.map((c) => <option key={c} value={c}>{c}</option>)}
        </select>
      </div>
      {l.error ? <ErrorText error={l.error} /> : !l.data ? <Loading what="the catalog" /> : shown.length === 0 ? <Empty>No template matches. Clear the search or pick another category.</Empty> : (
        <ul class="catalog">
          {shown.map((t) => (
            <li key={t.name} class="card" data-template={t.name}>
              <h2>{t.displayName}</h2>
              <p class="sub">{t.category} · {t.defaultResources.cpu} CPU · {t.defaultResources.memory}</p>
              <p>{t.description}</p>
              <p>{t.tags.map((x) => <span class="tag" key={x}>{x}</span>)}</p>
              <button type="button" onClick={() => setChosen(t)} aria-label={"Launch " + t.displayName}>Launch…</button>
            </li>
          ))}
        </ul>
      )}
      {chosen && <LaunchForm t={chosen} teams={(teams.data ?? []).filter((x) => x.permissions?.includes("team.sessions.create"))} onClose={() => setChosen(null)} />}
    </Page>
  );
}

function LaunchForm({ t, teams, onClose }: { t: Template; teams: Team[]; onClose: () => void }) {
  const [cpu, setCpu] = useState(t.defaultResources.cpu);
  const [memory, setMemory] = useState(t.defaultResources.memory);
  const [idle, setIdle] = useState(30);
  const [max, setMax] = useState(8);
  const [tags, setTags] = useState("");
  const [team, setTeam] = useState("");
  const [key] = useState(newKey);
  const a = useAction();
  // A modal dialog: focus moves in and stays there, Escape closes it, and focus returns to the
  // card's button that opened it.
  const ref = useRef<HTMLDialogElement>(null);
  useEffect(() => {
    const opener = document.activeElement as HTMLElement | null;
    const d = ref.current;
    if (d && !d.open) d.showModal();
    return () => { if (d?.open) d.close(); opener?.focus(); };
  }, []);
  const submit = (e: Event) => {
    e.preventDefault();
    void a.run(async () => {
      const body: Record<string, unknown> = {
        templateName: t.name, resources: { cpu, memory }, idleTimeout: idle * 60, maxSessionDuration: Math.round(max * 3600),
        tags: tags.split(",").map((s) => s.trim()).filter(Boolean),
      };
      if (team) body.teamId = team;
      const s = await api<Session>("POST", "/sessions", body, { idempotencyKey: key });
      upsert(s);
      navigate("/");
    });
  };
  return (
    <dialog ref={ref} class="dialog" aria-labelledby="launch-title" onCancel={(e) => { e.preventDefault(); onClose(); }}>
      <form onSubmit={submit}>
        <h2 id="launch-title">Launch {t.displayName}</h2>
        <div class="grid2">
          <div><label for="l-cpu">CPU (e.g. 1, 500m)</label><input id="l-cpu" value={cpu} onInput={(e) => setCpu(e.currentTarget.value)} required /></div>
          <div><label for="l-mem">Memory (e.g. 2Gi, 512Mi)</label><input id="l-mem" value={memory} onInput={(e) => setMemory(e.currentTarget.value)} required /></div>
          <div><label for="l-idle">Idle timeout (minutes)</label><input id="l-idle" type="number" min={1} max={10080} value={idle} onInput={(e) => setIdle(e.currentTarget.valueAsNumber)} required /></div>
          <div><label for="l-max">Maximum duration (hours)</label><input id="l-max" type="number" min={0.1} max={720} step="any" value={max} onInput={(e) => setMax(e.currentTarget.valueAsNumber)} required /></div>
        </div>
        <label for="l-tags">Tags (comma separated)</label>
        <input id="l-tags" value={tags} onInput={(e) => setTags(e.currentTarget.value)} />
        {teams.length > 0 && (<>
          <label for="l-team">On behalf of</label>
          <select id="l-team" value={team} onChange={(e) => setTeam(e.currentTarget.value)}>
            <option value="">Myself</option>
            {teams.map((x) => <option key={x.id} value={x.id}>Team {teamLabel(x, teams)}</option>)}
          </select>
        </>)}
        <ErrorText error={a.error} />
        <div class="buttons">
          <button type="submit" disabled={a.busy}>{a.busy ? "Launching…" : "Launch"}</button>
          <button type="button" class="secondary" onClick={onClose}>Cancel</button>
        </div>
      </form>
    </dialog>
  );
}
