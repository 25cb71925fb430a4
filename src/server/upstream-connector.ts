import { discover } from '../connectors/dav/discovery.js';
import { UpstreamError } from '../protocol/upstream-errors.js';
import { DavPoint } from '../connectors/dav/point.js';
import { Transport, type Fetch } from '../connectors/dav/transport.js';
import { discoverFolders, folderPathOf } from '../connectors/imap/discovery.js';
import { ImapPoint } from '../connectors/imap/point.js';
import { remoteIdOf, uidIn } from '../connectors/imap/remote-ids.js';
import { ImapSession, problemOf as problemOfImap, type Locate, type OpenClient } from '../connectors/imap/session.js';
import { fetchPart } from '../connectors/imap/parts.js';
import type { MailAccount, MailGateway } from '../hub/mail.js';
import { searchFolders } from '../connectors/imap/search.js';
import { fileInSent, inSent } from '../connectors/imap/sent.js';
import { expungeMessage, fileDraft } from '../connectors/imap/drafts.js';
import { submit, type OpenConnection } from '../connectors/smtp/submission.js';
import { upstreamProtocols, type UpstreamAccess, type UpstreamConnector } from '../hub/upstreams.js';
import { ProtocolError } from '../protocol/errors.js';
import { loadSecretKey, secretKeyPlace } from './secret-key.js';
import { guardedFetch, hostGuard } from './upstream-addresses.js';

/**
 * The hub's UpstreamConnector on the CardDAV/CalDAV client (src/connectors/dav/): discovery and sync
 * points with HTTP Basic, its typed errors told as what a person can act on. Discovery's are
 * `invalidRequest`, never `unauthorized`: the upstream refused the credentials given for it, not the
 * caller's own.
 */
/** `reportItemsMax`: see DavPointOptions (the simulator's small reports). */
export function davConnector(fetch: Fetch, clock: { now(): number }, reportItemsMax?: number): UpstreamConnector {
  return {
    async discover(url, account) {
      try {
        return (await discover(new Transport({ fetch, clock, account }), url)).collections;
      } catch (err) {
        throw problemOf(err, url);
      }
    },
    open(upstream, mappings) {
      const transport = new Transport({ fetch, clock, account: { username: upstream.username, password: upstream.password } });
      const points = mappings.map(
        (m) =>
          new DavPoint({
            id: upstream.deviceId,
            name: upstream.name,
            protocol: upstreamProtocols.dav,
            collectionId: m.collectionId,
            kind: m.kind,
            transport,
            collectionUrl: m.url,
            type: m.kind === 'contacts' ? 'addressbook' : 'calendar',
            ...(reportItemsMax !== undefined ? { reportItemsMax } : {}),
          }),
      );
      // HTTP keeps no connection a run must close.
      return { points, close: async () => {} };
    },
    explain(failure) {
      const message = failure instanceof Error ? problemOf(failure, 'the upstream').message : String(failure);
      const seconds = failure instanceof UpstreamError && failure.reason === 'retry-after' ? failure.details.retryAfterSeconds : undefined;
      return seconds === undefined ? { message } : { message, retryAfterMs: seconds * 1000 };
    },
  };
}

/**
 * The hub's UpstreamConnector for IMAP accounts (src/connectors/imap/): discovery lists the account's
 * folders, each a mail collection; a run's points share one connection, closed when the run ends.
 * `locate` says where a host may be reached (server/upstream-addresses.ts); `openClient`, what speaks IMAP
 * (imapflow's client; the simulator's own server, sim/imap-upstream.ts).
 */
