import { useState } from "preact/hooks";
import { all, api } from "../api";
import { me } from "../auth";
import type { Template, User } from "../types";
import { ErrorText, Loading, Page, Section, fmtTime, useAction, useLoad } from "../ui";

interface Stats { total: number; last24h: number; byCategory7d: Record<string, number>; topTypes7d: { eventType: string; count: number }[] }

// Admin and operator: platform activity, users and roles, the template catalog.
export function Admin() {
  const admin = me.value?.role === "admin";
  return (
    <Page title="Admin">
      <StatsView />
      {admin && <Users />}
      <Templates admin={admin} />
    </Page>
  );
}

function StatsView() {
  const l = useLoad(() => api<Stats>("GET", "/activity/stats"), []);
  return (
    <section aria-labelledby="stats-title">
      <h2 id="stats-title">Platform activity</h2>
      {l.error ? <ErrorText error={l.error} /> : !l.data ? <Loading what="statistics" /> : (
        <div class="grid2">
          <dl class="facts">
            <div><dt>Events in all</dt><dd>{l.data.total}</dd></div>
            <div><dt>Last 24 hours</dt><dd>{l.data.last24h}</dd></div>
            {Object.entries(l.data.byCategory7d).map(([c, n]) => <div key={c}><dt>{c} (7 days)</dt><dd>{n}</dd></div>)}
          </dl>
          <div><h3>Top event types (7 days)</h3><ol>{l.data.topTypes7d.map((t) => <li key={t.eventType}>{t.eventType}: {t.count}</li>)}</ol></div>
        </div>
      )}
    </section>
  );
}

// Users: admins only (the API lists users to admins). The role shown is the stored one, which
// an admin sets here; a role the identity provider gives at sign-in applies on top of it.
function Users() {
  const l = useLoad(() => all<User>("/users?limit=100", 3), []);
  const a = useAction();
  return (
    <section aria-labelledby="users-title">
      <h2 id="users-title">Users</h2>
      <p class="sub">The role stored for each user. A role given at sign-in (an identity provider group) applies on top of it.</p>
      <ErrorText error={a.error} />
      <Section l={l} what="users" empty="No users yet.">
        {(items) => (
          <table>
            <caption class="sr-only">Users</caption>
            <thead><tr><th scope="col">User</th><th scope="col">Email</th><th scope="col">Role</th><th scope="col">First seen</th></tr></thead>
            <tbody>
              {items.map((u) => (
                <tr key={u.id}>
                  <td>{u.id}</td><td>{u.email ?? "—"}</td>
                  <td>
                    <select aria-label={"Role of " + u.id} value={u.role} onChange={(e) => { const role = e.currentTarget.value; void a.run(async () => { await api("PUT", `/users/${encodeURIComponent(u.id)}/role`, { role }, { ifMatch: u.version }); l.reload(); }).then(() => l.reload()); }}>
                      <option value="user">user</option><option value="operator">operator</option><option value="admin">admin</option>
                    </select></td>
                  <td>{fmtTime(u.createdAt)}</td>
                </tr>
              ))}
            </tbody>
          </table>
        )}
      </Section>
    </section>
  );
}

const blank: Template = { name: "", displayName: "", description: "", category: "", tags: [], image: "", defaultResources: { cpu: "1", memory: "2Gi" }, recordSessions: false, version: 0 };

