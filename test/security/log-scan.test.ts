import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pino } from 'pino';
import { afterAll, describe, expect, it } from 'vitest';
import { createLogger } from '../../src/log.js';
import { scanLogDir } from './log-scan.js';

/**
 * The whole-suite log scan (test/global-setup.ts teardown) must be able to fail, and the
 * service's logger must mask a number wherever it appears in a line.
 */
const dir = mkdtempSync(join(tmpdir(), 'laifang-logscan-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('log scan', () => {
  it('finds a full mobile number, and not digits inside timestamps or masked numbers', () => {
    writeFileSync(
      join(dir, 'a.log'),
      [
        '{"time":1764550800123,"msg":"ok","phone":"138****0001"}',
        '{"msg":"leak","phone":"13800000001"}',
        '{"id":"req-139123456789012"}',
        '{"reqId":"809eb201-e694-4fc2-8b49-e14110806009"}',
        '',
      ].join('\n'),
    );
    writeFileSync(join(dir, 'b.txt'), '13800000002\n');
    const scan = scanLogDir(join(dir));
    expect(scan.files).toBe(1);
    expect(scan.lines).toBe(4);
    expect(scan.leakCount).toBe(1);
    expect(scan.leaks[0]).toContain('"leak"');
  });

  it("the service's logger masks numbers in messages, fields, nested objects, errors and child bindings", () => {
    const file = join(dir, 'service.log');
    const logger = createLogger('debug', pino.destination({ dest: file, sync: true }));
    const phone = '13912345678';
    logger.info(`sent to ${phone}`);
    logger.info({ phone, nested: { list: [`+86 ${phone}`, { deep: `call 139-1234-5678` }] } }, 'fields');
    logger.error({ err: new Error(`upstream refused ${phone}`) }, 'failed');
    logger.child({ phone }).warn('child');
    logger.child({ upstream: 'sms' }).child({ target: phone }).info({ again: phone }, `and ${phone}`);
    logger.debug({ url: `/v1/visit/records?phone=${phone}` }, 'debug line');
    // A request id whose hex holds 11 decimal digits stays whole.
    logger.child({ reqId: '809eb201-e694-4fc2-8b49-e14110806009' }).info({ req: { id: '809eb201-e694-4fc2-8b49-e14110806009' } }, 'request');
    const text = readFileSync(file, 'utf8');
    expect(text.split('\n').filter(Boolean)).toHaveLength(7);
    expect(text.split('809eb201-e694-4fc2-8b49-e14110806009').length).toBe(3);
    expect(text).toContain('139****5678');
    const scan = scanLogDir(dir);
    expect(scan.leaks.filter((l) => l.startsWith('service.log'))).toEqual([]);
  });

  it('masks a number typed in groups: spaces, dashes, dots, +86, and a URL query (`+`, `%20`, `%2B86`)', () => {
    const file = join(dir, 'groups.log');
    const logger = createLogger('debug', pino.destination({ dest: file, sync: true }));
    const typed = ['139 0000 0002', '139-0000-0002', '139.0000.0002', '+86 139 0000 0002', '+86-13900000002', '008613900000002', '8613900000002'];
    for (const t of typed) logger.info({ typed: t }, `typed ${t}`);
    for (const q of ['139+0000+0002', '139%200000%200002', '%2B86+139+0000+0002', '%2b8613900000002'])
      logger.info({ req: { method: 'GET', url: `/v1/visit/records?type=web&phone=${q}&page=1`, id: 'r1' } }, 'incoming request');
    const text = readFileSync(file, 'utf8');
    expect(text.split('\n').filter(Boolean)).toHaveLength(typed.length + 4);
    for (const t of typed) expect(text).not.toContain(t);
    expect(text).not.toMatch(/0000.?0002/);
    expect(text.match(/139\*{4}0002/g)?.length).toBe(typed.length * 2 + 4);
    // The scan of the test run finds such numbers too, so a leak of this form fails the run.
    writeFileSync(join(dir, 'leak-groups.log'), '{"url":"/v1/visit/records?phone=139+0000+0002"}\n{"phone":"139 0000 0002"}\n');
    const scan = scanLogDir(dir);
    expect(scan.leaks.filter((l) => l.startsWith('groups.log'))).toEqual([]);
    expect(scan.leaks.filter((l) => l.startsWith('leak-groups.log'))).toHaveLength(2);
    rmSync(join(dir, 'leak-groups.log'));
  });

  it('credentials in a logged request URL are redacted: a pass picture key, an OAuth code', () => {
    const file = join(dir, 'urls.log');
    const logger = createLogger('debug', pino.destination({ dest: file, sync: true }));
    logger.info({ req: { method: 'GET', url: '/v1/visit/qrcode/12.png?k=PASSKEY0123456789&x=1', id: 'r1' } }, 'incoming request');
    logger.info({ req: { method: 'GET', url: '/h5/?code=OAUTHCODE42&state=s', id: 'r2' } }, 'incoming request');
    const text = readFileSync(file, 'utf8');
    expect(text).not.toContain('PASSKEY0123456789');
    expect(text).not.toContain('OAUTHCODE42');
    expect(text).toContain('/v1/visit/qrcode/12.png?k=[redacted]&x=1');
    expect(text).toContain('state=s');
  });
});
