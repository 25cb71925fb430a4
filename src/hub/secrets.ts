import { randomBytes, scrypt, timingSafeEqual, type ScryptOptions } from 'node:crypto';

/**
 * Password and app-token hashing with scrypt (RFC 7914). Stored form:
 *   scrypt$<log2 N>$<r>$<p>$<salt base64url>$<hash base64url>
 * The parameters travel with the hash so they can be raised later without breaking old records.
 */
const params = { log2N: 15, r: 8, p: 1, keyBytes: 32, saltBytes: 16 } as const;

function derive(secret: string, salt: Buffer, log2N: number, r: number, p: number, keyBytes: number): Promise<Buffer> {
  const N = 2 ** log2N;
  const options: ScryptOptions = { N, r, p, maxmem: 256 * N * r };
  return new Promise((resolve, reject) =>
    scrypt(secret.normalize('NFC'), salt, keyBytes, options, (err, key) => (err ? reject(err) : resolve(key))),
  );
}

export async function hashSecret(secret: string): Promise<string> {
  const salt = randomBytes(params.saltBytes);
  const key = await derive(secret, salt, params.log2N, params.r, params.p, params.keyBytes);
  return ['scrypt', params.log2N, params.r, params.p, salt.toString('base64url'), key.toString('base64url')].join('$');
}

export async function verifySecret(secret: string, stored: string): Promise<boolean> {
  const parts = stored.split('$');
  if (parts.length !== 6 || parts[0] !== 'scrypt') return false;
  const [, log2N, r, p, salt, hash] = parts as [string, string, string, string, string, string];
  const expected = Buffer.from(hash, 'base64url');
  const key = await derive(secret, Buffer.from(salt, 'base64url'), Number(log2N), Number(r), Number(p), expected.length);
  return key.length === expected.length && timingSafeEqual(key, expected);
}

/** App tokens read `sp_<id>_<secret>`: the id finds the record, only the secret's hash is stored. */
export function newAppToken(): { id: string; secret: string; token: string } {
  const id = randomBytes(9).toString('base64url').replace(/[-_]/g, 'x');
  const secret = randomBytes(24).toString('base64url');
  return { id, secret, token: `sp_${id}_${secret}` };
}

export function parseAppToken(token: string): { id: string; secret: string } | undefined {
  const m = /^sp_([A-Za-z0-9]{12})_([A-Za-z0-9_-]{32})$/.exec(token);
  return m ? { id: m[1] as string, secret: m[2] as string } : undefined;
}
