import { useState } from "preact/hooks";
import { config, localSignIn, type Role } from "../auth";
import { signIn } from "../oidc";
import { ErrorText, useAction } from "../ui";

// Sign-in: in AWS through the configured identity provider (authorization code + PKCE, oidc.ts);
// locally the local stack's issuer mints a token for any user name and role.
export function SignIn({ note }: { note?: string }) {
  const [user, setUser] = useState("");
  const [role, setRole] = useState<Role>("user");
  const a = useAction();
  const oidc = config.value?.signIn === "oidc" ? config.value.oidc : undefined;
  if (oidc?.authority && oidc.clientId) {
    return (
      <>
        <h1 id="page-title" tabIndex={-1}>Sign in to StreamSpace</h1>
        {note && <p>{note}</p>}
        <p>You sign in with your organisation's account, on its sign-in page; it sends you back here.</p>
        <ErrorText error={a.error} />
        <button type="button" disabled={a.busy} onClick={() => void a.run(() => signIn(oidc, location.pathname + location.search))}>
          {a.busy ? "Opening the sign-in page…" : "Sign in"}
        </button>
      </>
    );
  }
  if (config.value?.signIn !== "local") {
    return <><h1 id="page-title" tabIndex={-1}>Sign in</h1><p>This console signs in through your organisation's identity provider, which is not configured here.</p></>;
  }
  return (
    <>
      <h1 id="page-title" tabIndex={-1}>Sign in to StreamSpace</h1>
      {note && <p>{note}</p>}
      <p class="hint">Local stack: any user name signs in; the local token issuer vouches for it.</p>
      <form class="card" onSubmit={(e) => { e.preventDefault(); void a.run(() => localSignIn(user.trim(), role)); }}>
        <label for="signin-user">User name</label>
        <input id="signin-user" name="user" autoComplete="username" required pattern="[A-Za-z0-9._@\-]{1,64}"
          title="Letters, digits, dot, dash, underscore or @; up to 64" value={user} onInput={(e) => setUser(e.currentTarget.value)} />
        <label for="signin-role">Role</label>
        <select id="signin-role" value={role} onChange={(e) => setRole(e.currentTarget.value as Role)}>
          <option value="user">User</option>
          <option value="operator">Operator</option>
          <option value="admin">Admin</option>
        </select>
        <ErrorText error={a.error} />
        <button type="submit" disabled={a.busy}>{a.busy ? "Signing in…" : "Sign in"}</button>
      </form>
    </>
  );
}
