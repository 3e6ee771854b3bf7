/** Serves the built web page (dist/web) with safe path handling. */
import { readFile, stat } from 'node:fs/promises';
import type { ServerResponse } from 'node:http';
import { extname, join, normalize, sep } from 'node:path';

const TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
  '.ico': 'image/x-icon',
  '.json': 'application/json',
  '.webmanifest': 'application/manifest+json',
  '.woff2': 'font/woff2',
};

const FALLBACK = `<!doctype html><html lang="en"><head><meta charset="utf-8"><title>Parley</title></head>
<body><h1>Parley is running</h1><p>The web page is not built. Run <code>npm run build</code>.</p>
<p>WebSocket endpoint: <code>/ws</code></p></body></html>`;

/**
 * Writes the file for `pathname` under `root` (no escaping it: `..` and
 * encoded separators resolve inside `root` or not at all); resolves false
 * when there is none. With `root` null, `/` gets a short "not built" page.
 *
 * @example
 * if (!(await serveStatic('/opt/parley/dist/web', '/index.html', res))) sendError(res, notFound);
 */
export async function serveStatic(root: string | null, pathname: string, res: ServerResponse): Promise<boolean> {
  if (root === null) {
    if (pathname !== '/' && pathname !== '/index.html') return false;
    res.writeHead(200, { 'Content-Type': TYPES['.html']! });
    res.end(FALLBACK);
    return true;
  }
  let rel: string;
  try {
    rel = decodeURIComponent(pathname);
  } catch {
    return false;
  }
  if (rel.endsWith('/')) rel += 'index.html';
  const file = normalize(join(root, rel));
  if (!file.startsWith(root.endsWith(sep) ? root : root + sep)) return false;
  try {
    const info = await stat(file);
    if (!info.isFile()) return false;
    const body = await readFile(file);
    const type = TYPES[extname(file)] ?? 'application/octet-stream';
    const cache = rel.startsWith('/assets/') ? 'public, max-age=31536000, immutable' : 'no-cache';
    res.writeHead(200, {
      'Content-Type': type,
      'Cache-Control': cache,
      'X-Content-Type-Options': 'nosniff',
      'Content-Security-Policy':
        "default-src 'self'; connect-src 'self' ws: wss:; img-src 'self' data:; style-src 'self' 'unsafe-inline'",
    });
    res.end(body);
    return true;
  } catch {
    return false;
  }
}