// Templates: operators edit what describes a template; what runs (image, local command) and new
// templates are the admin's (the API says so too).
function Templates({ admin }: { admin: boolean }) {
  const l = useLoad(() => all<Template>("/templates?limit=100"), []);
  const [edit, setEdit] = useState<Template | null>(null);
  const a = useAction();
  return (
    <section aria-labelledby="templates-title">
      <div class="section-head"><h2 id="templates-title">Templates</h2>{admin && <button type="button" onClick={() => setEdit({ ...blank })}>New template</button>}</div>
      <ErrorText error={a.error} />
      {edit && <TemplateForm key={edit.name + "@" + edit.version} t={edit} admin={admin} onDone={() => { setEdit(null); l.reload(); }} />}
      <Section l={l} what="templates" empty="The catalog is empty.">
        {(items) => (
          <table>
            <caption class="sr-only">Templates</caption>
            <thead><tr><th scope="col">Name</th><th scope="col">Category</th><th scope="col">Image</th><th scope="col"><span class="sr-only">Actions</span></th></tr></thead>
            <tbody>
              {items.map((t) => (
                <tr key={t.name}>
                  <td>{t.displayName}<div class="sub mono">{t.name}</div></td><td>{t.category}</td><td class="mono">{t.image}</td>
                  <td class="row-actions">
                    <button type="button" class="secondary" aria-label={"Edit " + t.name} onClick={() => setEdit(t)}>Edit</button>
                    <button type="button" class="danger" aria-label={"Delete " + t.name} onClick={() => { if (confirm(`Delete template ${t.name}?`)) void a.run(async () => { await api("DELETE", `/templates/${t.name}`, undefined, { ifMatch: t.version }); l.reload(); }); }}>Delete</button>
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        )}
      </Section>
    </section>
  );
}

// TemplateForm edits a whole template: PUT replaces it, so every field the API has is sent,
// including those an operator may only read (sent unchanged).
function TemplateForm({ t, admin, onDone }: { t: Template; admin: boolean; onDone: () => void }) {
  const [v, setV] = useState({ ...t, localCommand: t.localCommand ?? "", tagText: t.tags.join(", ") });
  const a = useAction();
  const isNew = t.version === 0;
  const field = (k: "name" | "displayName" | "description" | "category" | "image" | "localCommand" | "tagText", label: string, req = true, locked = false) => (
    <div><label for={"t-" + k}>{label}</label><input id={"t-" + k} value={v[k]} required={req} readOnly={locked} onInput={(e) => setV({ ...v, [k]: e.currentTarget.value })} /></div>
  );
  const submit = (e: Event) => {
    e.preventDefault();
    void a.run(async () => {
      const body = { name: v.name, displayName: v.displayName, description: v.description, category: v.category, image: v.image,
        localCommand: v.localCommand || undefined, icon: v.icon,
        tags: v.tagText.split(",").map((s) => s.trim()).filter(Boolean), defaultResources: v.defaultResources, recordSessions: v.recordSessions };
      if (isNew) await api("POST", "/templates", body);
      else await api("PUT", `/templates/${t.name}`, body, { ifMatch: t.version });
      onDone();
    });
  };
  return (
    <form class="card" onSubmit={submit} aria-label={isNew ? "New template" : "Edit " + t.name}>
      <div class="grid2">
        {field("name", "Name (lowercase, dashes)", true, !isNew)}{field("displayName", "Display name")}{field("category", "Category")}
        {field("image", admin ? "Image" : "Image (admins change it)", true, !admin)}
        {field("localCommand", admin ? "Local command (local stack)" : "Local command (admins change it)", false, !admin)}
        <div><label for="t-cpu">Default CPU</label><input id="t-cpu" value={v.defaultResources.cpu} onInput={(e) => setV({ ...v, defaultResources: { ...v.defaultResources, cpu: e.currentTarget.value } })} /></div>
        <div><label for="t-mem">Default memory</label><input id="t-mem" value={v.defaultResources.memory} onInput={(e) => setV({ ...v, defaultResources: { ...v.defaultResources, memory: e.currentTarget.value } })} /></div>
      </div>
      {field("description", "Description", false)}{field("tagText", "Tags (comma separated)", false)}
      <label class="check"><input type="checkbox" checked={v.recordSessions} onChange={(e) => setV({ ...v, recordSessions: e.currentTarget.checked })} /> Record sessions</label>
      <ErrorText error={a.error} />
      <div class="buttons"><button type="submit" disabled={a.busy}>{isNew ? "Create" : "Save"}</button><button type="button" class="secondary" onClick={onDone}>Cancel</button></div>
    </form>
  );
}
