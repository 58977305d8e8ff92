import { createCipheriv, createDecipheriv, createHmac, randomBytes } from 'node:crypto';

/**
 * AES-256-GCM for secrets kept in the database (the Koala password): a copy of the database
 * alone does not reveal them. The key is derived from the service secret, so a changed
 * SESSION_SECRET makes old values unreadable — they are then treated as unset (and logged).
 */
export interface SecretBox {
  seal(plain: string): string;
  /** null when the value was sealed with another key or is damaged. */
  open(sealed: string): string | null;
}

export function createSecretBox(secret: string): SecretBox {
  const key = createHmac('sha256', secret).update('laifang/settings/v1').digest();
  return {
    seal(plain) {
      const iv = randomBytes(12);
      const cipher = createCipheriv('aes-256-gcm', key, iv);
      const body = Buffer.concat([cipher.update(plain, 'utf8'), cipher.final()]);
      return `v1.${iv.toString('base64url')}.${cipher.getAuthTag().toString('base64url')}.${body.toString('base64url')}`;
    },
    open(sealed) {
      const [v, iv, tag, body] = sealed.split('.');
      if (v !== 'v1' || !iv || !tag || body === undefined) return null;
      try {
        const decipher = createDecipheriv('aes-256-gcm', key, Buffer.from(iv, 'base64url'));
        decipher.setAuthTag(Buffer.from(tag, 'base64url'));
        return Buffer.concat([decipher.update(Buffer.from(body, 'base64url')), decipher.final()]).toString('utf8');
      } catch {
        return null;
      }
    },
  };
}
