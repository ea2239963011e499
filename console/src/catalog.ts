// Template display names for the places that show a session: the API's sessions carry the
// template's name (its id); people know it as the catalog shows it ("Firefox"). Loaded once
// per sign-in; until then, or for a template since deleted, the name itself is shown.
import { signal } from "@preact/signals";
import { all } from "./api";
import type { Template } from "./types";

const names = signal<Map<string, string> | null>(null);
let loading = false;

export function templateLabel(name: string): string {
  if (!names.value && !loading) {
    loading = true;
    all<Template>("/templates?limit=100").then(
      (ts) => { names.value = new Map(ts.map((t) => [t.name, t.displayName])); },
      () => { loading = false; }, // tried again on the next render
    );
  }
  return names.value?.get(name) || name;
}
