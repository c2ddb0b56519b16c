import { fileURLToPath } from "node:url";
import { defineConfig } from "vite";

// The bundle is embedded in the agency binary (crates/cli/src/web.rs), so its file names are
// fixed: index.html, app.js, app.css.
export default defineConfig({
  root: fileURLToPath(new URL(".", import.meta.url)),
  base: "./",
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
