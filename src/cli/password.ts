import { createInterface } from 'node:readline';
import { Writable } from 'node:stream';

/** Reads a secret from stdin (whole input, one trailing newline dropped). */
export async function readStdinSecret(): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of process.stdin) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks).toString('utf8').replace(/\r?\n$/, '');
}

/** Prompts on the terminal without echoing what is typed. */
export function promptSecret(question: string): Promise<string> {
  if (!process.stdin.isTTY) throw new Error('no terminal to prompt on; use --password-stdin');
  let muted = false;
  const output = new Writable({
    write(chunk, _encoding, callback) {
      if (!muted) process.stderr.write(chunk);
      callback();
    },
  });
  const rl = createInterface({ input: process.stdin, output, terminal: true });
  return new Promise((resolve) => {
    rl.question(question, (answer) => {
      rl.close();
      process.stderr.write('\n');
      resolve(answer);
    });
    muted = true;
  });
}

export async function obtainPassword(opts: { passwordStdin?: boolean }, env: NodeJS.ProcessEnv, confirm: boolean): Promise<string> {
  if (opts.passwordStdin) return readStdinSecret();
  if (env.SYNCPOINT_PASSWORD) return env.SYNCPOINT_PASSWORD;
  const first = await promptSecret('Password: ');
  if (confirm && (await promptSecret('Repeat password: ')) !== first) throw new Error('passwords do not match');
  return first;
}
