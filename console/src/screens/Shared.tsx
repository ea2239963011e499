import { useEffect } from "preact/hooks";
import { all } from "../api";
import { templateLabel } from "../catalog";
import { onEvent } from "../live";
import type { SharedSession } from "../types";
import { Page, Section, StateBadge, fmtTime, useLoad } from "../ui";

// Sessions others shared with me, refreshed when a share is made or revoked or one changes.
export function Shared() {
  const l = useLoad(() => all<SharedSession>("/shared-sessions?limit=100"), []);
  useEffect(() => onEvent((ev) => { if (ev.type.startsWith("session.")) l.reload(); }), []);
  return (
    <Page title="Shared with me">
      <Section l={l} what="shared sessions" empty="Nobody has shared a session with you.">
        {(items) => (
          <table>
            <caption class="sr-only">Sessions shared with me</caption>
            <thead><tr><th scope="col">Session</th><th scope="col">Owner</th><th scope="col">Level</th><th scope="col">State</th><th scope="col">Shared</th></tr></thead>
            <tbody>
              {items.map((x) => (
                <tr key={x.shareId} data-session={x.session.id}>
                  <td><a href={`/sessions/${x.session.id}`}>{templateLabel(x.session.templateName)}</a><div class="sub">{x.session.id}</div></td>
                  <td>{x.session.ownerId}</td><td>{x.permissionLevel}</td><td><StateBadge state={x.session.state} /></td><td>{fmtTime(x.sharedAt)}</td>
                </tr>
              ))}
            </tbody>
          </table>
        )}
      </Section>
    </Page>
  );
}
