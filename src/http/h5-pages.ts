import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { FastifyInstance, FastifyReply } from 'fastify';
import fastifyStatic from '@fastify/static';

/** Where `npm run build:web` (and `npm start`'s prestart) writes the H5 pages. */
export const H5_DIST_DIR = fileURLToPath(new URL('../../web/dist/', import.meta.url));

const NOT_BUILT_PAGE = `<!DOCTYPE html>
<html lang="zh-CN"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>来访 · 页面尚未构建</title></head>
<body style="font-family: sans-serif; padding: 24px; line-height: 1.6">
<h2>来访 H5 页面尚未构建</h2>
<p>The H5 pages have not been built. Run <code>npm run build:web</code> (or <code>npm start</code>, which builds them when missing) and reload.</p>
</body></html>
`;

const notBuilt = async (_req: unknown, reply: FastifyReply) =>
  reply.code(503).header('content-type', 'text/html; charset=utf-8').header('cache-control', 'no-store').send(NOT_BUILT_PAGE);

/**
 * Serves the H5 pages (web/, built by Vite) at /h5/, and the admin console (a build of its own,
 * web/admin.html → dist/admin/) at /admin/ by the same rules. When the build output is missing
 * the service still runs (the API does not need the pages) and the pages say how to build them.
 */
export async function registerH5Pages(app: FastifyInstance, dir: string = H5_DIST_DIR): Promise<void> {
  app.get('/admin', { schema: { hide: true } }, async (_req, reply) => reply.redirect('/admin/', 302));
  const adminDir = join(dir, 'admin');
  if (existsSync(join(adminDir, 'admin.html'))) {
    await app.register(fastifyStatic, {
      root: adminDir,
      prefix: '/admin/',
      decorateReply: false,
      index: ['admin.html'],
      cacheControl: false,
      setHeaders: cacheRules,
    });
  } else {
    app.get('/admin/', { schema: { hide: true } }, notBuilt);
    app.get('/admin/*', { schema: { hide: true } }, notBuilt);
  }

  app.get('/h5', { schema: { hide: true } }, async (_req, reply) => reply.redirect('/h5/', 302));
  // Browsers ask the site's root for its icon whatever the page links: the pages' own icon (web/public).
  const icon = join(dir, 'favicon.ico');
  if (existsSync(icon)) {
    const bytes = readFileSync(icon);
    app.get('/favicon.ico', { schema: { hide: true } }, async (_req, reply) =>
      reply.header('content-type', 'image/x-icon').header('cache-control', 'public, max-age=86400').send(bytes),
    );
  }
  if (!existsSync(join(dir, 'index.html'))) {
    app.get('/h5/', { schema: { hide: true } }, notBuilt);
    app.get('/h5/*', { schema: { hide: true } }, notBuilt);
    return;
  }
  await app.register(fastifyStatic, {
    root: dir,
    prefix: '/h5/',
    decorateReply: false,
    index: ['index.html'],
    cacheControl: false,
    setHeaders: cacheRules,
  });
}

/**
 * Vite names assets by content hash: cache them for good; the HTML must be re-read so a new
 * build is picked up at once.
 */
function cacheRules(reply: FastifyReply, path: string): void {
  void reply.header('cache-control', /[\\/]assets[\\/]/.test(path) ? 'public, max-age=31536000, immutable' : 'no-cache');
}