/** `reportItemsMax`: see ImapPointOptions (the simulator's small reports). */
export function imapConnector(locate: Locate, openClient?: OpenClient, reportItemsMax?: number): UpstreamConnector {
  return {
    async discover(url, account) {
      const session = new ImapSession(url, account, locate, openClient);
      try {
        const folders = await discoverFolders(session);
        return folders.map((f) => ({ url: f.url, type: 'mailbox' as const, displayName: f.displayName, kinds: ['mail'] }));
      } catch (err) {
        throw imapProblemOf(err, url);
      } finally {
        await session.close();
      }
    },
    open(upstream, mappings) {
      const session = new ImapSession(upstream.url, { username: upstream.username, password: upstream.password }, locate, openClient);
      const points = mappings.map(
        (m) => new ImapPoint({ id: upstream.deviceId, name: upstream.name, protocol: upstreamProtocols.imap, collectionId: m.collectionId, session, path: folderPathOf(m.url), ...(reportItemsMax !== undefined ? { reportItemsMax } : {}) }),
      );
      return { points, close: () => session.close() };
    },
    explain(failure) {
      return { message: failure instanceof Error ? imapProblemOf(failure, 'the IMAP server').message : String(failure) };
    },
  };
}

/**
 * The hub's MailGateway (hub/mail.ts) on the IMAP client (src/connectors/imap/): each call on a connection
 * of its own, signed in as the upstream's user, closed once done (a part: once it is read or given up).
 * `openClient` and `openSmtp` say what speaks IMAP and SMTP (imapflow's and nodemailer's clients; the
 * simulator's servers, sim/imap-upstream.ts and sim/smtp-submission.ts).
 */
export function imapMailGateway(locate: Locate, openClient?: OpenClient, openSmtp?: OpenConnection): MailGateway {
  /** A move's failures are told to the device that asked: a mail server out of reach is 503 `unavailable` (try again later). */
  const reach = async <T>(account: MailAccount, work: (session: ImapSession) => Promise<T>): Promise<T> => {
    const session = new ImapSession(account.url, account, locate, openClient);
    try {
      return await work(session);
    } catch (err) {
      // A command's own failure (a connection reset during MOVE) is imapflow's error, told as the session tells its own.
      const problem = problemOfImap(err, new URL(account.url).host);
      if (problem instanceof UpstreamError && problem.reason === 'transient') throw new ProtocolError('unavailable', `cannot reach the mail server: ${problem.message}`);
      throw imapProblemOf(problem, account.url);
    } finally {
      await session.close();
    }
  };
  return {
    async fetchPart(upstream, request) {
      const session = new ImapSession(upstream.url, { username: upstream.username, password: upstream.password }, locate, openClient);
      try {
        const answer = await fetchPart(session, { path: folderPathOf(request.folderUrl), remoteId: request.remoteId, part: request.part, bytesMax: request.bytesMax });
        if (answer.found === 'part') return { ...answer, close: () => session.close() };
        await session.close();
        return answer;
      } catch (err) {
        await session.close();
        throw err;
      }
    },
    move: (account, from, remoteIds, to) =>
      reach(account, async (session) => {
        const box = await session.open(from);
        const client = await session.client();
        const out: Array<string | null | 'gone'> = [];
        // One MOVE a message: each answer says that message's new UID, and one already gone fails alone.
        for (const remoteId of remoteIds) {
          const uid = uidIn(remoteId, from, String(box.uidValidity));
          if (uid === undefined || !(await client.fetchOne(String(uid), { uid: true }, { uid: true }))) {
            out.push('gone');
            continue;
          }
          const result = await client.messageMove(String(uid), to, { uid: true });
          const moved = result ? result.uidMap?.get(uid) : undefined;
          out.push(result && moved !== undefined && result.uidValidity !== undefined ? remoteIdOf(to, String(result.uidValidity), moved) : null);
        }
        return out;
      }),
    submit: (account, envelope, message, ready) => submit({ url: account.submissionUrl, username: account.username, password: account.password }, locate, envelope, message, ready, openSmtp),
    fileInSent: (account, message) => reach(account, (session) => fileInSent(session, message)),
    findInSent: (account, messageId) => reach(account, (session) => inSent(session, messageId)),
    search: (account, folders, words, max) => reach(account, (session) => searchFolders(session, folders, words, max)),
    fileDraft: (account, path, message, messageId) => reach(account, (session) => fileDraft(session, path, message, messageId)),
    expunge: (account, path, remoteId) => reach(account, (session) => expungeMessage(session, path, remoteId)),
  };
}

