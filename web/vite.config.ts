import { defineConfig } from 'vite';
import { fileURLToPath } from 'node:url';

const here = fileURLToPath(new URL('.', import.meta.url));

/** Builds the chat page into dist/web/, which the server serves at `/`. */
export default defineConfig({
  root: here,
  base: '/',
  logLevel: 'warn',
  build: {
    outDir: fileURLToPath(new URL('../dist/web', import.meta.url)),
    emptyOutDir: true,
    target: 'es2022',
    sourcemap: false,
    reportCompressedSize: false,
    // The chat page at / and the admin dashboard at /admin/.
    rollupOptions: { input: { main: `${here}index.html`, admin: `${here}admin/index.html` } },
  },
});
