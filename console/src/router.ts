// A small history router: the path is a signal, links are ordinary <a href> intercepted here, so
// every screen has a real address (reload, back, bookmarks) without a routing library.
import { signal } from "@preact/signals";

export const path = signal(location.pathname);

export function navigate(to: string, replace = false) {
  if (to === location.pathname + location.search) return;
  if (replace) history.replaceState(null, "", to);
  else history.pushState(null, "", to);
  path.value = location.pathname;
  window.scrollTo(0, 0);
}

addEventListener("popstate", () => (path.value = location.pathname));

// Plain left clicks on same-origin links become client navigations.
document.addEventListener("click", (e) => {
  if (e.defaultPrevented || e.button !== 0 || e.metaKey || e.ctrlKey || e.shiftKey || e.altKey) return;
  const a = (e.target as Element).closest?.("a");
  if (!a || a.target || a.hasAttribute("download") || a.origin !== location.origin) return;
  if (a.pathname.startsWith("/api/") || a.pathname.startsWith("/gateway/")) return;
  e.preventDefault();
  navigate(a.pathname + a.search);
});

// match("/sessions/:id", "/sessions/sess_1") → {id: "sess_1"}; null when it does not match.
export function match(pattern: string, p: string): Record<string, string> | null {
  const a = pattern.split("/"), b = p.replace(/\/+$/, "").split("/");
  if (p === "/" && pattern === "/") return {};
  if (a.length !== b.length) return null;
  const out: Record<string, string> = {};
  for (let i = 0; i < a.length; i++) {
    if (a[i].startsWith(":")) {
      if (!b[i]) return null;
      out[a[i].slice(1)] = decodeURIComponent(b[i]);
    } else if (a[i] !== b[i]) return null;
  }
  return out;
}
