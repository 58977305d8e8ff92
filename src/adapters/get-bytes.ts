import { lookup as dnsLookup, type LookupAddress, type LookupOptions } from 'node:dns';
import { request as httpRequest, type IncomingMessage } from 'node:http';
import { request as httpsRequest } from 'node:https';
import { isIP } from 'node:net';
import { UpstreamError, type UpstreamSystem } from '../errors.js';
import { isPublicAddress } from './addresses.js';
import { redactUrl } from './http.js';

export interface GetBytesOptions {
  /** One deadline for the whole fetch, redirects included. */
  timeoutMs: number;
  /** The body is read up to this many bytes; one more ends the fetch (UPSTREAM_FAILED). */
  maxBytes: number;
  /**
   * Base URLs of the configured outside system (e.g. KOALA_URL): their host and port are reached
   * wherever they resolve (the Koala box lives on the office network). Any other host must
   * resolve to public addresses only, at every hop.
   */
  trusted: string[];
  /** Redirects followed at most (default 3), each checked like the first URL. */
  maxRedirects?: number;
}

export interface BytesAnswer {
  status: number;
  contentType: string;
  body: Buffer;
}

const REDIRECTS = new Set([301, 302, 303, 307, 308]);

/** `hostname:port` with the scheme's default port filled in, so that `http://x` and `http://x:80` are one origin. */
function hostKey(u: URL): string {
  const port = u.port || (u.protocol === 'https:' ? '443' : '80');
  return `${u.hostname.toLowerCase()}:${port}`;
}

/** A DNS lookup that refuses a name resolving to any non-public address: the address checked is the one connected to. */
function publicOnlyLookup(hostname: string, options: LookupOptions, callback: (...args: unknown[]) => void): void {
  dnsLookup(hostname, { ...options, all: true }, (err, addresses: LookupAddress[]) => {
    if (err) return callback(err);
    const bad = addresses.find((a) => !isPublicAddress(a.address));
    if (bad || addresses.length === 0) {
      return callback(Object.assign(new Error(`${hostname} resolves to ${bad?.address ?? 'nothing'}`), { code: 'EPRIVATEADDRESS' }));
    }
    if (options.all) return callback(null, addresses);
    return callback(null, addresses[0]!.address, addresses[0]!.family);
  });
}

/**
 * A binary GET (pictures) of a URL that came from an outside system's answer. The body is
 * streamed and the fetch ends as soon as it passes `maxBytes`, so a huge or endless answer
 * never sits in memory. Redirects are followed by hand: each hop's URL must be http(s), and a
 * host other than the trusted ones must resolve only to public addresses (checked in the
 * lookup the connection uses, so a name cannot resolve one way for the check and another for
 * the connection); a literal private address is refused before any connection.
 */
export async function httpGetBytes(system: UpstreamSystem, url: string, opts: GetBytesOptions): Promise<BytesAnswer> {
  const trusted = new Set(opts.trusted.map((t) => hostKey(new URL(t))));
  const signal = AbortSignal.timeout(opts.timeoutMs);
  let current = new URL(url);
  for (let hop = 0; ; hop++) {
    if (current.protocol !== 'http:' && current.protocol !== 'https:') {
      throw new UpstreamError(system, 'UPSTREAM_FAILED', `GET ${redactUrl(url)}: a redirect to a ${current.protocol} URL is refused`);
    }
    const isTrusted = trusted.has(hostKey(current));
    const literal = current.hostname.replace(/^\[|\]$/g, '');
    if (!isTrusted && isIP(literal) !== 0 && !isPublicAddress(literal)) {
      throw refused(system, current, literal);
    }
    const answer = await getOnce(system, current, isTrusted, signal, opts.maxBytes);
    if (!('location' in answer)) return answer;
    if (hop >= (opts.maxRedirects ?? 3)) throw new UpstreamError(system, 'UPSTREAM_FAILED', `GET ${redactUrl(url)}: too many redirects`);
    try {
      current = new URL(answer.location, current);
    } catch {
      throw new UpstreamError(system, 'UPSTREAM_FAILED', `GET ${redactUrl(current.href)}: a redirect to an invalid URL`);
    }
  }
}

function refused(system: UpstreamSystem, u: URL, address: string): UpstreamError {
  return new UpstreamError(system, 'UPSTREAM_FAILED', `GET ${redactUrl(u.href)}: ${u.host} is a private address (${address}); refused`);
}

/** One request: a redirect's location, or the answer with its body (at most `maxBytes`). */
function getOnce(system: UpstreamSystem, u: URL, isTrusted: boolean, signal: AbortSignal, maxBytes: number): Promise<BytesAnswer | { location: string }> {
  const what = `GET ${redactUrl(u.href)}`;
  return new Promise((resolve, reject) => {
    let settled = false;
    const fail = (err: UpstreamError) => {
      if (settled) return;
      settled = true;
      req.destroy();
      reject(err);
    };
    const request = u.protocol === 'https:' ? httpsRequest : httpRequest;
    const req = request(u, { method: 'GET', signal, headers: { accept: 'image/*' }, lookup: isTrusted ? undefined : (publicOnlyLookup as never) });
    req.on('error', (err: NodeJS.ErrnoException) => {
      if (err.code === 'EPRIVATEADDRESS') return fail(new UpstreamError(system, 'UPSTREAM_FAILED', `${what}: ${err.message}, a private address; refused`));
      fail(new UpstreamError(system, 'UPSTREAM_UNAVAILABLE', `${what} failed: ${signal.aborted ? 'timed out' : (err.code ?? err.message)}`, { cause: err }));
    });
    req.on('response', (res: IncomingMessage) => {
      const status = res.statusCode ?? 0;
      const location = res.headers.location;
      if (REDIRECTS.has(status) && location) {
        res.resume();
        settled = true;
        return resolve({ location });
      }
      const declared = Number(res.headers['content-length'] ?? '0');
      if (declared > maxBytes) return fail(new UpstreamError(system, 'UPSTREAM_FAILED', `${what}: ${declared} bytes is over the ${maxBytes} limit`));
      const chunks: Buffer[] = [];
      let size = 0;
      res.on('data', (chunk: Buffer) => {
        size += chunk.length;
        if (size > maxBytes) return fail(new UpstreamError(system, 'UPSTREAM_FAILED', `${what}: over the ${maxBytes} bytes limit`));
        chunks.push(chunk);
      });
      res.on('error', (err) =>
        fail(new UpstreamError(system, 'UPSTREAM_UNAVAILABLE', `reading ${what} failed: ${signal.aborted ? 'timed out' : err.message}`, { cause: err })),
      );
      res.on('close', () =>
        fail(new UpstreamError(system, 'UPSTREAM_UNAVAILABLE', `reading ${what} failed: ${signal.aborted ? 'timed out' : 'the connection closed early'}`)),
      );
      res.on('end', () => {
        if (settled) return;
        settled = true;
        resolve({ status, contentType: String(res.headers['content-type'] ?? 'application/octet-stream'), body: Buffer.concat(chunks) });
      });
    });
    req.end();
  });
}
