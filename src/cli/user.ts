import type { Command } from 'commander';
import { hashSecret } from '../server/auth/secrets.js';
import { withLocalHub } from './local-hub.js';
import { obtainPassword } from './password.js';

const passwordBytesMin = 8;

export function registerUserCommands(program: Command): void {
  const user = program.command('user').description('manage accounts (works on the data directory)');
  user
    .command('add <name>')
    .description('create an account with a default collection of each kind')
    .option('--password-stdin', 'read the password from standard input')
    .option('--data <dir>', 'data directory', process.env.SYNCPOINT_DATA ?? './data')
    .action(async (name: string, opts: { passwordStdin?: boolean; data: string }) => {
      const password = await obtainPassword(opts, {}, true);
      if (password.length < passwordBytesMin) throw new Error(`the password must have at least ${passwordBytesMin} characters`);
      const hash = await hashSecret(password);
      await withLocalHub(opts.data, async (hub) => {
        const account = await hub.accounts.create(name, hash);
        process.stdout.write(`created account ${account.name}\n`);
      });
    });
  user
    .command('list')
    .description('list accounts')
    .option('--data <dir>', 'data directory', process.env.SYNCPOINT_DATA ?? './data')
    .action(async (opts: { data: string }) => {
      await withLocalHub(opts.data, async (hub) => {
        for (const a of await hub.accounts.list()) process.stdout.write(`${a.name}\t${new Date(a.createdAt).toISOString()}\n`);
      });
    });
}
