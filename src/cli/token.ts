import type { Command } from 'commander';
import type { Hub } from '../hub/hub.js';
import { addDataOptions, withLocalHub, type DataOptions } from './local-hub.js';

export async function accountId(hub: Hub, name: string): Promise<string> {
  const account = await hub.accounts.findByName(name);
  if (!account) throw new Error(`no account named ${name}`);
  return account.id;
}

export function registerTokenCommands(program: Command): void {
  const token = program.command('token').description('app passwords, one per device (works on the data directory)');
  addDataOptions(token.command('create'))
    .description('print a new app password; it is shown once and stored only hashed')
    .requiredOption('--user <name>', 'account name')
    .requiredOption('--label <label>', 'what the device is, e.g. "phone"')
    .action(async (opts: DataOptions & { user: string; label: string }) => {
      await withLocalHub(opts, async (hub) => {
        const id = await accountId(hub, opts.user);
        const { token } = await hub.accounts.addToken(id, opts.label);
        process.stdout.write(`${token}\n`);
      });
    });
  addDataOptions(token.command('list'))
    .description('list app passwords (ids and labels, never secrets)')
    .requiredOption('--user <name>', 'account name')
    .action(async (opts: DataOptions & { user: string }) => {
      await withLocalHub(opts, async (hub) => {
        for (const t of await hub.accounts.listTokens(await accountId(hub, opts.user))) {
          const used = t.lastUsedAt === null ? 'never used' : `last used ${new Date(t.lastUsedAt).toISOString()}`;
          process.stdout.write(`${t.id}\t${t.label}\tcreated ${new Date(t.createdAt).toISOString()}\t${used}\n`);
        }
      });
    });
  addDataOptions(token.command('revoke <id>'))
    .description('revoke an app password; the next request with it is refused')
    .requiredOption('--user <name>', 'account name')
    .action(async (id: string, opts: DataOptions & { user: string }) => {
      await withLocalHub(opts, async (hub) => {
        if (!(await hub.accounts.revokeToken(await accountId(hub, opts.user), id))) throw new Error(`no token ${id} for ${opts.user}`);
        process.stdout.write(`revoked ${id}\n`);
      });
    });
}
