import { limits } from '../core/limits.js';
import { findMarked, readMarked, removeMarked, type MarkedMessage } from '../connectors/imap/marked.js';
import { ImapSession, type Locate } from '../connectors/imap/session.js';
import { submit } from '../connectors/smtp/submission.js';
import { SubmissionError } from '../protocol/upstream-errors.js';
import { answerSyncMail, isSyncMailSubject, syncMailMarker } from '../faces/native/sync-mail.js';
import type { Hub } from '../hub/hub.js';
import type { Logger } from '../hub/ports.js';
import type { WatchedUpstream } from '../hub/upstreams.js';
import type { Authenticator } from './auth/authenticate.js';

/**
 * Picks up sync requests by mail (docs/protocol.md §21) from an IMAP upstream's Inbox, when its watcher
 * (mail-watchers.ts) sees the Inbox change: finds them by subject (connectors/imap/marked.ts), answers
 * each through the native face (faces/native/sync-mail.ts), sends the answer through the upstream's
 * submission server to the account's own address, and only then deletes the request. A crash between the
 * send and the delete leaves the request, which the next pick-up runs again: a replay of the same sync
 * key, answered the same (§5.3), so at worst the device gets a second copy of the answer.
 *
 * An upstream takes part only when it has a submission server and the account an address of its own: its
 * email (§19.1), else the upstream's user name when that is an address. Anything that stops a pick-up
 * (the mail server, the store out of reach) leaves the request where it is, for the next one.
 */
export class SyncByMail {
  constructor(
    private readonly hub: Hub,
    private readonly auth: Authenticator,
    private readonly locate: Locate,
    private readonly logger: Logger,
    private readonly clock: { now(): number },
  ) {}

  async pickUp(upstream: WatchedUpstream): Promise<void> {
    const submissionUrl = upstream.submissionUrl;
    if (submissionUrl === null) return;
    const address = await this.addressOf(upstream);
    if (address === null) return;
    const session = new ImapSession(upstream.url, upstream, this.locate);
    const skip = this.#notRequests(upstream.id);
    try {
      for (let look = 1; ; look++) {
        const marked = await findMarked(session, syncMailMarker, limits.mailSyncLookMax, skip);
        // Messages whose subject holds the marker but does not begin with it ("Re: [syncpoint-sync] …", which
        // anyone may send) are no requests: remembered, so that they never fill the look (mailSyncLookMax).
        const others = marked.filter((m) => !isSyncMailSubject(m.subject));
        for (const other of others) skip.add(other.key);
        const requests = marked.filter((m) => isSyncMailSubject(m.subject)).slice(0, limits.mailSyncRequestsPerPickupMax);
        for (const request of requests) await this.answer(upstream, session, address, submissionUrl, request);
        // A request removed is a change of the Inbox, which brings the next look. A full look of messages
        // that are no requests changes nothing: the requests after them would wait for unrelated mail.
        if (requests.length > 0 || marked.length < limits.mailSyncLookMax || look >= limits.mailSyncLooksPerPickupMax) return;
      }
    } finally {
      await session.close();
    }
  }

  private async answer(upstream: WatchedUpstream, session: ImapSession, address: string, submissionUrl: string, request: MarkedMessage): Promise<void> {
    const { accountId } = upstream;
    const answer = await answerSyncMail(
      this.hub,
      { accountId, address },
      { size: request.size, messageId: request.messageId, read: () => readMarked(session, request.uid) },
      // The throttle counts failures per upstream: a mailbox has no client address.
      (token) => this.auth.fromHeader(`Bearer ${token}`, `mail-${upstream.id}`),
      new Date(this.clock.now()),
    );
    if (answer === undefined) return;
    try {
      await submit({ url: submissionUrl, username: upstream.username, password: upstream.password }, this.locate, { from: address, to: [address] }, answer.message, async () => {});
    } catch (err) {
      // An answer the submission server refuses (too large, its policy) is refused again at every look:
      // the request goes, logged, and the ones after it are answered. Anything else stops the look.
      if (!(err instanceof SubmissionError && err.outcome === 'refused')) throw err;
      await removeMarked(session, request.uid);
      this.logger.warn({ accountId, upstream: upstream.id, request: answer.inReplyTo, status: answer.status, error: err.message }, 'sync request by mail not answered: the answer was refused');
      return;
    }
    await removeMarked(session, request.uid);
    this.logger.info({ accountId, upstream: upstream.id, request: answer.inReplyTo, status: answer.status }, 'sync request by mail answered');
  }

  /** The Inbox messages (MarkedMessage.key) of each upstream found not to be requests, at most the messages of one pick-up's looks (then forgotten and learned again). */
  readonly #others = new Map<string, Set<string>>();

  #notRequests(upstreamId: string): Set<string> {
    let others = this.#others.get(upstreamId);
    if (!others || others.size > limits.mailSyncLookMax * limits.mailSyncLooksPerPickupMax) this.#others.set(upstreamId, (others = new Set()));
    return others;
  }

  /** The account's own address, the only one an answer goes to; null when it has none. */
  private async addressOf(upstream: WatchedUpstream): Promise<string | null> {
    const email = (await this.hub.accounts.get(upstream.accountId))?.email ?? null;
    return email ?? (/^[^\s@]+@[^\s@]+$/.test(upstream.username) ? upstream.username : null);
  }
}
