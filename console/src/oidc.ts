// Sign-in through an OpenID Connect provider (the stack's Cognito user pool, or the issuer it is
// configured with): authorization code with PKCE, by oidc-client-ts. The library is loaded only
// when the configuration asks for it, so the local console does not carry it. The API takes the
// ID token (its audience is the console's client id, which is the API's JWT audience).
import type { UserManager, UserManagerSettings } from "oidc-client-ts";
import { type OidcConfig, setToken } from "./auth";

export const CALLBACK_PATH = "/auth/callback";

// settings: the client is public (no secret), the code flow carries a PKCE S256 challenge
// (oidc-client-ts always sends one for response_type "code"), the callback and logout addresses
// are this origin's (registered on the provider's client), and the provider's state and tokens
// stay in this tab's sessionStorage.
export function settings(o: OidcConfig, origin: string): UserManagerSettings {
  return {
    authority: o.authority,
    client_id: o.clientId,
    redirect_uri: origin + CALLBACK_PATH,
    post_logout_redirect_uri: origin + "/",
    response_type: "code",
    scope: o.scope || "openid",
    // Renewed with the refresh token the code flow brings, before the ID token expires.
    automaticSilentRenew: true,
    loadUserInfo: false,
  };
}

let manager: Promise<UserManager> | null = null;

function userManager(o: OidcConfig): Promise<UserManager> {
  manager ??= import("oidc-client-ts").then(({ UserManager }) => {
    const m = new UserManager(settings(o, location.origin));
    m.events.addUserLoaded((u) => { if (u.id_token) setToken(u.id_token); });
    m.events.addSilentRenewError(() => setToken(null));
    return m;
  });
  return manager;
}

// signIn goes to the provider's sign-in page; it comes back to returnTo.
export async function signIn(o: OidcConfig, returnTo: string): Promise<void> {
  const m = await userManager(o);
  await m.signinRedirect({ state: { returnTo } });
}

// completeSignIn handles the provider's redirect back: the code and the PKCE verifier become
// tokens, the address bar loses the code, and the page the visitor came from opens.
export async function completeSignIn(o: OidcConfig): Promise<string> {
  const m = await userManager(o);
  const u = await m.signinRedirectCallback();
  if (!u.id_token) throw new Error("The identity provider sent no ID token.");
  setToken(u.id_token);
  const back = (u.state as { returnTo?: string } | undefined)?.returnTo;
  return back && back.startsWith("/") && !back.startsWith("//") ? back : "/";
}

// resume restarts renewal for a tab that is already signed in.
export async function resume(o: OidcConfig): Promise<void> {
  await (await userManager(o)).getUser();
}

// signOut forgets the tokens here, then ends the provider's session: Cognito's hosted UI logout
// (its discovery document names none), or the provider's end_session_endpoint if it has one.
export async function signOut(o: OidcConfig): Promise<void> {
  setToken(null);
  const m = await userManager(o);
  const user = await m.getUser();
  await m.removeUser();
  if (o.logoutUrl) {
    location.assign(logoutAddress(o, location.origin));
    return;
  }
  const meta = await m.metadataService.getMetadata().catch(() => null);
  if (meta?.end_session_endpoint) await m.signoutRedirect({ id_token_hint: user?.id_token });
}

// logoutAddress is Cognito's logout URL: back to this origin's root afterwards.
export function logoutAddress(o: OidcConfig, origin: string): string {
  const u = new URL(o.logoutUrl!);
  u.searchParams.set("client_id", o.clientId);
  u.searchParams.set("logout_uri", origin + "/");
  return u.toString();
}
