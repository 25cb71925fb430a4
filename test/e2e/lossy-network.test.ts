import assert from 'node:assert/strict';
import { mkdtempSync, readdirSync, readFileSync, rmSync, unlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { syncFolder } from '../../src/cli/folder-sync.js';
import { HttpTransport, RetryableError } from '../../src/sdk/transport.js';
import { seededRandom } from '../../sim/random.js';
import { startFaultProxy, type FaultProxy } from '../support/fault-proxy.js';
import { startTestServer, type TestServer } from '../support/server.js';

/**
 * Two CLI devices keep folders in sync through a proxy that drops requests, drops responses after the
 * server committed, and cuts connections mid-body. After hundreds of random adds, edits and deletes on
 * both sides, both folders and the server must hold the same items: none lost, none duplicated, none
 * corrupted. The seed is printed; SYNCPOINT_LOSSY_SEED=<n> replays one run.
 */
const seed = Number(process.env.SYNCPOINT_LOSSY_SEED ?? Date.now() % 100_000);
const operationsTotal = 400;
const faultRate = 0.3;

let server: TestServer;
let proxy: FaultProxy;
let password: string;
const work = mkdtempSync(join(tmpdir(), 'syncpoint-lossy-'));

before(async () => {
  server = await startTestServer();
  ({ password } = await server.addUser('lossy'));
  proxy = await startFaultProxy(server.url, seed, faultRate);
});

after(async () => {
  await proxy.close();
  await server.stop();
  rmSync(work, { recursive: true, force: true });
});

interface Device {
  dir: string;
  /** Next number for a new file's name on this device. */
  files: number;
}

// Half the cards carry no UID (as many real address books), so only the sync-key replay, not UID
// matching, can keep a retried Add from creating a twin. X-TEST-ID names the item for the checks.
const card = (id: string, version: string) => {
  const uid = Number(id.slice(1)) % 2 === 0 ? `UID:${id}\r\n` : '';
  return `BEGIN:VCARD\r\nVERSION:3.0\r\n${uid}X-TEST-ID:${id}\r\nFN:Person ${id}\r\nNOTE:${version}\r\nEND:VCARD\r\n`;
};
const uidOf = (text: string) => /^X-TEST-ID:(.*)\r$/m.exec(text)?.[1] ?? '';

function folderItems(dir: string): Map<string, string[]> {
  const byUid = new Map<string, string[]>();
  for (const name of readdirSync(dir).filter((n) => n.endsWith('.vcf'))) {
    const text = readFileSync(join(dir, name), 'utf8');
    byUid.set(uidOf(text), [...(byUid.get(uidOf(text)) ?? []), text]);
  }
  return byUid;
}

async function sync(device: Device, via: string): Promise<void> {
  const transport = new HttpTransport({ baseUrl: via, credentials: { user: 'lossy', password }, timeoutMs: 10_000 });
  // A run that gives up is re-run, as a user (or cron) would; the replica carries the state across.
  for (let run = 0; run < 20; run++) {
    try {
      await syncFolder({
        dir: device.dir,
        server: 'lossy-test',
        user: 'lossy',
        collectionName: 'contacts',
        transport,
        client: { retry: { attemptsMax: 6, delayMsBase: 1, delayMsMax: 5 }, windowSize: 7, commandsMax: 5 },
      });
      return;
    } catch (err) {
      if (!(err instanceof RetryableError)) throw err;
    }
  }
  throw new Error(`seed ${seed}: ${device.dir} could not sync in 20 runs`);
}

test(`two devices converge through a lossy network (seed ${seed})`, async () => {
  const random = seededRandom(seed);
  const devices: Device[] = ['a', 'b'].map((n) => ({ dir: join(work, n), files: 0 }));
  for (const d of devices) await sync(d, server.url);
  const versionsWritten = new Set<string>();
  const created: string[] = [];
  const everDeleted = new Set<string>();
  let versionCounter = 0;

  for (let op = 0; op < operationsTotal; op++) {
    const device = devices[Math.floor(random() * devices.length)] as Device;
    const names = readdirSync(device.dir).filter((n) => n.endsWith('.vcf')).sort();
    const roll = random();
    const version = `v${versionCounter++}`;
    if (roll < 0.45 || names.length === 0) {
      const uid = `u${created.length}`;
      created.push(uid);
      writeFileSync(join(device.dir, `new-${device.files++}.vcf`), card(uid, version));
      versionsWritten.add(card(uid, version));
    } else {
      const name = names[Math.floor(random() * names.length)] as string;
      const uid = uidOf(readFileSync(join(device.dir, name), 'utf8'));
      if (roll < 0.8) {
        writeFileSync(join(device.dir, name), card(uid, version));
        versionsWritten.add(card(uid, version));
      } else {
        unlinkSync(join(device.dir, name));
        everDeleted.add(uid);
      }
    }
    if (random() < 0.3) await sync(device, proxy.url);
  }

  // Settle without faults: every device has sent everything and heard everything.
  proxy.setFaultRate(0);
  for (const d of [...devices, ...devices]) await sync(d, proxy.url);
  const observer: Device = { dir: join(work, 'observer'), files: 0 };
  await sync(observer, server.url);

  const faultsSeen = proxy.counts.dropRequest + proxy.counts.cutRequest + proxy.counts.dropResponse + proxy.counts.cutResponse;
  assert.ok(faultsSeen > 30, `seed ${seed}: the proxy injected only ${faultsSeen} faults`);
  const [a, b, truth] = [...devices, observer].map((d) => folderItems(d.dir)) as [Map<string, string[]>, Map<string, string[]>, Map<string, string[]>];
  for (const [label, items] of [['device a', a], ['device b', b], ['server', truth]] as const) {
    for (const [uid, copies] of items) assert.equal(copies.length, 1, `seed ${seed}: ${label} holds ${copies.length} copies of ${uid}`);
    for (const [uid, [text]] of items) assert.ok(versionsWritten.has(text as string), `seed ${seed}: ${label} holds a version of ${uid} nobody wrote`);
  }
  assert.deepEqual(new Map([...a].sort()), new Map([...truth].sort()), `seed ${seed}: device a differs from the server`);
  assert.deepEqual(new Map([...b].sort()), new Map([...truth].sort()), `seed ${seed}: device b differs from the server`);
  for (const uid of created) {
    if (!everDeleted.has(uid)) assert.ok(truth.has(uid), `seed ${seed}: ${uid} was never deleted but is gone`);
  }
  assert.ok(truth.size > 50, `seed ${seed}: only ${truth.size} items survived; the workload is too thin to mean anything`);
});
