import { closeSync, openSync, readFileSync, statSync, writeSync } from 'node:fs';
import { resolve } from 'node:path';
import { newSecretKey, secretKey, secretKeyBytes, type SecretKey } from '../hub/sealed-secrets.js';

/**
 * The server's secret key file (docs/operations.md § Upstream servers): 32 random bytes in base64 on one
 * line, readable by its owner only, kept apart from the database so that a copy of the database (a
 * backup, a dump) does not open the secrets sealed in it.
 *
 * Where it is: the `secretKeyFile` setting; else, on SQLite, DATA.secret-key beside the data directory
 * (not in it: backups copy the data directory), made at first need. PostgreSQL has no default: its
 * processes may run on several hosts, each would make a key of its own, and what one sealed the others
 * could not open; so there it must be given, the same file to every process.
 */
export interface SecretKeyPlace {
  path: string;
  /** Made when missing (the SQLite default), or must already exist (a configured file). */
  create: boolean;
}

export function secretKeyPlace(config: { data: string; database: string; secretKeyFile: string }): SecretKeyPlace | undefined {
  if (config.secretKeyFile !== '') return { path: resolve(config.secretKeyFile), create: false };
  if (config.database !== '') return undefined;
  return { path: `${resolve(config.data)}.secret-key`, create: true };
}

/** The key of the configured place, made there first when the place says so (`made` is then true). Throws a message that names the file and what is wrong. */
export function loadSecretKey(place: SecretKeyPlace): { key: SecretKey; made: boolean } {
  if (place.create) {
    const made = writeNewKeyFile(place.path, false);
    if (made) return { key: made, made: true };
  }
  return { key: readKeyFile(place.path), made: false };
}

/**
 * Writes a new key to `path`, mode 0600, never over an existing file (`mustCreate`: an existing file is an
 * error; else it is left alone and undefined returned).
 */
export function writeNewKeyFile(path: string, mustCreate: boolean): SecretKey | undefined {
  let fd: number;
  try {
    fd = openSync(path, 'wx', 0o600);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'EEXIST' && !mustCreate) return undefined;
    if ((err as NodeJS.ErrnoException).code === 'EEXIST') throw new Error(`${path} exists already; a new key goes to a new file`);
    throw new Error(`cannot create the secret key file ${path}: ${(err as Error).message}`);
  }
  const key = newSecretKey();
  try {
    writeSync(fd, `${key.key.toString('base64')}\n`);
  } finally {
    closeSync(fd);
  }
  return key;
}

export function readKeyFile(path: string): SecretKey {
  let text: string;
  try {
    // Others able to read it could open every sealed secret; as ssh does with its keys, such a file is refused.
    if ((statSync(path).mode & 0o077) !== 0) throw new Error(`${path} is readable or writable by others than its owner; chmod 600 it`);
    text = readFileSync(path, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') throw new Error(`the secret key file ${path} does not exist (docs/operations.md § Upstream servers)`);
    throw err instanceof Error && !('code' in err) ? err : new Error(`cannot read the secret key file ${path}: ${(err as Error).message}`);
  }
  const bytes = Buffer.from(text.trim(), 'base64');
  if (bytes.length !== secretKeyBytes || bytes.toString('base64') !== text.trim()) throw new Error(`${path} does not hold a secret key (${secretKeyBytes} bytes in base64 on one line)`);
  return secretKey(bytes);
}
