import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { request as httpRequest } from 'node:http';
import { request as httpsRequest, type RequestOptions } from 'node:https';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { connect as tlsConnect } from 'node:tls';
import { gunzipSync } from 'node:zlib';
import { freePort, waitUntil } from '../helpers/service-process.js';

/**
 * What the deployment tests share: finding the programs they drive (skipped when missing outside
 * CI, failed in CI: scripts/ci-deploy-prereqs.sh installs them), a self-signed certificate, and
 * nginx running deploy/nginx/laifang.conf on 127.0.0.1 in front of a service.
 */

export const ROOT = resolve(import.meta.dirname, '../..');

export type ProgramState = { state: 'present'; path: string } | { state: 'missing-skip' | 'missing-fail'; path: null };

/** A program in one of the usual places; in CI (CI set) a missing one fails the tests. */
export function program(name: string): ProgramState {
  for (const dir of ['/usr/sbin', '/usr/bin', '/sbin', '/bin', '/usr/local/sbin', '/usr/local/bin']) {
    const path = join(dir, name);
    if (existsSync(path)) return { state: 'present', path };
  }
  const state = process.env.CI ? 'missing-fail' : 'missing-skip';
  if (state === 'missing-skip') console.warn(`\n!!! SKIPPING deployment tests that need ${name}: run scripts/ci-deploy-prereqs.sh (apt-get install)\n`);
  return { state, path: null };
}

/** nginx, and openssl for the test's certificate: present, or what is missing decides (skip or fail). */
export function nginxProgram(): ProgramState {
  const nginx = program('nginx');
  const openssl = program('openssl');
  return nginx.state !== 'present' ? nginx : openssl.state !== 'present' ? openssl : nginx;
}

/** A self-signed certificate for 127.0.0.1, as openssl makes it; `pem` is what a client trusts. */
export function selfSignedCertificate(dir: string): { cert: string; key: string; pem: string } {
  const cert = join(dir, 'cert.pem');
  const key = join(dir, 'key.pem');
  execFileSync(
    'openssl',
    [
      'req',
      '-x509',
      '-newkey',
      'ec',
      '-pkeyopt',
      'ec_paramgen_curve:prime256v1',
      '-nodes',
      '-days',
      '2',
      '-subj',
      '/CN=127.0.0.1',
      '-addext',
      'subjectAltName=IP:127.0.0.1,DNS:localhost',
      '-keyout',
      key,
      '-out',
      cert,
    ],
    { stdio: 'pipe' },
  );
  return { cert, key, pem: readFileSync(cert, 'utf8') };
}

export interface SiteOptions {
  httpsPort: number;
  httpPort: number;
  upstreamPort: number;
  cert: string;
  key: string;
  webDist: string;
  verifyDir: string;
  logDir: string;
  acmeDir: string;
}

/**
 * deploy/nginx/laifang.conf with what differs on a test machine replaced: the listening ports
 * (on 127.0.0.1 only, never another address), the certificate, the service's port, and the
 * paths. Each replacement must apply, so a changed file fails here instead of testing less.
 */
export function renderSite(template: string, o: SiteOptions): string {
  let text = template;
  const replace = (pattern: RegExp | string, by: string, times: number) => {
    const found = typeof pattern === 'string' ? text.split(pattern).length - 1 : (text.match(pattern) ?? []).length;
    if (found !== times) throw new Error(`deploy/nginx/laifang.conf: expected ${times} × ${String(pattern)}, found ${found}`);
    text = typeof pattern === 'string' ? text.replaceAll(pattern, by) : text.replace(pattern, by);
  };
  replace(/^\s*listen \[::\]:\d+[^;\n]*;\n/gm, '', 2);
  replace(/listen 443 ssl http2;/g, `listen 127.0.0.1:${o.httpsPort} ssl http2;`, 1);
  replace(/listen 80;/g, `listen 127.0.0.1:${o.httpPort};`, 1);
  replace(/ssl_certificate \S+;/g, `ssl_certificate ${o.cert};`, 1);
  replace(/ssl_certificate_key \S+;/g, `ssl_certificate_key ${o.key};`, 1);
  replace('server 127.0.0.1:3000;', `server 127.0.0.1:${o.upstreamPort};`, 1);
  replace('alias /opt/laifang/web/dist/', `alias ${o.webDist}/`, 2);
  replace('root /var/www/wechat-verify;', `root ${o.verifyDir};`, 1);
  replace('_log /var/log/nginx/', `_log ${o.logDir}/`, 2);
  replace('root /var/www/letsencrypt;', `root ${o.acmeDir};`, 1);
  const listens = text.match(/^\s*listen\s+[^;]+;/gm) ?? [];
  const elsewhere = listens.filter((l) => !/listen 127\.0\.0\.1:\d+[ ;]/.test(l.trim()));
  if (listens.length !== 2 || elsewhere.length > 0) throw new Error(`the test's nginx must listen on 127.0.0.1 only: ${listens.join(' | ')}`);
  return text;
}

export interface Nginx {
  /** https://127.0.0.1:<port> */
  base: string;
  httpsPort: number;
  httpPort: number;
  /** The certificate to trust. */
  ca: string;
  /** Where MP_verify_*.txt files are served from. */
  verifyDir: string;
  errorLog(): string;
  stop(): Promise<void>;
}

/**
 * nginx with Debian's defaults around the site (its mime.types; temp files, logs and pid in a
 * folder of its own), started in the foreground and stopped by the test. `httpsPort` may be
 * given when the service must know its public address before nginx starts.
 */
