import { defineConfig } from "vite";

// Output goes to the git-ignored cache (the Makefile passes --outDir); no plugin is needed:
// esbuild compiles TSX to Preact's automatic JSX runtime.
export default defineConfig({
  esbuild: { jsx: "automatic", jsxImportSource: "preact" },
  build: {
    target: "es2022",
    sourcemap: false,
    emptyOutDir: true,
    reportCompressedSize: false,
    assetsInlineLimit: 0,
  },
});
