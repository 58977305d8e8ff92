import type { Db } from '../../db/client.js';
import { AppError } from '../../errors.js';
import type { Audit } from '../audit/service.js';
import { createLoginLimit } from './login-limit.js';
import { dummyHash, hashPassword, passwordProblem, verifyPassword } from './password.js';
import { adminRepo, type AdminSessionRow } from './repo.js';
import type { AdminTokens } from './tokens.js';

/** A signed-in admin. */
export interface AdminPrincipal {
  id: number;
  username: string;
}

export interface AdminSession {
  token: string;
  expires_at: number;
  admin: { id: number; username: string };
}

export interface AdminAccounts {
  /** Creates an admin (CONFLICT when the username is taken); audited when `by` is given. */
  create(input: { username: string; password: string }, by?: { kind: 'admin' | 'system'; id: string }): Promise<{ id: number; username: string }>;
  /** Creates the first admin if there is none yet; false when an admin already existed. `source` is audited. */
  ensureFirst(input: { username: string; password: string }, source?: string): Promise<boolean>;
  login(username: string, password: string, address: string): Promise<AdminSession>;
  authenticate(token: string): Promise<AdminPrincipal | null>;
  /**
   * An admin's own password typed again for a sensitive change: FORBIDDEN when wrong. Wrong
   * ones count against the login limits (per username and address), so a stolen token cannot
   * be used to guess the password.
   */
  confirmPassword(adminId: number, password: string, address: string): Promise<void>;
  /** Ends every session of the admin (the version in the tokens no longer matches) and returns a new one. */
  changePassword(adminId: number, oldPassword: string, newPassword: string): Promise<AdminSession>;
}

const USERNAME = /^[A-Za-z0-9_.@-]{3,64}$/;

export function checkNewAdmin(username: string, password: string): void {
  if (!USERNAME.test(username)) throw new AppError('VALIDATION_FAILED', '用户名须为 3–64 个字母、数字或 _ . @ -');
  const problem = passwordProblem(password);
  if (problem) throw new AppError('VALIDATION_FAILED', problem);
}

export interface AdminAccountsDeps {
  db: Db;
  tokens: AdminTokens;
  audit: Audit;
  now: () => number;
}

/** The accounts' state in this process: the login limit and the stand-in hash for unknown usernames. */
interface Accounts extends AdminAccountsDeps {
  limit: ReturnType<typeof createLoginLimit>;
  /** Verifying against this when the username is unknown costs the same scrypt as a real check. */
  dummy(): Promise<string>;
}

/** Admin accounts: scrypt hashes, `adm1.` tokens tied to a session version, login limits. */
export function createAdminAccounts(deps: AdminAccountsDeps): AdminAccounts {
  let dummy: Promise<string> | null = null;
  const a: Accounts = { ...deps, limit: createLoginLimit({ db: deps.db, now: deps.now }), dummy: () => (dummy ??= dummyHash()) };
  return {
    create: (input, by) => create(a, input, by),
    ensureFirst: (input, source) => ensureFirst(a, input, source ?? 'ADMIN_USERNAME'),
    login: (username, password, address) => login(a, username, password, address),
    async authenticate(token) {
      const claims = deps.tokens.verify(token, seconds(a));
      if (!claims) return null;
      const row = await adminRepo.sessionOf(deps.db, claims.sub);
      if (!row || row.sessionVersion !== claims.ver) return null;
      return { id: row.id, username: row.username };
    },
    confirmPassword: (adminId, password, address) => confirmPassword(a, adminId, password, address),
    changePassword: (adminId, oldPassword, newPassword) => changePassword(a, adminId, oldPassword, newPassword),
  };
}

async function confirmPassword(a: Accounts, adminId: number, password: string, address: string): Promise<void> {
  const row = await adminRepo.byId(a.db, adminId);
  if (!row) throw new AppError('UNAUTHENTICATED', '管理员不存在');
  await a.limit.attempt(row.username, address);
  if (!(await verifyPassword(password, row.passwordHash))) throw new AppError('FORBIDDEN', '管理员密码错误');
  await a.limit.succeeded(row.username, address);
}

const seconds = (a: AdminAccountsDeps) => Math.floor(a.now() / 1000);

function session(a: Accounts, row: AdminSessionRow): AdminSession {
  const t = a.tokens.issue(row.id, row.sessionVersion, seconds(a));
  return { token: t.token, expires_at: t.expiresAt, admin: { id: row.id, username: row.username } };
}

async function create(a: Accounts, { username, password }: { username: string; password: string }, by?: { kind: 'admin' | 'system'; id: string }) {
  checkNewAdmin(username, password);
  const passwordHash = await hashPassword(password);
  return a.db.transaction(async (tx) => {
    const id = await adminRepo.insert(tx, { username, passwordHash, at: seconds(a) });
    if (id === null) throw new AppError('CONFLICT', `管理员 ${username} 已存在`);
    await a.audit.record(tx, {
      actor: by ?? { kind: 'system', id: 'setup' },
      action: 'admin.create',
      targetType: 'admin',
      targetId: String(id),
      detail: { username },
    });
    return { id, username };
  });
}

async function ensureFirst(a: Accounts, input: { username: string; password: string }, source: string): Promise<boolean> {
  if ((await adminRepo.count(a.db)) > 0) return false;
  checkNewAdmin(input.username, input.password);
  const passwordHash = await hashPassword(input.password);
  return a.db.transaction(async (tx) => {
    // Two replicas starting together: one creates, the other sees it.
    await adminRepo.lockFirstAdmin(tx);
    if ((await adminRepo.count(tx)) > 0) return false;
    const id = await adminRepo.insert(tx, { username: input.username, passwordHash, at: seconds(a) });
    if (id === null) throw new AppError('CONFLICT', `管理员 ${input.username} 已存在`);
    await a.audit.record(tx, {
      actor: { kind: 'system', id: 'config' },
      action: 'admin.create',
      targetType: 'admin',
      targetId: String(id),
      detail: { username: input.username, source },
    });
    return true;
  });
}

async function login(a: Accounts, username: string, password: string, address: string): Promise<AdminSession> {
  await a.limit.attempt(username, address);
  const row = await adminRepo.byUsername(a.db, username);
  const ok = row ? await verifyPassword(password, row.passwordHash) : (await verifyPassword(password, await a.dummy()), false);
  if (!row || !ok) throw new AppError('UNAUTHENTICATED', '用户名或密码错误');
  await a.limit.succeeded(username, address);
  await a.audit.record(a.db, {
    actor: { kind: 'admin', id: String(row.id) },
    action: 'admin.login',
    targetType: 'admin',
    targetId: String(row.id),
    detail: { address },
  });
  return session(a, row);
}

async function changePassword(a: Accounts, adminId: number, oldPassword: string, newPassword: string): Promise<AdminSession> {
  const problem = passwordProblem(newPassword);
  if (problem) throw new AppError('VALIDATION_FAILED', problem);
  const row = await adminRepo.byId(a.db, adminId);
  if (!row) throw new AppError('UNAUTHENTICATED', '管理员不存在');
  if (!(await verifyPassword(oldPassword, row.passwordHash))) throw new AppError('FORBIDDEN', '原密码错误');
  const passwordHash = await hashPassword(newPassword);
  return a.db.transaction(async (tx) => {
    const updated = await adminRepo.setPassword(tx, adminId, passwordHash, seconds(a));
    await a.audit.record(tx, {
      actor: { kind: 'admin', id: String(adminId) },
      action: 'admin.password_change',
      targetType: 'admin',
      targetId: String(adminId),
    });
    return session(a, updated!);
  });
}
