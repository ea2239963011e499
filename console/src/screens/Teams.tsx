import { useEffect, useState } from "preact/hooks";
import { all, api } from "../api";
import { onEvent } from "../live";
import type { Member, Session, Team, TeamQuota } from "../types";
import { ErrorText, Gauge, Loading, Page, Section, fmtTime, useAction, useLoad } from "../ui";
import { SessionTable } from "./Sessions";

export function Teams() {
  const l = useLoad(() => all<Team>("/teams/my-teams?limit=100"), []);
  useEffect(() => onEvent((ev) => { if (ev.type.startsWith("team.")) l.reload(); }), []);
  const [name, setName] = useState("");
  const a = useAction();
  return (
    <Page title="Teams">
      <form class="inline" onSubmit={(e) => { e.preventDefault(); void a.run(async () => { await api("POST", "/teams", { name: name.trim() }); setName(""); l.reload(); }); }}>
        <label for="team-name">New team name</label>
        <input id="team-name" value={name} required onInput={(e) => setName(e.currentTarget.value)} />
        <button type="submit" disabled={a.busy}>Create team</button>
      </form>
      <ErrorText error={a.error} />
      <Section l={l} what="your teams" empty="You are in no team yet. Create one, or ask a team owner to add you.">
        {(items) => (
          <ul class="plain" aria-label="My teams">
            {items.map((t) => <li key={t.id}><a href={"/teams/" + t.id}>{teamLabel(t, items)}</a> <span class="sub">· {t.role}</span></li>)}
          </ul>
        )}
      </Section>
    </Page>
  );
}

const roles = ["owner", "admin", "member", "viewer"];

// teamLabel names a team as people know it; two teams may share a name, and then the id tells
// them apart.
export function teamLabel(t: Team, among: Team[]): string {
  const label = t.displayName || t.name;
  return among.some((y) => y.id !== t.id && (y.displayName || y.name) === label) ? `${label} (${t.id})` : label;
}

export function TeamPage({ id }: { id: string }) {
  const team = useLoad(() => all<Team>("/teams/my-teams?limit=100").then((ts) => {
    const t = ts.find((x) => x.id === id);
    if (!t) throw new Error("This team does not exist, or you are not in it.");
    return t;
  }), [id]);
  const members = useLoad(() => all<Member>(`/teams/${id}/members?limit=100`), [id]);
  const sessions = useLoad(() => all<Session>(`/teams/${id}/sessions?limit=100`), [id]);
  const quota = useLoad(() => api<TeamQuota>("GET", `/teams/${id}/quota`), [id]);
  // Live usage: any event of a team session or membership refreshes what it changes.
  useEffect(() => onEvent((ev) => {
    if (ev.teamId === id && ev.type.startsWith("session.")) { sessions.reload(); quota.reload(); }
    if (ev.type.startsWith("team.member")) members.reload();
  }), [id]);
  const [user, setUser] = useState("");
  const [role, setRole] = useState("member");
  const a = useAction();
  const t = team.data;
  if (!t) return <Page title="Team">{team.error ? <ErrorText error={team.error} /> : <Loading what="the team" />}</Page>;
  const manage = t.permissions.includes("team.members.manage");
  const q = quota.data;
  return (
    <Page title={"Team " + (t.displayName || t.name)}>
      <p class="sub">Your role: {t.role}</p>
      <section aria-labelledby="quota-title">
        <h2 id="quota-title">Quota</h2>
        {quota.error ? <ErrorText error={quota.error} /> : !q ? <Loading what="the quota" /> : (
          <div class="quota" data-live-sessions={q.usage.liveSessions}>
            <Gauge label="Team sessions" value={q.usage.liveSessions} max={q.maxSessions} />
            <Gauge label="Team CPU" value={q.usage.cpuMillis / 1000} max={q.maxCpuMillis / 1000} unit=" cores" />
            <Gauge label="Team memory" value={q.usage.memoryMiB / 1024} max={q.maxMemoryMiB / 1024} unit=" GiB" />
          </div>
        )}
      </section>
      <section aria-labelledby="members-title">
        <h2 id="members-title">Members</h2>
        {manage && (
          <form class="inline" onSubmit={(e) => { e.preventDefault(); void a.run(async () => { await api("POST", `/teams/${id}/members`, { userId: user.trim(), role }); setUser(""); members.reload(); }); }}>
            <label for="member-user">Add user</label>
            <input id="member-user" value={user} required onInput={(e) => setUser(e.currentTarget.value)} />
            <label for="member-role">Role</label>
            <select id="member-role" value={role} onChange={(e) => setRole(e.currentTarget.value)}>
              {roles.map((r) => <option key={r} value={r}>{r}</option>)}
            </select>
            <button type="submit" disabled={a.busy}>Add member</button>
          </form>
        )}
        <ErrorText error={a.error} />
        <Section l={members} what="members" empty="No members.">
          {(items) => (
            <table>
              <caption class="sr-only">Members</caption>
              <thead><tr><th scope="col">User</th><th scope="col">Role</th><th scope="col">Added</th>{manage && <th scope="col"><span class="sr-only">Actions</span></th>}</tr></thead>
              <tbody>
                {items.map((m) => (
                  <tr key={m.userId}>
                    <td>{m.userId}</td>
                    <td>{manage ? (
                      <select aria-label={"Role of " + m.userId} value={m.role}
                        onChange={(e) => { const r = e.currentTarget.value; void a.run(async () => { await api("PATCH", `/teams/${id}/members/${encodeURIComponent(m.userId)}`, { role: r }, { ifMatch: m.version }); members.reload(); }).then(() => members.reload()); }}>
                        {roles.map((r) => <option key={r} value={r}>{r}</option>)}
                      </select>) : m.role}</td>
                    <td>{fmtTime(m.addedAt)}</td>
                    {manage && <td><button type="button" class="danger" aria-label={"Remove " + m.userId}
                      onClick={() => a.run(async () => { await api("DELETE", `/teams/${id}/members/${encodeURIComponent(m.userId)}`); members.reload(); })}>Remove</button></td>}
                  </tr>
                ))}
              </tbody>
            </table>
          )}
        </Section>
      </section>
      <section aria-labelledby="team-sessions-title">
        <h2 id="team-sessions-title">Team sessions</h2>
        <Section l={sessions} what="team sessions" empty="No team sessions. Launch one and choose this team.">
          {(items) => <SessionTable list={items.filter((s) => s.state !== "terminated")} actions={false} />}
        </Section>
        <p><a href="/launch">Launch a session for this team</a></p>
      </section>
      <p class="sub">Created {fmtTime((t as unknown as { createdAt: string }).createdAt)}</p>
    </Page>
  );
}
