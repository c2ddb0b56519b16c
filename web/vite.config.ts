import { fileURLToPath } from "node:url";
import { defineConfig } from "vite";

// The bundle is embedded in the agency binary (crates/cli/src/web.rs), so its file names are
// fixed: index.html, app.js, app.css, and worker.js (the job's Web Worker, src/worker.js).
export default defineConfig({
  root: fileURLToPath(new URL(".", import.meta.url)),
  base: "./",
  worker: {
    format: "iife",
    rollupOptions: { output: { entryFileNames: "worker.js" } },
  },
  build: {
    outDir: "dist",
    emptyOutDir: true,
    target: "es2022",
    modulePreload: false,
    reportCompressedSize: false,
    rollupOptions: {
      output: {
        entryFileNames: "app.js",
        assetFileNames: "app[extname]",
        inlineDynamicImports: true,
      },
    },
  },
});
