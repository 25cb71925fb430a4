import assert from 'node:assert/strict';
import { test } from 'node:test';
import fc from 'fast-check';
import { deriveAction, mergeActions, type Action } from './action-table.js';

// The offline-merge table (docs/design.md § The offline-merge table) for a sync point that missed syncs, one test per cell (old action = row, new = column).
const cells: Array<[Action, Action, Action, boolean]> = [
  ['NO_CHANGE', 'NO_CHANGE', 'NO_CHANGE', false],
  ['NO_CHANGE', 'ADD', 'ADD', false],
  ['NO_CHANGE', 'DELETE', 'DELETE', false],
  ['NO_CHANGE', 'UPDATE', 'UPDATE', false],
  ['ADD', 'NO_CHANGE', 'ADD', false],
  ['ADD', 'ADD', 'ADD', false],
  ['ADD', 'DELETE', 'NO_CHANGE', false],
  ['ADD', 'UPDATE', 'ADD', false],
  ['DELETE', 'NO_CHANGE', 'DELETE', false],
  // Invalid cells resolve to an ADD of the truth's latest data: the record exists after all.
  ['DELETE', 'ADD', 'ADD', true],
  ['DELETE', 'DELETE', 'DELETE', false],
  ['DELETE', 'UPDATE', 'ADD', true],
  ['UPDATE', 'NO_CHANGE', 'UPDATE', false],
  ['UPDATE', 'ADD', 'UPDATE', false],
  ['UPDATE', 'DELETE', 'DELETE', false],
  ['UPDATE', 'UPDATE', 'UPDATE', false],
];

for (const [old, next, expected, invalid] of cells) {
  test(`merge table: old ${old} + new ${next} = ${expected}${invalid ? ' (invalid cell, flagged)' : ''}`, () => {
    assert.deepEqual(mergeActions(old, next), { action: expected, invalid });
  });
}

/**
 * Derived actions agree with the offline-merge table: for any history of one item (created, updated some times,
 * maybe deleted) and any checkpoint of a device that did not write it, the action derived from the
 * final state equals the fold of the merge table over the changes after the checkpoint.
 */
test('derived action = merge table folded over the changes the device missed', () => {
  fc.assert(
    fc.property(fc.integer({ min: 0, max: 6 }), fc.boolean(), fc.integer({ min: 0, max: 10 }), (updates, deleted, checkpointAt) => {
      // Sequence numbers 1..n: 1 = create, then updates, then maybe a delete.
      const steps: Action[] = ['ADD', ...Array<Action>(updates).fill('UPDATE'), ...(deleted ? (['DELETE'] as Action[]) : [])];
      const cp = Math.min(checkpointAt, steps.length);
      const folded = steps.slice(cp).reduce<Action>((acc, step) => mergeActions(acc, step).action, 'NO_CHANGE');
      const facts = { seq: steps.length, createdSeq: 1, deleted, originDevice: 'someone-else', createdBy: 'someone-else' };
      assert.equal(deriveAction(facts, { seq: cp, baseSeq: cp }, 'me'), folded);
    }),
  );
});

test('derived action: a device that created a record hears of its delete even if its checkpoint is older', () => {
  // Its Add's answer was lost and replayed: it holds the record although its checkpoint predates it.
  assert.equal(deriveAction({ seq: 9, createdSeq: 7, createdBy: 'me', deleted: true, originDevice: 'other' }, { seq: 5, baseSeq: 5 }, 'me'), 'DELETE');
  assert.equal(deriveAction({ seq: 9, createdSeq: 7, createdBy: 'other', deleted: true, originDevice: 'other' }, { seq: 5, baseSeq: 5 }, 'me'), 'NO_CHANGE');
});

test('derived action: the device never gets its own change back', () => {
  assert.equal(deriveAction({ seq: 9, createdSeq: 3, createdBy: 'me', deleted: false, originDevice: 'me' }, { seq: 5, baseSeq: 5 }, 'me'), 'NO_CHANGE');
  assert.equal(deriveAction({ seq: 9, createdSeq: 3, createdBy: 'me', deleted: true, originDevice: 'me' }, { seq: 5, baseSeq: 5 }, 'me'), 'NO_CHANGE');
});

test('derived action during an initial sync: everything live is an ADD, tombstones from before it began stay out', () => {
  const from = { seq: 40, baseSeq: 100 };
  assert.equal(deriveAction({ seq: 60, createdSeq: 2, createdBy: null, deleted: false, originDevice: null }, from, 'me'), 'ADD');
  assert.equal(deriveAction({ seq: 90, createdSeq: 2, createdBy: null, deleted: true, originDevice: null }, from, 'me'), 'NO_CHANGE');
  // Deleted after the initial sync began, of an item it may already have sent: DELETE.
  assert.equal(deriveAction({ seq: 120, createdSeq: 2, createdBy: null, deleted: true, originDevice: null }, from, 'me'), 'DELETE');
  // A device that lost its state gets its own old writes back.
  assert.equal(deriveAction({ seq: 60, createdSeq: 60, createdBy: 'me', deleted: false, originDevice: 'me' }, from, 'me'), 'ADD');
});

test('derived action with a version held from push: that version is NO_CHANGE, anything after it is sent, a delete included', () => {
  const from = { seq: 5, baseSeq: 5 };
  // Added and deleted since the checkpoint: without push the device never had it...
  const gone = { seq: 9, createdSeq: 7, createdBy: 'other', deleted: true, originDevice: 'other' };
  assert.equal(deriveAction(gone, from, 'me'), 'NO_CHANGE');
  // ...but it applied the notice of the add (seq 7), so it must hear of the delete.
  assert.equal(deriveAction(gone, from, 'me', 7), 'DELETE');
  const live = { seq: 8, createdSeq: 7, createdBy: 'other', deleted: false, originDevice: 'other' };
  assert.equal(deriveAction(live, from, 'me', 8), 'NO_CHANGE');
  assert.equal(deriveAction(live, from, 'me', 7), 'UPDATE');
  // Its own later change is still not sent back.
  assert.equal(deriveAction({ ...live, originDevice: 'me' }, from, 'me', 7), 'NO_CHANGE');
});
