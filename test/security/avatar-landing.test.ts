import { readdir } from 'node:fs/promises';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Readable } from 'node:stream';
import { eq } from 'drizzle-orm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { solidPng } from '../../src/adapters/koala/demo-data.js';
import { isPublicAddress } from '../../src/adapters/addresses.js';
import { landedFiles } from '../../src/db/schema.js';
import { newOpenid, newPhone } from '../helpers/apply.js';
import { startHarness, type Harness } from '../helpers/harness.js';

/**
 * Landing a Koala picture (avatars) takes a URL from Koala's answer and republishes the bytes
 * from our storage. A URL, or a redirect, that leads from the Koala box into this host or the
 * local networks (the cloud metadata service, another local port) must not be fetched; a huge or
 * endless answer must be cut at the limit; and only real pictures are landed.
 */
const SECRET_PNG = solidPng([1, 2, 3]);
const LIMIT = 5 * 1024 * 1024;

let h: Harness;
/** A server elsewhere on this host: what a forged picture URL points at (like 169.254.169.254). */
let inside: Server;
let insideUrl = '';
const insideHits: string[] = [];
/** Bytes the endless picture handed to the socket, and a promise settled when its stream ended. */
let endlessSent = 0;
let endlessClosed: Promise<void>;

/** Employees whose avatars are the cases below (added before the first lookup: the directory is read once). */
const people = {
  redirectInside: { name: '跳转内网', phone: newPhone('136'), avatar: '/static/upload/avatar/redirect-inside.png' },
  absoluteInside: { name: '直连内网', phone: newPhone('136'), avatar: '' },
  namedInside: { name: '域名内网', phone: newPhone('136'), avatar: '' },
  redirectHome: { name: '站内跳转', phone: newPhone('136'), avatar: '/static/upload/avatar/redirect-home.png' },
  endless: { name: '无尽图片', phone: newPhone('136'), avatar: '/static/upload/avatar/endless.png' },
  html: { name: '网页图片', phone: newPhone('136'), avatar: '/static/upload/avatar/page.png' },
};

beforeAll(async () => {
  inside = createServer((req, res) => {
    insideHits.push(req.url ?? '');
    res.writeHead(200, { 'content-type': 'image/png' }).end(SECRET_PNG);
  });
  await new Promise<void>((r) => inside.listen(0, '127.0.0.1', r));
  const port = (inside.address() as AddressInfo).port;
  insideUrl = `http://127.0.0.1:${port}`;
  people.absoluteInside.avatar = `${insideUrl}/latest/meta-data/secret.png`;
  people.namedInside.avatar = `http://localhost:${port}/latest/meta-data/secret.png`;

  h = await startHarness({ env: { BIND_VERIFY_PHONE: 'false' } });
  const koala = h.sims.koala;
  koala.redirectImage('/static/upload/avatar/redirect-inside.png', `${insideUrl}/latest/meta-data/secret.png`);
  koala.redirectImage('/static/upload/avatar/redirect-home.png', `${koala.url}/static/upload/avatar/zhangwei.png`);
  koala.addImage('/static/upload/avatar/page.png', Buffer.from('<!DOCTYPE html><html><body>login</body></html>'), 'image/png');
  let closed!: () => void;
  endlessClosed = new Promise((r) => (closed = r));
  koala.addImage('/static/upload/avatar/endless.png', () => {
    const chunk = Buffer.concat([SECRET_PNG, Buffer.alloc(64 * 1024 - SECRET_PNG.length)]);
    const stream = new Readable({
      read() {
        endlessSent += chunk.length;
        this.push(chunk);
      },
    });
    stream.on('close', closed);
    return stream;
  });
  for (const p of Object.values(people)) koala.addEmployee({ name: p.name, phone: p.phone, avatar: p.avatar });
});
afterAll(async () => {
  await h?.close();
  await new Promise((r) => inside?.close(r));
});

/** Binds the employee (no SMS code in this file) and answers the avatar of their profile. */
async function avatarOf(p: { name: string; phone: string }): Promise<string> {
  const token = await h.session(newOpenid('av'));
  const res = await h.request('POST', '/v1/subject/binding', { token, body: { name: p.name, phone: p.phone } });
  expect(res.status, JSON.stringify(res.body)).toBe(200);
  return res.body.data.avatar as string;
}

async function landedFrom(sourceUrl: string) {
  return h.database.db.select().from(landedFiles).where(eq(landedFiles.sourceUrl, sourceUrl));
}

describe('avatar landing: no fetch into private space, a cap on the body, pictures only', () => {
  it('a Koala picture that redirects to another port on this host is not followed', async () => {
    expect(await avatarOf(people.redirectInside)).toBe('');
    expect(insideHits).toEqual([]);
    expect(await landedFrom(`${h.sims.koala.url}${people.redirectInside.avatar}`)).toEqual([]);
  });

  it('an avatar URL naming a private address (literal, or a name resolving to one) is not fetched', async () => {
    expect(await avatarOf(people.absoluteInside)).toBe('');
    expect(await avatarOf(people.namedInside)).toBe('');
    expect(insideHits).toEqual([]);
    expect(await landedFrom(people.absoluteInside.avatar)).toEqual([]);
  });

  it('a redirect within the Koala box itself is followed and the picture landed', async () => {
    const avatar = await avatarOf(people.redirectHome);
    expect(avatar).toMatch(/^http:\/\/laifang\.test\/files\/avatars\/[0-9a-f]{2}\/[0-9a-f]{64}\.png$/);
    const picture = await h.runtime.app.inject({ method: 'GET', url: avatar.replace('http://laifang.test', '') });
    expect(picture.statusCode).toBe(200);
    expect(picture.rawPayload.equals(solidPng([220, 60, 60]))).toBe(true);
  });

  it('an endless answer is cut at the limit: the connection is closed, nothing is landed', async () => {
    expect(await avatarOf(people.endless)).toBe('');
    await endlessClosed;
    // What sat in socket buffers beyond the limit is small; reading on would have gone on to the deadline.
    expect(endlessSent).toBeLessThan(LIMIT + 4 * 1024 * 1024);
    expect(await landedFrom(`${h.sims.koala.url}${people.endless.avatar}`)).toEqual([]);
  });

  it('an HTML page served as image/png is not landed', async () => {
    expect(await avatarOf(people.html)).toBe('');
    expect(await landedFrom(`${h.sims.koala.url}${people.html.avatar}`)).toEqual([]);
    // Only the one real picture sits in storage.
    const dir = h.runtime.config.storage.driver === 'local' ? h.runtime.config.storage.dir : '';
    const files = await readdir(dir, { recursive: true });
    expect(files.filter((f) => String(f).match(/\.(png|jpg|gif|webp|img)$/))).toHaveLength(1);
  });

  it('the address rule: loopback, private, link-local (metadata), mapped and NAT64 forms refused; public allowed', () => {
    for (const a of [
      '127.0.0.1',
      '10.1.2.3',
      '172.16.0.1',
      '192.168.1.1',
      '169.254.169.254',
      '100.64.0.1',
      '0.0.0.0',
      '::1',
      '::',
      'fe80::1',
      'fd00::1',
      '::ffff:127.0.0.1',
      '::ffff:a9fe:a9fe',
      '64:ff9b::a9fe:a9fe',
      '2002:7f00:1::',
      'not-an-ip',
    ]) {
      expect(isPublicAddress(a), a).toBe(false);
    }
    for (const a of ['8.8.8.8', '114.114.114.114', '2400:3200::1', '::ffff:8.8.8.8']) expect(isPublicAddress(a), a).toBe(true);
  });
});
