import { joinRemainder, type ChangeNotice, type PushMessage } from '../src/protocol/push.js';
import type { Channel } from '../src/hub/push-channel.js';
import type { SyncClient } from '../src/sdk/sync-loop.js';
import type { Rng } from './random.js';
import type { SimServer } from './server.js';
import type { Trace } from './trace.js';

/**
 * Push in the simulation (docs/design.md § Push notices): devices hold channels to the real PushHub, and the channel loses,
 * repeats and reorders notices on a seeded schedule. Notices wait in a device's inbox until the
 * simulator hands some to the device: between its turns, and, crucially, while one of its sync
 * exchanges is in flight (after the server answered, before the device reads the answer), which is
 * where a notice and a sync answer can overtake each other.
 */
export interface PushDevice {
  id: string;
  client: SyncClient;
}

export class SimPush {
  readonly counts = { notices: 0, dropped: 0, duplicated: 0, applied: 0, remainders: 0 };
  faultsOn = true;
  private readonly inboxes = new Map<string, ChangeNotice[]>();
  private readonly channels = new Map<string, SimChannel>();

  constructor(
    private readonly rng: Rng,
    private readonly server: SimServer,
    private readonly accountId: string,
    private readonly collectionIds: readonly string[],
    private readonly trace: Trace | undefined,
  ) {
    // A restart drops every channel, as a real process exit would.
    server.onRestart(() => this.channels.clear());
  }

  connected(deviceId: string): boolean {
    const channel = this.channels.get(deviceId);
    return channel !== undefined && this.server.push.active(this.accountId, deviceId) === channel;
  }

  async connect(deviceId: string): Promise<void> {
    const channel = new SimChannel(this.accountId, deviceId, new Set(this.collectionIds), (notice) => this.arrive(deviceId, notice));
    this.channels.set(deviceId, channel);
    await this.server.push.register(channel);
    this.trace?.(`${deviceId} opens a push channel`);
  }

  disconnect(deviceId: string): void {
    const channel = this.channels.get(deviceId);
    if (!channel) return;
    this.channels.delete(deviceId);
    this.server.push.unregister(channel);
    this.trace?.(`${deviceId} loses its push channel`);
  }

  /** Hands the device up to `max` notices from its inbox, in a random order. */
  async deliver(device: PushDevice, max: number): Promise<void> {
    const inbox = this.inboxes.get(device.id) ?? [];
    for (let i = 0; i < max && inbox.length > 0; i++) {
      const [notice] = inbox.splice(this.faultsOn ? this.rng.int(0, inbox.length - 1) : 0, 1) as [ChangeNotice];
      let outcome = device.client.applyNotice(notice);
      if (outcome === 'partial') {
        this.counts.remainders++;
        const rest = await this.server.push.remainder(this.accountId, device.id, notice.token);
        const whole = rest && rest !== 'gone' ? joinRemainder(notice, rest) : undefined;
        if (whole) outcome = device.client.applyNotice(whole);
      }
      if (outcome === 'applied') this.counts.applied++;
      this.trace?.(`${device.id} gets notice #${notice.token} (${notice.command.op} ${notice.command.serverId} @${notice.seq}): ${outcome}`);
    }
  }

  /** Whatever is still on its way arrives now; nothing is lost any more. */
  settle(): void {
    this.faultsOn = false;
  }

  private arrive(deviceId: string, notice: ChangeNotice): void {
    this.counts.notices++;
    const inbox = this.inboxes.get(deviceId) ?? [];
    this.inboxes.set(deviceId, inbox);
    const roll = this.faultsOn ? this.rng.float() : 1;
    if (roll < 0.3) {
      this.counts.dropped++;
      return;
    }
    inbox.push(notice);
    if (roll < 0.4) {
      this.counts.duplicated++;
      inbox.push(notice);
    }
  }
}

class SimChannel implements Channel {
  // Stands in for a WebSocket: the simulator's channels are always held open.
  readonly kind = 'websocket';
  lastToken = 0;
  readonly tokenId = undefined;

  constructor(
    readonly accountId: string,
    readonly deviceId: string,
    readonly collections: ReadonlySet<string>,
    private readonly onNotice: (notice: ChangeNotice) => void,
  ) {}

  send(message: PushMessage): void {
    if (message.type === 'change') this.onNotice(message);
  }

  beat(): boolean {
    return true;
  }

  close(): void {}
}
