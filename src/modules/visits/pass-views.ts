import type { Db } from '../../db/client.js';
import { AppError } from '../../errors.js';
import { maskPhone, type Logger } from '../../log.js';
import { hashToken, qrContent, type PassKeys } from './passes.js';
import { visitRepo, type PassRow, type VisitApplication } from './repo.js';

export interface PassView {
  subject_id: number | null;
  name: string;
  phone: string;
  qrcode: string;
  qrcode_img_url: string;
}

export interface SigninView extends PassView {
  id: number;
  interviewee: string;
  start_time: number;
  end_time: number;
  signin_time: number;
  retinues: PassView[];
}

/** One pass as its short code shows it (`GET /v1/visit/pass/{code}`): that pass and nothing else. */
export interface LinkedPassView {
  id: number;
  name: string;
  interviewee: string;
  start_time: number;
  end_time: number;
  signin_time: number | null;
  qrcode_img_url: string;
}

export interface PassViews {
  /**
   * The short code an SMS carries for a pass (`/p/{code}`); null when the pass is gone or
   * revoked. Made when a message is sent (the code opens the pass, so it is never stored); the
   * pass's `link_hash` is brought up to date first (a pass issued before codes existed, or
   * under another server secret).
   */
  linkCode(passId: number): Promise<string | null>;
  /** The pass a short code opens: 'gone' once it no longer admits (checked out, window over), null for no such code. */
  byLink(code: string): Promise<LinkedPassView | 'gone' | null>;
  /**
   * The sign-in's answer for the person who typed `viewer` at the kiosk: the visitor first, the
   * companions after, in the contract's shape. Only the viewer's own pass is shown in full; every
   * other person is their name and masked phone, with empty `qrcode` and `qrcode_img_url` (each
   * gets their own pass by message, or by typing their own phone).
   */
  signin(a: VisitApplication, passes: PassRow[], signinTime: number, viewer: string): Promise<SigninView>;
  /** The QR content of a pass for its picture; null when the URL is not one we gave out or the pass is revoked. */
  forImage(passId: number, key: string): Promise<string | null>;
  /** The pass `phone` holds for the visit while it is not revoked (its QR content and picture URL), or null. */
  holderPass(applicationId: number, phone: string): Promise<{ qrcode: string; qrcode_img_url: string } | null>;
}

/** How passes are shown: QR content, picture URL and the pass page, from the pass keys. */
export function createPassViews(deps: { db: Db; keys: PassKeys; logger: Logger; publicUrl: string; now: () => number }): PassViews {
  const { db, keys } = deps;
  const imageUrl = (p: PassRow) => `${deps.publicUrl}/v1/visit/qrcode/${p.id}.png?k=${keys.imageKey(p.tokenSalt)}`;

  /** The token of a pass; a pass issued under another server secret gets a fresh hash (re-issued). */
  async function tokenOf(p: PassRow): Promise<string> {
    const token = keys.token(p.tokenSalt);
    const hash = hashToken(token);
    if (hash !== p.tokenHash) {
      deps.logger.warn({ passId: p.id }, 'pass issued under another server secret: re-issued');
      await visitRepo.rehash(db, p.id, hash);
    }
    return token;
  }

  return {
    async linkCode(passId) {
      const p = await visitRepo.pass(db, passId);
      if (!p || p.revokedAt !== null) return null;
      const code = keys.linkCode(p.tokenSalt);
      const hash = hashToken(code);
      if (p.linkHash !== hash) await visitRepo.setLinkHash(db, p.id, hash);
      return code;
    },

    async byLink(code) {
      const found = await visitRepo.passByLink(db, hashToken(code));
      if (!found) return null;
      const { pass: p, a } = found;
      if (p.revokedAt !== null || a.signoutTime !== null || a.endTime * 1000 <= deps.now()) return 'gone';
      return {
        id: a.id,
        name: p.name,
        interviewee: a.interviewee,
        start_time: a.startTime,
        end_time: a.endTime,
        signin_time: a.signinTime,
        qrcode_img_url: imageUrl(p),
      };
    },

    async signin(a, passes, signinTime, viewer) {
      const views: PassView[] = [];
      for (const p of passes) {
        if (p.phone === viewer) {
          views.push({ subject_id: p.subjectId, name: p.name, phone: p.phone, qrcode: qrContent(a.id, await tokenOf(p)), qrcode_img_url: imageUrl(p) });
        } else {
          views.push({ subject_id: p.subjectId, name: p.name, phone: maskPhone(p.phone), qrcode: '', qrcode_img_url: '' });
        }
      }
      const [visitor, ...retinues] = views;
      if (!visitor) throw new AppError('INTERNAL', undefined, { detail: `application ${a.id} signed in without passes` });
      return { id: a.id, ...visitor, interviewee: a.interviewee, start_time: a.startTime, end_time: a.endTime, signin_time: signinTime, retinues };
    },

    async forImage(passId, key) {
      const p = await visitRepo.pass(db, passId);
      if (!p || p.revokedAt !== null || !keys.imageKeyMatches(p.tokenSalt, key)) return null;
      return qrContent(p.applicationId, await tokenOf(p));
    },

    async holderPass(applicationId, phone) {
      const p = (await visitRepo.passes(db, applicationId)).find((x) => x.phone === phone && x.revokedAt === null);
      if (!p) return null;
      return { qrcode: qrContent(applicationId, await tokenOf(p)), qrcode_img_url: imageUrl(p) };
    },
  };
}
