import { all, api } from "../api";
import type { Activity as Event_, Recording, Session } from "../types";
import { ErrorText, Section, fmtBytes, fmtTime, useAction, useLoad } from "../ui";

// A session's timeline (oldest first) and its recordings.
export function Activity({ s }: { s: Session }) {
  const tl = useLoad(() => api<{ items: Event_[] }>("GET", `/sessions/${s.id}/activity/timeline?limit=200`).then((p) => p.items), [s.id, s.state]);
  const recs = useLoad(() => all<Recording>(`/sessions/${s.id}/recordings`), [s.id]);
  const a = useAction();
  const download = (r: Recording) => a.run(async () => {
    const v = await api<{ downloadUrl?: string }>("GET", `/sessions/${s.id}/recordings/${r.id}`);
    if (!v.downloadUrl) throw new Error("This recording has no content to download yet.");
    const link = document.createElement("a");
    link.href = v.downloadUrl;
    link.download = `${r.id}.${r.format || "bin"}`;
    link.click();
  });
  return (
    <section aria-labelledby="activity-title">
      <h2 id="activity-title">Activity</h2>
      <Section l={tl} what="the timeline" empty="Nothing has happened yet.">
        {(items) => (
          <ol class="timeline">
            {items.map((e) => (
              <li key={e.id}><time dateTime={e.timestamp}>{fmtTime(e.timestamp)}</time> <strong title={e.eventType}>{eventWords(e.eventType)}</strong> <span class="sub">{e.eventCategory}{e.actorId ? " · by " + e.actorId : ""}</span>{e.description && <div>{e.description}</div>}</li>
            ))}
          </ol>
        )}
      </Section>
      <h3>Recordings</h3>
      <ErrorText error={a.error} />
      <Section l={recs} what="recordings" empty="No recordings.">
        {(items) => (
          <table>
            <caption class="sr-only">Recordings</caption>
            <thead><tr><th scope="col">Started</th><th scope="col">Status</th><th scope="col">Length</th><th scope="col">Size</th><th scope="col"><span class="sr-only">Actions</span></th></tr></thead>
            <tbody>
              {items.map((r) => (
                <tr key={r.id}>
                  <td>{fmtTime(r.startedAt)}</td><td>{r.status}</td><td>{r.durationSeconds ? `${Math.round(r.durationSeconds)} s` : "—"}</td><td>{fmtBytes(r.sizeBytes)}</td>
                  <td class="row-actions">
                    <button type="button" class="secondary" disabled={r.status !== "completed"} onClick={() => download(r)} aria-label={"Download recording " + r.id}>Download</button>
                    <button type="button" class="danger" onClick={() => { if (confirm("Delete this recording? It cannot be recovered.")) void a.run(async () => { await api("DELETE", `/sessions/${s.id}/recordings/${r.id}`); recs.reload(); }); }} aria-label={"Delete recording " + r.id}>Delete</button>
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

// eventWords says an event type as words ("session.state_changed" → "Session state changed");
// the type itself stays in the tooltip for people who search logs by it.
export function eventWords(type: string): string {
  const s = type.replace(/[._]+/g, " ").trim();
  return s.charAt(0).toUpperCase() + s.slice(1);
}
