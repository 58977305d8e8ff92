import { count, eq, sql } from 'drizzle-orm';
import type { Db } from '../../db/client.js';
import { admins } from '../../db/schema.js';
import { AppError } from '../../errors.js';
import type { Audit } from '../audit/service.js';
import { createLoginLimit } from './login-limit.js';
import { dummyHash, hashPassword, passwordProblem, verifyPassword } from './password.js';
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
  /** Creates the first admin if there is none yet; false when an admin already existed. */
  ensureFirst(input: { username: string; password: string }): Promise<boolean>;
  login(username: string, password: string, address: string): Promise<AdminSession>;
  authenticate(token: string): Promise<AdminPrincipal | null>;
  /** Ends every session of the admin (the version in the tokens no longer matches) and returns a new one. */
  changePassword(adminId: number, oldPassword: string, newPassword: string): Promise<AdminSession>;
}

const USERNAME = /^[A-Za-z0-9_.@-]{3,64}$/;

export function checkNewAdmin(username: string, password: string): void {
  if (!USERNAME.test(username)) throw new AppError('VALIDATION_FAILED', '用户名须为 3–64 个字母、数字或 _ . @ -');
  const problem = passwordProblem(password);
  if (problem) throw new AppError('VALIDATION_FAILED', problem);
}

export function createAdminAccounts(deps: { db: Db; tokens: AdminTokens; audit: Audit; now: () => number }): AdminAccounts {
  const { db } = deps;
  const nowSeconds = () => Math.floor(deps.now() / 1000);
  const limit = createLoginLimit({ db, now: deps.now });
  // Verifying against this when the username is unknown costs the same scrypt as a real check.
  let dummy: Promise<string> | null = null;

  const session = (row: { id: number; username: string; sessionVersion: number }): AdminSession => {
    const t = deps.tokens.issue(row.id, row.sessionVersion, nowSeconds());
    return { token: t.token, expires_at: t.expiresAt, admin: { id: row.id, username: row.username } };
  };

  const accounts: AdminAccounts = {
    async create({ username, password }, by) {
      checkNewAdmin(username, password);
      const passwordHash = await hashPassword(password);
      return db.transaction(async (tx) => {
        const at = nowSeconds();
        const [row] = await tx
          .insert(admins)
          .values({ username, passwordHash, createdAt: at, updatedAt: at })
          .onConflictDoNothing()
          .returning({ id: admins.id });
        if (!row) throw new AppError('CONFLICT', `管理员 ${username} 已存在`);
        await deps.audit.record(tx, {
          actor: by ?? { kind: 'system', id: 'setup' },
          action: 'admin.create',
          targetType: 'admin',
          targetId: String(row.id),
          detail: { username },
        });
        return { id: row.id, username };
      });
    },
    async ensureFirst(input) {
      const [row] = await db.select({ n: count() }).from(admins);
      if ((row?.n ?? 0) > 0) return false;
      checkNewAdmin(input.username, input.password);
      const passwordHash = await hashPassword(input.password);
      return db.transaction(async (tx) => {
        // Two replicas starting together: one creates, the other sees it.
        await tx.execute(sql`select pg_advisory_xact_lock(hashtext('laifang:first-admin'))`);
        const [again] = await tx.select({ n: count() }).from(admins);
        if ((again?.n ?? 0) > 0) return false;
        const at = nowSeconds();
        const [created] = await tx.insert(admins).values({ username: input.username, passwordHash, createdAt: at, updatedAt: at }).returning({ id: admins.id });
        await deps.audit.record(tx, {
          actor: { kind: 'system', id: 'config' },
          action: 'admin.create',
          targetType: 'admin',
          targetId: String(created!.id),
          detail: { username: input.username, source: 'ADMIN_USERNAME' },
        });
        return true;
      });
    },
    async login(username, password, address) {
      await limit.attempt(username, address);
      const [row] = await db.select().from(admins).where(eq(admins.username, username)).limit(1);
      const ok = row ? await verifyPassword(password, row.passwordHash) : (await verifyPassword(password, await (dummy ??= dummyHash())), false);
      if (!row || !ok) throw new AppError('UNAUTHENTICATED', '用户名或密码错误');
      await limit.succeeded(username, address);
      await deps.audit.record(db, {
        actor: { kind: 'admin', id: String(row.id) },
        action: 'admin.login',
        targetType: 'admin',
        targetId: String(row.id),
        detail: { address },
      });
      return session(row);
    },
    async authenticate(token) {
      const claims = deps.tokens.verify(token, nowSeconds());
      if (!claims) return null;
      const [row] = await db
        .select({ id: admins.id, username: admins.username, sessionVersion: admins.sessionVersion })
        .from(admins)
        .where(eq(admins.id, claims.sub))
        .limit(1);
      if (!row || row.sessionVersion !== claims.ver) return null;
      return { id: row.id, username: row.username };
    },
    async changePassword(adminId, oldPassword, newPassword) {
      const problem = passwordProblem(newPassword);
      if (problem) throw new AppError('VALIDATION_FAILED', problem);
      const [row] = await db.select().from(admins).where(eq(admins.id, adminId)).limit(1);
      if (!row) throw new AppError('UNAUTHENTICATED', '管理员不存在');
      if (!(await verifyPassword(oldPassword, row.passwordHash))) throw new AppError('FORBIDDEN', '原密码错误');
      const passwordHash = await hashPassword(newPassword);
      return db.transaction(async (tx) => {
        const [updated] = await tx
          .update(admins)
          .set({ passwordHash, sessionVersion: sql`${admins.sessionVersion} + 1`, updatedAt: nowSeconds() })
          .where(eq(admins.id, adminId))
          .returning({ id: admins.id, username: admins.username, sessionVersion: admins.sessionVersion });
        await deps.audit.record(tx, {
          actor: { kind: 'admin', id: String(adminId) },
          action: 'admin.password_change',
          targetType: 'admin',
          targetId: String(adminId),
        });
        return session(updated!);
      });
    },
  };
  return accounts;
}
