/**
 * The HTTP side of `faultline serve`: a self-contained index of the runs, campaigns and hunts under one
 * root directory, the files under it, and a run directory as one .tar.gz.
 *
 *   GET /                    the index page (HTML, inline CSS and JS, no network); `?q=words` filters it
 *   GET /api/entries?q=      the same list as JSON
 *   GET /files/<path>        a file under the root (report.html, results.json, history.jsonl, ...)
 *   GET /archive/<dir>.tar.gz  a run, campaign or hunt directory as one archive
 *
 * Invariant: nothing outside the root is ever read or listed. A request path is decoded once (a
 * malformed escape is refused), may not contain NUL, `..` segments or a backslash, is resolved under the
 * root and must stay there; then its real path (symlinks resolved) must stay under the root's real
 * path. Refusals are 403, missing files 404; only GET and HEAD are answered.
 */
import { createReadStream, realpathSync, statSync } from 'node:fs';
import type { IncomingMessage, Server, ServerResponse } from 'node:http';
import { createServer } from 'node:http';
import { extname, isAbsolute, relative, resolve, sep } from 'node:path';
import { filterEntries, listEntries } from './listing.ts';
import { indexPage } from './page.ts';
import { tarGzOf } from './tar.ts';

const contentTypes: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.json': 'application/json; charset=utf-8',
  '.jsonl': 'text/plain; charset=utf-8',
  '.log': 'text/plain; charset=utf-8',
  '.txt': 'text/plain; charset=utf-8',
  '.xml': 'application/xml; charset=utf-8',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
};

export type Resolved = { ok: true; path: string } | { ok: false; status: 403 | 404; why: string };

function within(root: string, p: string): boolean {
  const r = relative(root, p);
  return r === '' || (!r.startsWith(`..${sep}`) && r !== '..' && !isAbsolute(r));
}

/** Resolve a URL path (still percent-encoded) under root, or say why not (the invariant above). */
export function resolveUnder(root: string, encoded: string): Resolved {
  let decoded: string;
  try {
    decoded = decodeURIComponent(encoded);
  } catch {
    return { ok: false, status: 403, why: 'malformed escape' };
  }
  if (decoded.includes('\0') || decoded.includes('\\')) return { ok: false, status: 403, why: 'refused character' };
  const segments = decoded.split('/').filter((s) => s !== '');
  if (segments.some((s) => s === '..' || s === '.')) return { ok: false, status: 403, why: 'path outside the served directory' };
  const rest = decoded.replace(/^\//, '');
  if (rest.startsWith('/') || isAbsolute(rest)) {
    // an absolute path given as the rest of the URL ("/files//etc/passwd", "%2Fetc") is refused, not joined
    return { ok: false, status: 403, why: 'absolute path' };
  }
  const rootAbs = resolve(root);
  const p = resolve(rootAbs, ...segments);
  if (!within(rootAbs, p)) return { ok: false, status: 403, why: 'path outside the served directory' };
  let real: string;
  try {
    real = realpathSync(p);
  } catch {
    return { ok: false, status: 404, why: 'not found' };
  }
  if (!within(realpathSync(rootAbs), real)) return { ok: false, status: 403, why: 'link outside the served directory' };
  return { ok: true, path: real };
}

function send(res: ServerResponse, status: number, type: string, body: string): void {
  res.writeHead(status, { 'content-type': type, 'cache-control': 'no-store', 'x-content-type-options': 'nosniff' });
  res.end(body);
}

function refuse(res: ServerResponse, r: Extract<Resolved, { ok: false }>): void {
  send(res, r.status, 'text/plain; charset=utf-8', `${r.status === 403 ? 'refused' : 'not found'}: ${r.why}\n`);
}

export interface ServeOptions {
  root: string;
  log?: (msg: string) => void;
}

export function handle(o: ServeOptions, req: IncomingMessage, res: ServerResponse): void {
  const log = o.log ?? (() => {});
  if (req.method !== 'GET' && req.method !== 'HEAD') {
    send(res, 405, 'text/plain; charset=utf-8', 'only GET and HEAD\n');
    return;
  }
  const raw = req.url ?? '/';
  const q = raw.indexOf('?');
  const pathPart = q === -1 ? raw : raw.slice(0, q);
  const params = new URLSearchParams(q === -1 ? '' : raw.slice(q + 1));
  if (pathPart === '/' || pathPart === '/index.html') {
    const query = params.get('q') ?? '';
    send(res, 200, 'text/html; charset=utf-8', indexPage(filterEntries(listEntries(o.root), query), query, o.root));
    return;
  }
  if (pathPart === '/api/entries') {
    send(res, 200, 'application/json; charset=utf-8', JSON.stringify(filterEntries(listEntries(o.root), params.get('q') ?? '')));
    return;
  }
  if (pathPart.startsWith('/files/')) {
    const r = resolveUnder(o.root, pathPart.slice('/files'.length));
    if (!r.ok) return refuse(res, r);
    let st;
    try {
      st = statSync(r.path);
    } catch {
      return refuse(res, { ok: false, status: 404, why: 'not found' });
    }
    if (!st.isFile()) return refuse(res, { ok: false, status: 404, why: 'not a file' });
    res.writeHead(200, { 'content-type': contentTypes[extname(r.path)] ?? 'application/octet-stream', 'content-length': st.size, 'cache-control': 'no-store', 'x-content-type-options': 'nosniff' });
    if (req.method === 'HEAD') return void res.end();
    createReadStream(r.path).on('error', () => res.destroy()).pipe(res);
    return;
  }
  if (pathPart.startsWith('/archive/') && pathPart.endsWith('.tar.gz')) {
    const r = resolveUnder(o.root, pathPart.slice('/archive'.length, -'.tar.gz'.length));
    if (!r.ok) return refuse(res, r);
    if (!statSync(r.path).isDirectory() || r.path === realpathSync(resolve(o.root))) return refuse(res, { ok: false, status: 404, why: 'not a run directory' });
    const name = relative(realpathSync(resolve(o.root)), r.path).split(sep).join('_').replace(/[^\w.-]/g, '_');
    res.writeHead(200, { 'content-type': 'application/gzip', 'content-disposition': `attachment; filename="${name}.tar.gz"`, 'cache-control': 'no-store' });
    if (req.method === 'HEAD') return void res.end();
    tarGzOf(r.path, name, log).on('error', (e) => {
      log(`archive of ${r.path}: ${e.message}`);
      res.destroy();
    }).pipe(res);
    return;
  }
  send(res, 404, 'text/plain; charset=utf-8', 'not found\n');
}

/** Listen on host:port (0 picks a free port); resolves with the server and its URL. */
export function startServer(o: ServeOptions & { host: string; port: number }): Promise<{ server: Server; url: string }> {
  const server = createServer((req, res) => {
    try {
      handle(o, req, res);
    } catch (err) {
      o.log?.(`request ${req.url ?? ''}: ${(err as Error).message}`);
      if (!res.headersSent) send(res, 500, 'text/plain; charset=utf-8', 'internal error\n');
      else res.destroy();
    }
  });
  return new Promise((resolveP, reject) => {
    server.once('error', reject);
    server.listen(o.port, o.host, () => {
      const a = server.address();
      const port = typeof a === 'object' && a !== null ? a.port : o.port;
      const host = o.host.includes(':') ? `[${o.host}]` : o.host;
      resolveP({ server, url: `http://${host}:${port}/` });
    });
  });
}
