import type { Command } from 'commander';
import { hashSecret } from '../server/auth/secrets.js';
import { addDataOptions, withLocalHub, type DataOptions } from './local-hub.js';
import { obtainPassword } from './password.js';

const passwordBytesMin = 8;

export function registerUserCommands(program: Command): void {
  const user = program.command('user').description('manage accounts (works on the data directory)');
  addDataOptions(user.command('add <name>'))
    .description('create an account with a default collection of each kind')
    .option('--password-stdin', 'read the password from standard input (else SYNCPOINT_PASSWORD or a prompt)')
    .action(async (name: string, opts: DataOptions & { passwordStdin?: boolean }) => {
      const password = await obtainPassword(opts, process.env, true);
      if (password.length < passwordBytesMin) throw new Error(`the password must have at least ${passwordBytesMin} characters`);
      const hash = await hashSecret(password);
      await withLocalHub(opts, async (hub) => {
        const account = await hub.accounts.create(name, hash);
        process.stdout.write(`created account ${account.name}\n`);
      });
    });
  addDataOptions(user.command('list'))
    .description('list accounts')
    .action(async (opts: DataOptions) => {
      await withLocalHub(opts, async (hub) => {
        for (const a of await hub.accounts.list()) process.stdout.write(`${a.name}\t${new Date(a.createdAt).toISOString()}\n`);
      });
    });
}
