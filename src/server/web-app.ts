import { readFile } from 'node:fs/promises';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { extname, join, normalize, sep } from 'node:path';

/**
 * Serves the built web app (web/dist) at `/`. The app is a single page with hash routes, so only its
 * files are served; anything else is 404. Vite names assets by content hash, so they are cached for a
 * year and index.html is revalidated on every load.
 */
const contentTypes: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
  '.ico': 'image/x-icon',
  '.json': 'application/json',
  '.map': 'application/json',
  '.woff2': 'font/woff2',
};

// Scripts and styles only from this origin. The app's own pages show images only as data: URIs (contact
// photos, QR codes; the code shows no other). Remote images are allowed by this policy for one place
// alone: a mail message the user chose to load them for, which the mail page shows in a sandboxed
// srcdoc frame; such a frame inherits this policy, so it could never load them otherwise. The frame's own
// policy blocks them until the user allows it (docs/design.md § The web app). Never framed, so no click-jacking.
const securityHeaders = {
  'content-security-policy':
    "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src data: https: http:; connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'",
  'x-content-type-options': 'nosniff',
  'referrer-policy': 'no-referrer',
  'x-frame-options': 'DENY',
};

export async function serveWebApp(webDir: string, req: IncomingMessage, res: ServerResponse, path: string): Promise<void> {
  req.resume();
  const relative = path === '/' ? 'index.html' : decodeURIComponentSafe(path.slice(1));
  const file = relative === undefined ? undefined : normalize(join(webDir, relative));
  const type = file && contentTypes[extname(file)];
  let body: Buffer | undefined;
  if (file && type && file.startsWith(webDir + sep)) {
    body = await readFile(file).catch(() => undefined);
  }
  if (!body) {
    const missing = path === '/' ? 'the web app is not built; run `npm run build`' : `no such file ${path}`;
    res.writeHead(path === '/' ? 503 : 404, { 'content-type': 'text/plain; charset=utf-8', ...securityHeaders });
    return void res.end(missing);
  }
  const immutable = relative?.startsWith('assets/') ?? false;
  res.writeHead(200, {
    'content-type': type as string,
    'content-length': body.length,
    'cache-control': immutable ? 'public, max-age=31536000, immutable' : 'no-cache',
    ...securityHeaders,
  });
  res.end(req.method === 'HEAD' ? undefined : body);
}

function decodeURIComponentSafe(s: string): string | undefined {
  try {
    return decodeURIComponent(s);
  } catch {
    return undefined;
  }
}
