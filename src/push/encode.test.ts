import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { ChangeNotice, PushMessage } from '../protocol/push.js';
import { encodePushMessage } from './encode.js';

test('a notice encodes as JSON.stringify does, when devices share its command and when a command object is reused for another version', () => {
  const command: ChangeNotice['command'] = { op: 'add', serverId: 's1', data: 'BEGIN:VCARD\r\nFN:Zoë "Z" \\ \u2028\r\nEND:VCARD\r\n', etag: 'e1' };
  const notices: ChangeNotice[] = [
    { type: 'change', token: 1, collectionId: 'c1', seq: 7, command },
    { type: 'change', token: 9_007_199_254_740_991, collectionId: 'c1', seq: 7, command },
    { type: 'change', token: 2, collectionId: 'c2', seq: 7, command },
    { type: 'change', token: 3, collectionId: 'c2', seq: 8, command },
    { type: 'change', token: 4, collectionId: 'c1', seq: 9, command: { op: 'change', serverId: 's1', data: 'x', etag: 'e2', truncated: true, size: 5000 } },
    { type: 'change', token: 5, collectionId: 'c1', seq: 10, command: { op: 'delete', serverId: 's1' } },
  ];
  for (const notice of notices) assert.equal(encodePushMessage(notice), JSON.stringify(notice));
  const others: PushMessage[] = [{ type: 'hello', deviceId: 'd', nextToken: 1, heartbeatMs: 30_000 }, { type: 'heartbeat', lastToken: 0 }, { type: 'syncRequest' }];
  for (const message of others) assert.equal(encodePushMessage(message), JSON.stringify(message));
});
