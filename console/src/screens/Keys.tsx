import { useEffect, useState } from "preact/hooks";
import { all, api, newKey } from "../api";
import { onEvent } from "../live";
import type { APIKey, APIKeyUsage } from "../types";
import { ErrorText, Loading, Page, Section, copy, fmtTime, useAction, useLoad } from "../ui";

const scopes = ["sessions:read", "sessions:write", "sharing:read", "sharing:write", "teams:read", "teams:write", "activity:read", "activity:write", "users:read"];
const readOnly = scopes.filter((s) => s.endsWith(":read"));

// API keys: the secret is shown once, in this component's memory only, and gone on reload.
export function Keys() {
  const l = useLoad(() => all<APIKey>("/api-keys?limit=100"), []);
  useEffect(() => onEvent((ev) => { if (ev.type.startsWith("apikey.")) l.reload(); }), []);
  const [secret, setSecret] = useState<{ name: string; key: string } | null>(null);
  const [copied, setCopied] = useState(false);
  const del = useAction();
  return (
    <Page title="API keys">
      <CreateKey onCreated={(k) => { setSecret({ name: k.name, key: k.key! }); setCopied(false); l.reload(); }} />
      {secret && (
        <div class="secret" role="status" data-secret>
          <label for="key-secret">The secret of “{secret.name}”. Copy it now: it is shown only once.</label>
          <input id="key-secret" readOnly value={secret.key} onFocus={(e) => e.currentTarget.select()} />
          <button type="button" onClick={async () => setCopied(await copy(secret.key))}>{copied ? "Copied" : "Copy"}</button>
          <button type="button" class="secondary" onClick={() => setSecret(null)}>I have saved it</button>
        </div>
      )}
      <h2>Your keys</h2>
      <ErrorText error={del.error} />
      <Section l={l} what="your API keys" empty="No API keys. Create one for scripts and CI.">
        {(items) => (
          <ul class="plain keys" aria-label="API keys">
            {items.map((k) => (
              <li key={k.id} class="card" data-key={k.id}>
                <h3>{k.name} <span class="mono sub">{k.keyPrefix}…</span> {k.revoked && <span class="badge state-failed">revoked</span>}</h3>
                <p class="sub">{k.scopes.join(", ")} · {k.rateLimit}/hour · created {fmtTime(k.createdAt)} · {k.expiresAt ? "expires " + fmtTime(k.expiresAt) : "never expires"} · last used {fmtTime(k.lastUsedAt)}</p>
                <Usage id={k.id} />
                <div class="buttons">
                  {!k.revoked && <button type="button" class="secondary" aria-label={"Revoke " + k.name} onClick={() => del.run(async () => { await api("POST", `/api-keys/${k.id}/revoke`); l.reload(); })}>Revoke</button>}
                  <button type="button" class="danger" aria-label={"Delete " + k.name} onClick={() => { if (confirm(`Delete ${k.name} for good?`)) void del.run(async () => { await api("DELETE", `/api-keys/${k.id}`); l.reload(); }); }}>Delete</button>
                </div>
              </li>
            ))}
          </ul>
        )}
      </Section>
    </Page>
  );
}

function CreateKey({ onCreated }: { onCreated: (k: APIKey) => void }) {
  const [name, setName] = useState("");
  const [chosen, setChosen] = useState<string[]>(readOnly);
  const [expires, setExpires] = useState("30d");
  const [rate, setRate] = useState(1000);
  const a = useAction();
  const submit = (e: Event) => {
    e.preventDefault();
    void a.run(async () => {
      const body: Record<string, unknown> = { name: name.trim(), scopes: chosen, rateLimit: rate };
      if (expires) body.expiresIn = expires;
      onCreated(await api<APIKey>("POST", "/api-keys", body, { idempotencyKey: newKey() }));
      setName("");
    });
  };
  return (
    <form class="card" onSubmit={submit} aria-labelledby="new-key">
      <h2 id="new-key">New key</h2>
      <label for="key-name">Name</label>
      <input id="key-name" value={name} required maxLength={100} onInput={(e) => setName(e.currentTarget.value)} />
      <fieldset>
        <legend>Scopes</legend>
        <div class="checks">
          {scopes.map((s) => (
            <label key={s} class="check"><input type="checkbox" checked={chosen.includes(s)}
              onChange={(e) => setChosen(e.currentTarget.checked ? [...chosen, s] : chosen.filter((x) => x !== s))} /> {s}</label>
          ))}
        </div>
      </fieldset>
      <div class="grid2">
        <div><label for="key-exp">Expires after</label>
          <select id="key-exp" value={expires} onChange={(e) => setExpires(e.currentTarget.value)}>
            <option value="1d">1 day</option><option value="7d">7 days</option><option value="30d">30 days</option><option value="6m">6 months</option><option value="1y">1 year</option><option value="">Never</option>
          </select></div>
        <div><label for="key-rate">Requests per hour</label>
          <input id="key-rate" type="number" min={1} max={100000} required value={rate} onInput={(e) => setRate(e.currentTarget.valueAsNumber)} /></div>
      </div>
      <ErrorText error={a.error} />
      <button type="submit" disabled={a.busy}>Create key</button>
    </form>
  );
}

// Usage: the last requests per hour over a day, as bars, plus the totals and top endpoints.
function Usage({ id }: { id: string }) {
  const [open, setOpen] = useState(false);
  const l = useLoad(() => (open ? api<APIKeyUsage>("GET", `/api-keys/${id}/usage`) : Promise.resolve(null)), [id, open]);
  if (!open) return <button type="button" class="link-button" onClick={() => setOpen(true)}>Show usage</button>;
  if (l.error) return <ErrorText error={l.error} />;
  const u = l.data;
  if (!u) return <Loading what="usage" />;
  const hours = new Array(24).fill(0);
  const now = Date.now();
  for (const r of u.recentRequests) {
    const h = Math.floor((now - new Date(r.time).getTime()) / 3_600_000);
    if (h >= 0 && h < 24) hours[23 - h]++;
  }
  const max = Math.max(1, ...hours);
  return (
    <div class="usage">
      <p>{u.totalUsage} requests in all, {u.recentUsage24h} in the last 24 hours, {u.usedThisHour} of {u.rateLimit} this hour.</p>
      <svg class="chart" viewBox="0 0 240 60" role="img" aria-label={`Recent requests per hour over the last 24 hours: ${hours.join(", ")}`}>
        {hours.map((n, i) => <rect key={i} x={i * 10 + 1} y={58 - (n / max) * 56} width={8} height={(n / max) * 56} />)}
        <line x1="0" y1="59" x2="240" y2="59" />
      </svg>
      {u.topEndpoints.length > 0 && <ul class="plain">{u.topEndpoints.map((t) => <li key={t.route}><span class="mono">{t.route}</span>: {t.count}</li>)}</ul>}
    </div>
  );
}
