import { defineConfig } from "vite";
import react from "@vitejs/plugin-react";

// Built files land in dist/ with content-hashed names under assets/, which the server
// caches for a year (api/web_app.py). `npm run dev` proxies /api to a running `atrium serve`.
export default defineConfig({
  plugins: [react()],
  build: {
    outDir: "dist",
    assetsDir: "assets",
    sourcemap: false,
    manifest: true, // dist/.vite/manifest.json: which chunks the first screen loads (make bench)
    chunkSizeWarningLimit: 1200,
    rollupOptions: {
      output: {
        // Stable vendor chunks: a change to a screen does not re-download React or antd.
        manualChunks: {
          react: ["react", "react-dom", "react-router-dom"],
        },
      },
    },
  },
  server: { proxy: { "/api": "http://127.0.0.1:8000" } },
});
