import assert from 'node:assert/strict';
import { after, before } from 'node:test';
import { startDovecot, type Dovecot } from './dovecot.js';
import { easAccount, type EasAccount } from './eas-client.js';
import { startTestServer, type TestServer } from './server.js';
import { startSubmission, type Submission } from './submission.js';
import { addUpstream, runUpstreams } from './upstreams.js';

/**
 * What the ActiveSync mail suites run against: Debian's Dovecot with `users` (name → password), a
 * Syncpoint test server, and an SMTP submission server that delivers into Dovecot; and ActiveSync
 * accounts whose mail is one Dovecot user's, with that submission server and the user's address set.
 */
export interface EasMailWorld {
  dovecot: Dovecot;
  /** A suite that restarts the server puts the new one here, so `stop` stops it. */
  server: TestServer;
  submission: Submission;
  stop(): Promise<void>;
}

/**
 * The suite's world, started before its tests (then `started` runs, to take its parts or prepare the
 * mailboxes) and stopped after them. The object is filled in when the world has started.
 */
export function easMailWorld(users: Record<string, string>, started?: (world: EasMailWorld) => void | Promise<void>): EasMailWorld {
  const world = {} as EasMailWorld;
  before(async () => {
    const [dovecot, server] = await Promise.all([startDovecot({ users }), startTestServer()]);
    const submission = await startSubmission({ dovecot });
    Object.assign(world, {
      dovecot,
      server,
      submission,
      async stop() {
        await Promise.all([world.server.stop(), submission.stop()]);
        await dovecot.stop();
      },
    });
    await started?.(world);
  });
  after(() => world.stop?.());
  return world;
}

/** An ActiveSync account whose mail is Dovecot's `user`, its folders synced once, its address the user's; `folder` names a folder's collection by its IMAP path. */
export async function easMailAccount(world: EasMailWorld, user: string): Promise<{ account: EasAccount; folder(path: string): string }> {
  const { dovecot, server, submission } = world;
  const password = dovecot.users[user]?.password;
  assert.ok(password !== undefined, `Dovecot has a user ${user}`);
  const account = await easAccount(server);
  const view = await addUpstream(server, account.accountId, {
    kind: 'imap',
    url: `imap://${dovecot.host}:${dovecot.imapPort}`,
    submissionUrl: `smtp://${submission.host}:${submission.port}`,
    username: user,
    password,
  });
  await runUpstreams(server, account.accountId);
  const res = await fetch(`${server.url}/api/v1/account/email`, { method: 'PUT', headers: { authorization: account.authorization, 'content-type': 'application/json' }, body: JSON.stringify({ email: `${user}@${dovecot.domain}` }) });
  assert.equal(res.status, 200);
  return {
    account,
    folder(path) {
      const found = view.collections.find((c) => decodeURIComponent(new URL(c.url).pathname.slice(1)) === path);
      if (!found) throw new Error(`no collection for ${path}`);
      return found.collectionId;
    },
  };
}
