import { render } from "preact";
import { useEffect } from "preact/hooks";
import { effect } from "@preact/signals";
import "./styles.css";
import { api, message } from "./api";
import { config, isStaff, loadConfig, me, setToken, token, type Me } from "./auth";
import * as live from "./live";
import { match, navigate, path } from "./router";
import { ErrorText, Loading } from "./ui";
import { SignIn } from "./screens/SignIn";
import { Sessions } from "./screens/Sessions";
import { Launch } from "./screens/Launch";
import { SessionPage } from "./screens/Session";
import { Shared } from "./screens/Shared";
import { Teams, TeamPage } from "./screens/Teams";
import { Keys } from "./screens/Keys";
import { Admin } from "./screens/Admin";
import { Invite } from "./screens/Invite";
import { signal } from "@preact/signals";
import * as oidc from "./oidc";

const bootError = signal<string | null>(null);

// Whenever the token changes: who am I, and the live list for that user.
effect(() => {
  const t = token.value;
  live.stop();
  if (!t || !config.value) return;
  api<Me>("GET", "/users/me").then(
    (m) => { if (token.value === t) { me.value = m; live.start(m.id); } },
    (e) => { bootError.value = message(e); },
  );
});

const routes: [string, (p: Record<string, string>) => preact.JSX.Element][] = [
  ["/", () => <Sessions />],
  ["/launch", () => <Launch />],
  ["/sessions/:id", (p) => <SessionPage id={p.id} />],
  ["/shared", () => <Shared />],
  ["/teams", () => <Teams />],
  ["/teams/:id", (p) => <TeamPage id={p.id} />],
  ["/api-keys", () => <Keys />],
  ["/admin", () => <Admin />],
];

function Nav() {
  const items: [string, string][] = [["/", "My sessions"], ["/launch", "Launch"], ["/shared", "Shared with me"], ["/teams", "Teams"], ["/api-keys", "API keys"]];
  if (isStaff.value) items.push(["/admin", "Admin"]);
  const cur = path.value;
  const linkState = live.link.value;
  return (
    <header class="top">
      <a class="skip" href="#main">Skip to content</a>
      <a class="brand" href="/">StreamSpace</a>
      <nav aria-label="Main">
        <ul>
          {items.map(([href, label]) => (
            <li key={href}>
              <a href={href} aria-current={(href === "/" ? cur === "/" || cur.startsWith("/sessions/") : cur.startsWith(href)) ? "page" : undefined}>{label}</a>
            </li>
          ))}
        </ul>
      </nav>
      <div class="who">
        <span class={"link link-" + linkState} title="Live updates">{linkState === "live" ? "Live" : linkState === "connecting" ? "Connecting…" : "Offline, retrying"}</span>
        <span>{me.value?.id} ({me.value?.role})</span>
        <button type="button" class="secondary" onClick={signOut}>Sign out</button>
      </div>
    </header>
  );
}

function signOut() {
  const o = config.value?.oidc;
  if (config.value?.signIn === "oidc" && o) void oidc.signOut(o).catch((e) => (bootError.value = message(e)));
  else setToken(null);
  navigate("/");
}

// The identity provider's redirect back: exchange the code (PKCE), then open where the visitor was.
function Callback() {
  useEffect(() => {
    const o = config.value?.oidc;
    if (!o) return;
    oidc.completeSignIn(o).then((to) => navigate(to, true), (e) => { bootError.value = message(e); navigate("/", true); });
  }, []);
  return <><h1 id="page-title" tabIndex={-1}>Signing in</h1><Loading what="your account" /></>;
}

function App() {
  const p = path.value;
  // Focus the new page's heading after a navigation or a sign-in, so keyboard and screen reader
  // users land on it.
  const signedIn = !!me.value;
  useEffect(() => { document.getElementById("page-title")?.focus({ preventScroll: true }); }, [p, signedIn]);
  if (bootError.value && !config.value) return <main id="main" class="narrow"><h1>StreamSpace</h1><ErrorText error={bootError.value} /></main>;
  if (!config.value) return <main id="main"><Loading what="StreamSpace" /></main>;
  if (p === oidc.CALLBACK_PATH && config.value.signIn === "oidc") return <main id="main" class="narrow"><Callback /></main>;
  const inv = match("/invite/:token", p) ?? (p === "/invite" ? {} : null);
  if (inv) return <main id="main" class="narrow"><Invite token={inv.token} /></main>;
  if (!token.value) return <main id="main" class="narrow">{bootError.value && <ErrorText error={bootError.value} />}<SignIn /></main>;
  if (!me.value) {
    return <main id="main">{bootError.value ? <ErrorText error={bootError.value} /> : <Loading what="your account" />}</main>;
  }
  let page: preact.JSX.Element | null = null;
  for (const [pattern, view] of routes) {
    const m = match(pattern, p);
    if (m) { page = view(m); break; }
  }
  return (
    <>
      <Nav />
      <main id="main">{page ?? <><h1 id="page-title" tabIndex={-1}>Not found</h1><p>There is no page at this address. <a href="/">Go to my sessions</a>.</p></>}</main>
    </>
  );
}

loadConfig().then((c) => {
  // A tab already signed in through the provider keeps renewing its token.
  if (c.signIn === "oidc" && c.oidc && token.value && location.pathname !== oidc.CALLBACK_PATH) void oidc.resume(c.oidc).catch(() => undefined);
}, (e) => (bootError.value = message(e)));
// The page's "Loading…" placeholder goes: Preact renders next to what it did not render itself.
const root = document.getElementById("app")!;
root.replaceChildren();
render(<App />, root);
