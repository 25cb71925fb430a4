import type { Command } from 'commander';
import { reportedAddress } from '../protocol/account.js';
import { passwordCharsMin } from '../protocol/session.js';
import { hashSecret } from '../hub/secrets.js';
import { addDataOptions, withLocalHub, type DataOptions } from './local-hub.js';
import { obtainPassword } from './password.js';

async function newPasswordHash(opts: { passwordStdin?: boolean }): Promise<string> {
  const password = await obtainPassword(opts, process.env, true);
  if (password.length < passwordCharsMin) throw new Error(`the password must have at least ${passwordCharsMin} characters`);
  return hashSecret(password);
}

export function registerUserCommands(program: Command): void {
  const user = program.command('user').description('manage accounts (works on the data directory)');
  addDataOptions(user.command('add <name>'))
    .description('create an account with a default collection of each kind')
    .option('--password-stdin', 'read the password from standard input (else SYNCPOINT_PASSWORD or a prompt)')
    .option('--email <address>', 'the email address ActiveSync reports for the account (else its name)')
    .action(async (name: string, opts: DataOptions & { passwordStdin?: boolean; email?: string }) => {
      const hash = await newPasswordHash(opts);
      await withLocalHub(opts, async (hub) => {
        const account = await hub.accounts.create(name, hash, opts.email ?? null);
        process.stdout.write(`created account ${account.name}\n`);
      });
    });
  addDataOptions(user.command('email <name> [address]'))
    .description('show, set or (with --clear) clear the email address ActiveSync reports for an account; without one it reports the account name')
    .option('--clear', 'remove the address')
    .action(async (name: string, address: string | undefined, opts: DataOptions & { clear?: boolean }) => {
      if (address !== undefined && opts.clear) throw new Error('give an address or --clear, not both');
      await withLocalHub(opts, async (hub) => {
        const account = await hub.accounts.findByName(name);
        if (!account) throw new Error(`no account ${name}`);
        if (address === undefined && !opts.clear) {
          process.stdout.write(`${account.email ?? `(none set; ActiveSync reports ${reportedAddress(account)})`}\n`);
          return;
        }
        await hub.accounts.setEmail(account.id, opts.clear ? null : (address as string));
        process.stdout.write(opts.clear ? `cleared the email address of ${account.name}\n` : `set the email address of ${account.name} to ${address}\n`);
      });
    });
  addDataOptions(user.command('passwd <name>'))
    .description('change an account’s password; every session, push channel and Ping opened with the old one ends, also in a running server')
    .option('--password-stdin', 'read the new password from standard input (else SYNCPOINT_PASSWORD or a prompt)')
    .action(async (name: string, opts: DataOptions & { passwordStdin?: boolean }) => {
      const hash = await newPasswordHash(opts);
      await withLocalHub(opts, async (hub) => {
        const account = await hub.accounts.findByName(name);
        if (!account) throw new Error(`no account ${name}`);
        await hub.accounts.setPassword(account.id, hash);
        process.stdout.write(`changed the password of ${account.name}\n`);
      });
    });
  addDataOptions(user.command('list'))
    .description('list accounts')
    .action(async (opts: DataOptions) => {
      await withLocalHub(opts, async (hub) => {
        for (const a of await hub.accounts.list()) process.stdout.write(`${a.name}\t${new Date(a.createdAt).toISOString()}\t${a.email ?? ''}\n`);
      });
    });
}
