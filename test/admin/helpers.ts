import { randomBytes } from 'node:crypto';
import { expect } from 'vitest';
import type { Harness } from '../helpers/harness.js';

let seq = 0;

/** A new admin (through the accounts service, as `npm run admin:create` does) logged in over HTTP. */
export async function adminLogin(
  h: Harness,
  username = `admin${++seq}-${randomBytes(3).toString('hex')}`,
): Promise<{ token: string; id: number; username: string; password: string }> {
  const password = `pw-${randomBytes(8).toString('hex')}`;
  const { id } = await h.runtime.admins.create({ username, password });
  const res = await h.request('POST', '/v1/admin/session', { body: { username, password } });
  expect(res.status).toBe(200);
  return { token: res.body.data.token as string, id, username, password };
}

export function expectError(res: { status: number; body: any }, status: number, error: string): void {
  expect({ status: res.status, code: res.body.code, error: res.body.error }).toEqual({ status, code: status, error });
  expect(typeof res.body.err_msg).toBe('string');
  expect(res.body.err_msg).not.toBe('');
  expect(res.body).not.toHaveProperty('data');
}

/** A request with `Authorization: Device <token>`. */
export function asDevice(h: Harness, method: string, url: string, token: string, body?: unknown) {
  return h.request(method, url, { headers: { authorization: `Device ${token}` }, body });
}
