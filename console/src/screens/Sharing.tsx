import { useEffect, useState } from "preact/hooks";
import { all, api, newKey } from "../api";
import { onEvent } from "../live";
import type { Collaborator, Invitation, Level, Session, Share } from "../types";
import { ErrorText, Section, copy, fmtTime, useAction, useLoad } from "../ui";

// Sharing a session: with a user at a level, through invitation links, and who is watching now.
export function Sharing({ s }: { s: Session }) {
  const shares = useLoad(() => all<Share>(`/sessions/${s.id}/shares`), [s.id]);
  const invs = useLoad(() => all<Invitation>(`/sessions/${s.id}/invitations`), [s.id]);
  const collab = useLoad(() => all<Collaborator>(`/sessions/${s.id}/collaborators`), [s.id, s.activeConnections]);
  useEffect(() => onEvent((ev) => { if (ev.sessionId === s.id && /shared|unshared/.test(ev.type)) shares.reload(); }), [s.id]);
  const [user, setUser] = useState("");
  const [level, setLevel] = useState<Level>("view");
  const a = useAction();
  const del = useAction();
  const share = (e: Event) => {
    e.preventDefault();
    void a.run(async () => {
      await api("POST", `/sessions/${s.id}/share`, { sharedWithUserId: user.trim(), permissionLevel: level });
      setUser("");
      shares.reload();
    });
  };
  return (
    <section aria-labelledby="sharing-title">
      <h2 id="sharing-title">Sharing</h2>
      <form class="inline" onSubmit={share}>
        <label for="share-user">Share with user</label>
        <input id="share-user" value={user} required onInput={(e) => setUser(e.currentTarget.value)} />
        <LevelSelect id="share-level" value={level} onChange={setLevel} />
        <button type="submit" disabled={a.busy}>Share</button>
      </form>
      <ErrorText error={a.error} />
      <h3>Shared with</h3>
      <Section l={shares} what="shares" empty="Not shared with anyone.">
        {(items) => (
          <ul class="plain" aria-label="Shares">
            {items.map((sh) => (
              <li key={sh.id} data-share={sh.sharedWithUserId}>
                <strong>{sh.sharedWithUserId}</strong> · {sh.permissionLevel}{sh.expiresAt && <> · until {fmtTime(sh.expiresAt)}</>}{!sh.active && " · expired"}{" "}
                <button type="button" class="danger" aria-label={"Revoke " + sh.sharedWithUserId + "'s access"} disabled={del.busy}
                  onClick={() => del.run(async () => { await api("DELETE", `/sessions/${s.id}/shares/${sh.id}`); shares.reload(); })}>Revoke</button>
              </li>
            ))}
          </ul>
        )}
      </Section>
      <ErrorText error={del.error} />
      <Invitations s={s} l={invs} />
      <h3>Watching now</h3>
      <Section l={collab} what="collaborators" empty="Nobody has the desktop open.">
        {(items) => (
          <ul class="plain" aria-label="Collaborators">
            {items.map((c) => (
              <li key={c.userId}><strong>{c.userId}</strong> · {c.permissionLevel} · since {fmtTime(c.since)}{" "}
                <button type="button" class="secondary" aria-label={"Disconnect " + c.userId}
                  onClick={() => del.run(async () => { await api("DELETE", `/sessions/${s.id}/collaborators/${encodeURIComponent(c.userId)}`); collab.reload(); })}>Disconnect</button>
              </li>
            ))}
          </ul>
        )}
      </Section>
    </section>
  );
}

function LevelSelect({ id, value, onChange }: { id: string; value: Level; onChange: (l: Level) => void }) {
  return (<>
    <label for={id}>Level</label>
    <select id={id} value={value} onChange={(e) => onChange(e.currentTarget.value as Level)}>
      <option value="view">View</option>
      <option value="collaborate">Collaborate</option>
      <option value="control">Control</option>
    </select>
  </>);
}

function Invitations({ s, l }: { s: Session; l: ReturnType<typeof useLoad<Invitation[]>> }) {
  const [level, setLevel] = useState<Level>("view");
  const [uses, setUses] = useState(1);
  const [days, setDays] = useState(7);
  const [made, setMade] = useState<string | null>(null);
  const [copied, setCopied] = useState(false);
  const a = useAction();
  const create = (e: Event) => {
    e.preventDefault();
    void a.run(async () => {
      const inv = await api<Invitation>("POST", `/sessions/${s.id}/invitations`, { permissionLevel: level, maxUses: uses, expiresIn: `${days}d` }, { idempotencyKey: newKey() });
      setMade(`${location.origin}/invite/${inv.token}`);
      setCopied(false);
      l.reload();
    });
  };
  return (<>
    <h3>Invitation links</h3>
    <form class="inline" onSubmit={create}>
      <LevelSelect id="inv-level" value={level} onChange={setLevel} />
      <label for="inv-uses">Uses</label>
      <input id="inv-uses" type="number" min={1} max={1000} required value={uses} onInput={(e) => setUses(e.currentTarget.valueAsNumber)} />
      <label for="inv-days">Valid for (days)</label>
      <input id="inv-days" type="number" min={1} max={365} required value={days} onInput={(e) => setDays(e.currentTarget.valueAsNumber)} />
      <button type="submit" disabled={a.busy}>Create link</button>
    </form>
    <ErrorText error={a.error} />
    {made && (
      <div class="secret" role="status">
        <label for="inv-link">New link (shown once; anyone with it can join until its uses run out)</label>
        <input id="inv-link" readOnly value={made} onFocus={(e) => e.currentTarget.select()} />
        <button type="button" onClick={async () => setCopied(await copy(made))}>{copied ? "Copied" : "Copy link"}</button>
      </div>
    )}
    <Section l={l} what="invitations" empty="No invitation links.">
      {(items) => (
        <ul class="plain" aria-label="Invitations">
          {items.map((inv) => (
            <li key={inv.id}>{inv.permissionLevel} · {inv.uses} of {inv.maxUses} used · {inv.revoked ? "revoked" : `expires ${fmtTime(inv.expiresAt)}`} · <span class="mono">{inv.tokenPrefix}…</span>{" "}
              {!inv.revoked && <button type="button" class="danger" aria-label={`Revoke invitation ${inv.tokenPrefix}`}
                onClick={() => a.run(async () => { await api("DELETE", `/sessions/${s.id}/invitations/${inv.id}`); l.reload(); })}>Revoke</button>}
            </li>
          ))}
        </ul>
      )}
    </Section>
  </>);
}
