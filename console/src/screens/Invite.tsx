import { useEffect, useLayoutEffect, useState } from "preact/hooks";
import { api, message } from "../api";
import { token } from "../auth";
import { navigate } from "../router";
import { ErrorText, Loading } from "../ui";
import { SignIn } from "./SignIn";

const KEY = "streamspace.invitation";

// An invitation link: the token leaves the address bar at once (kept in this tab only while the
// visitor signs in), then the invitation is accepted and the session opens.
export function Invite({ token: fromPath }: { token?: string }) {
  const [error, setError] = useState<string | null>(null);
  // In the same task as the first render (a layout effect), so nothing sees the page with the
  // token still in the address bar.
  useLayoutEffect(() => {
    if (fromPath) {
      sessionStorage.setItem(KEY, fromPath);
      history.replaceState(null, "", "/invite");
    }
  }, [fromPath]);
  const inv = fromPath || sessionStorage.getItem(KEY);
  const signedIn = !!token.value;
  useEffect(() => {
    if (!signedIn || !inv) return;
    api<{ sessionId: string }>("POST", `/invitations/${encodeURIComponent(inv)}/accept`).then(
      (r) => { sessionStorage.removeItem(KEY); navigate(`/sessions/${r.sessionId}?open=1`, true); },
      (e) => { sessionStorage.removeItem(KEY); setError(message(e)); },
    );
  }, [signedIn, inv]);
  if (!inv && !error) return <><h1 id="page-title" tabIndex={-1}>Invitation</h1><p>This invitation link is incomplete. Ask for a new one.</p><p><a href="/">Go to StreamSpace</a></p></>;
  if (!signedIn) return <SignIn note="You were invited to a StreamSpace session. Sign in to join it." />;
  if (error) return <><h1 id="page-title" tabIndex={-1}>Invitation</h1><ErrorText error={error} /><p><a href="/">Go to my sessions</a></p></>;
  return <><h1 id="page-title" tabIndex={-1}>Invitation</h1><Loading what="the invitation" /></>;
}