function imapProblemOf(err: unknown, url: string): Error {
  if (!(err instanceof UpstreamError)) return err as Error;
  const problem = (message: string) => new ProtocolError('invalidRequest', message, { upstreamError: err.reason });
  switch (err.reason) {
    case 'auth':
      return problem(`${url} refused the user name and password`);
    case 'transient':
      return problem(`cannot reach ${url}: ${err.message}`);
    case 'address':
      return problem(err.message);
    default:
      return problem(`${url} did not answer as an IMAP server Syncpoint can sync with: ${err.message}`);
  }
}

/**
 * What a server needs to run upstreams: the connector, and the secret key from its configured place
 * (server/secret-key.ts), read when a run needs it; a key the server has none of is a run's error, told
 * on the upstream's record. Adding an upstream seals with the same key, made at first need on SQLite
 * (`onKeyMade` hears of it: the CLI tells its user, a server logs it); on PostgreSQL without a configured
 * file it is refused before the upstream is asked anything.
 */
export function upstreamAccess(
  config: { data: string; database: string; secretKeyFile: string; upstreamRunMinutes: number; upstreamAddressesAllow: readonly string[] },
  fetch: Fetch,
  clock: { now(): number },
  onKeyMade: (path: string, keyId: string) => void = () => {},
): UpstreamAccess {
  return {
    connectors: { dav: davConnector(guardedFetch(fetch, config.upstreamAddressesAllow), clock), imap: imapConnector(hostGuard(config.upstreamAddressesAllow)) },
    mail: imapMailGateway(hostGuard(config.upstreamAddressesAllow)),
    intervalMs: Math.round(config.upstreamRunMinutes * 60_000),
    keys() {
      const place = secretKeyPlace(config);
      if (!place) throw new Error('no secret key file is configured (--secret-key-file, SYNCPOINT_SECRET_KEY_FILE or "secretKeyFile"), so no upstream password can be opened');
      return [loadSecretKey({ ...place, create: false }).key];
    },
    sealingKey() {
      const place = secretKeyPlace(config);
      if (!place) {
        // The server's configuration, not the request, is wanting: a 500 that says what the operator must set.
        throw new ProtocolError(
          'serverError',
          'on PostgreSQL give every process the same secret key file: --secret-key-file, SYNCPOINT_SECRET_KEY_FILE or "secretKeyFile" (docs/operations.md § Upstream servers); until then no upstream password can be kept',
        );
      }
      return () => {
        let loaded: ReturnType<typeof loadSecretKey>;
        try {
          loaded = loadSecretKey(place);
        } catch (err) {
          // A configured file that is missing or open to others: the operator's to fix, said as such, not an internal error.
          throw new ProtocolError('serverError', `${(err as Error).message}; until then no upstream password can be kept`);
        }
        if (loaded.made) onKeyMade(place.path, loaded.key.id);
        return loaded.key;
      };
    },
  };
}

function problemOf(err: unknown, url: string): Error {
  if (!(err instanceof UpstreamError)) return err as Error;
  const problem = (message: string) => new ProtocolError('invalidRequest', message, { upstreamError: err.reason });
  switch (err.reason) {
    case 'auth':
      return problem(`${url} refused the user name and password (401)`);
    case 'transient':
    case 'retry-after':
      return problem(`cannot reach ${url}: ${err.message}`);
    case 'redirect':
    case 'address':
      return problem(err.message);
    default:
      return problem(`${url} did not answer as a CardDAV/CalDAV server: ${err.message}`);
  }
}