export async function startNginx(nginxPath: string, upstreamPort: number, opts: { httpsPort?: number } = {}): Promise<Nginx> {
  const dir = mkdtempSync(join(tmpdir(), 'laifang-nginx-'));
  for (const sub of ['tmp', 'logs', 'verify', 'acme']) mkdirSync(join(dir, sub));
  const tls = selfSignedCertificate(dir);
  const httpsPort = opts.httpsPort ?? (await freePort());
  const httpPort = await freePort();
  const site = renderSite(readFileSync(join(ROOT, 'deploy/nginx/laifang.conf'), 'utf8'), {
    httpsPort,
    httpPort,
    upstreamPort,
    cert: tls.cert,
    key: tls.key,
    webDist: join(ROOT, 'web/dist'),
    verifyDir: join(dir, 'verify'),
    logDir: join(dir, 'logs'),
    acmeDir: join(dir, 'acme'),
  });
  writeFileSync(join(dir, 'laifang.conf'), site);
  const temp = ['client_body', 'proxy', 'fastcgi', 'uwsgi', 'scgi'].map((t) => `  ${t}_temp_path ${dir}/tmp/${t};`).join('\n');
  writeFileSync(
    join(dir, 'nginx.conf'),
    `daemon off;\nworker_processes 1;\npid ${dir}/nginx.pid;\nerror_log ${dir}/logs/error.log warn;\n` +
      // As root, workers would run as nobody, who may not read a checkout under /root or /work.
      `${process.getuid?.() === 0 ? 'user root root;\n' : ''}events { worker_connections 512; }\n` +
      `http {\n  include /etc/nginx/mime.types;\n  default_type application/octet-stream;\n  sendfile on;\n  tcp_nopush on;\n` +
      `  types_hash_max_size 2048;\n  access_log ${dir}/logs/access.log;\n${temp}\n  include ${dir}/laifang.conf;\n}\n`,
  );
  const args = ['-e', join(dir, 'logs/error.log'), '-p', dir, '-c', join(dir, 'nginx.conf')];
  execFileSync(nginxPath, [...args, '-t', '-q'], { stdio: 'pipe' });
  const child: ChildProcess = spawn(nginxPath, args, { stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  child.stderr!.on('data', (d: Buffer) => (stderr += d.toString()));
  const errorLog = () => stderr + (existsSync(join(dir, 'logs/error.log')) ? readFileSync(join(dir, 'logs/error.log'), 'utf8') : '');
  await waitUntil(
    async () => {
      if (child.exitCode !== null) throw new Error(`nginx exited: ${errorLog()}`);
      return tlsAnswers(httpsPort, tls.pem);
    },
    'nginx to accept TLS connections',
    15_000,
  );
  return {
    base: `https://127.0.0.1:${httpsPort}`,
    httpsPort,
    httpPort,
    ca: tls.pem,
    verifyDir: join(dir, 'verify'),
    errorLog,
    async stop() {
      if (child.exitCode === null) {
        const exited = new Promise((r) => child.once('exit', r));
        child.kill('SIGQUIT');
        const timer = setTimeout(() => child.kill('SIGKILL'), 10_000);
        await exited;
        clearTimeout(timer);
      }
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

function tlsAnswers(port: number, ca: string): Promise<boolean> {
  return new Promise((done) => {
    const socket = tlsConnect({ host: '127.0.0.1', port, ca, servername: 'localhost' }, () => {
      socket.destroy();
      done(true);
    });
    socket.once('error', () => done(false));
  });
}

export interface Answer {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  /** The body as received (gzipped when content-encoding says so). */
  raw: Buffer;
  /** The body, gunzipped when needed. */
  text: string;
  json: any;
}

/**
 * One request over a new connection (so `localAddress` applies: 127.0.0.2, 127.0.0.3… are
 * different clients to nginx), trusting `ca` for HTTPS. Bodies are sent as JSON.
 */
export function send(
  url: string,
  o: { method?: string; headers?: Record<string, string>; body?: unknown; raw?: Buffer; localAddress?: string; ca?: string } = {},
): Promise<Answer> {
  const target = new URL(url);
  const payload = o.raw ?? (o.body === undefined ? undefined : Buffer.from(JSON.stringify(o.body)));
  const options: RequestOptions = {
    method: o.method ?? (payload ? 'POST' : 'GET'),
    host: target.hostname,
    port: target.port,
    path: `${target.pathname}${target.search}`,
    headers: { ...(payload ? { 'content-type': 'application/json', 'content-length': String(payload.length) } : {}), ...o.headers },
    localAddress: o.localAddress,
    agent: false,
    ca: o.ca,
    servername: 'localhost',
    timeout: 30_000,
  };
  return new Promise((done, fail) => {
    const req = (target.protocol === 'https:' ? httpsRequest : httpRequest)(options, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => {
        const raw = Buffer.concat(chunks);
        const text = (res.headers['content-encoding'] === 'gzip' ? gunzipSync(raw) : raw).toString('utf8');
        let json: unknown = null;
        try {
          json = JSON.parse(text);
        } catch {
          /* not JSON */
        }
        done({ status: res.statusCode ?? 0, headers: res.headers, raw, text, json });
      });
    });
    req.on('timeout', () => req.destroy(new Error(`${url}: no answer in 30 s`)));
    req.on('error', fail);
    req.end(payload);
  });
}
