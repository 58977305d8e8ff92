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

export interface PassViews {
  /**
   * What the messages link to: the H5 pass page showing the pass picture full screen, with the
   * brightness hint; null when the pass is gone or revoked. Built when a message is sent: the
   * picture URL's key opens the pass, so it is never stored.
   */
  pageUrl(passId: number): Promise<string | null>;
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
export function createPassViews(deps: { db: Db; keys: PassKeys; logger: Logger; publicUrl: string }): PassViews {
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
    async pageUrl(passId) {
      const p = await visitRepo.pass(db, passId);
      if (!p || p.revokedAt !== null) return null;
      return `${deps.publicUrl}/h5/#/pass?img=${encodeURIComponent(imageUrl(p))}`;
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
