import assert from 'node:assert/strict';
import { test } from 'node:test';
import { recover, type Reported } from './recovery.js';

// docs/design.md § Recovery, one test per row of its table.
test('pending DELETE: the record is dropped, whatever the sync point reports', () => {
  for (const reported of ['ADDED', 'UPDATED', 'DELETED', 'NO_CHANGE'] as Reported[]) {
    assert.deepEqual(recover(reported, 'DELETE'), { kind: 'dropDeleted' });
  }
});

test('the device DELETED it: pending actions are dropped, the state is DELETED', () => {
  for (const pending of ['ADD', 'UPDATE', 'NO_CHANGE'] as const) assert.deepEqual(recover('DELETED', pending), { kind: 'deleted' });
});

test('the device UPDATED it while an action was pending: the edit is kept, the stale action dropped', () => {
  for (const pending of ['ADD', 'UPDATE', 'NO_CHANGE'] as const) assert.deepEqual(recover('UPDATED', pending), { kind: 'updated' });
});

test('NO_CHANGE: the pending action is kept', () => {
  assert.deepEqual(recover('NO_CHANGE', 'UPDATE'), { kind: 'keepPending' });
});

test('ADDED and no duplicate: a new record', () => {
  assert.deepEqual(recover('ADDED', 'NO_CHANGE'), { kind: 'added' });
});

test('ADDED duplicate of a record it had been told to ADD: the acknowledgement was lost, it takes the old id', () => {
  assert.deepEqual(recover('ADDED', 'NO_CHANGE', { id: 'old', pending: 'ADD' }), { kind: 'ackLost', oldId: 'old' });
});

test('ADDED duplicate while an UPDATE was pending: the new record is dropped in favour of the old', () => {
  assert.deepEqual(recover('ADDED', 'NO_CHANGE', { id: 'old', pending: 'UPDATE' }), { kind: 'dropDuplicate', oldId: 'old' });
});

test('ADDED duplicate the user added by hand: it takes the old id and the old record is updated to match', () => {
  assert.deepEqual(recover('ADDED', 'NO_CHANGE', { id: 'old', pending: 'NO_CHANGE' }), { kind: 'mergeIntoOld', oldId: 'old' });
});
