import assert from 'node:assert/strict';
import { test } from 'node:test';
import { parseAddresses } from './compose.js';
import { addressText } from './message.js';

test('an address whose name holds a comma or another special is written quoted, and read back as one address', () => {
  const people = [
    { name: 'Doe, John', address: 'john@example.org' },
    { name: 'Ann "Nan" Lee', address: 'ann@example.org' },
    { name: 'Plain Name', address: 'plain@example.org' },
    { name: null, address: 'bare@example.org' },
  ];
  const written = people.map(addressText).join(', ');
  assert.equal(written, '"Doe, John" <john@example.org>, "Ann Nan Lee" <ann@example.org>, Plain Name <plain@example.org>, bare@example.org');
  assert.deepEqual(parseAddresses(written, 'To'), [
    { name: 'Doe, John', address: 'john@example.org' },
    { name: 'Ann Nan Lee', address: 'ann@example.org' },
    { name: 'Plain Name', address: 'plain@example.org' },
    { address: 'bare@example.org' },
  ]);
});
