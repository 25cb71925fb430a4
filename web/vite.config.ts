import preact from '@preact/preset-vite';
import { defineConfig } from 'vite';

// The web app is plain static files in web/dist, served by the Syncpoint server at /.
export default defineConfig({
  root: import.meta.dirname,
  plugins: [preact()],
  build: { outDir: 'dist', emptyOutDir: true, sourcemap: true, target: 'es2022' },
});
