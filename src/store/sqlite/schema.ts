/**
 * SQLite schema, one entry per migration; `PRAGMA user_version` records how many have run.
 * Append new migrations; never edit one that has shipped.
 */
export const migrations: readonly string[] = [
  `
  CREATE TABLE accounts (
    id TEXT PRIMARY KEY,
    name TEXT NOT NULL UNIQUE,
    password_hash TEXT NOT NULL,
    created_at INTEGER NOT NULL,
    seq INTEGER NOT NULL DEFAULT 0,
    tombstone_floor INTEGER NOT NULL DEFAULT 0
  ) STRICT;

  CREATE TABLE app_tokens (
    id TEXT PRIMARY KEY,
    account_id TEXT NOT NULL REFERENCES accounts(id) ON DELETE CASCADE,
    label TEXT NOT NULL,
    secret_hash TEXT NOT NULL,
    created_at INTEGER NOT NULL,
    last_used_at INTEGER
  ) STRICT;
  CREATE INDEX app_tokens_account ON app_tokens(account_id);

  CREATE TABLE collections (
    id TEXT PRIMARY KEY,
    account_id TEXT NOT NULL REFERENCES accounts(id) ON DELETE CASCADE,
    name TEXT NOT NULL,
    kind TEXT NOT NULL CHECK (kind IN ('contacts', 'events', 'tasks', 'notes')),
    display_name TEXT NOT NULL,
    color TEXT,
    created_at INTEGER NOT NULL,
    UNIQUE (account_id, name)
  ) STRICT;

  CREATE TABLE items (
    id TEXT PRIMARY KEY,
    account_id TEXT NOT NULL REFERENCES accounts(id) ON DELETE CASCADE,
    collection_id TEXT NOT NULL REFERENCES collections(id) ON DELETE CASCADE,
    uid TEXT,
    data TEXT,
    etag TEXT NOT NULL,
    seq INTEGER NOT NULL,
    created_seq INTEGER NOT NULL,
    origin_device TEXT,
    deleted_at INTEGER,
    title TEXT NOT NULL,
    start_ms INTEGER,
    end_ms INTEGER
  ) STRICT;
  CREATE INDEX items_changes ON items(collection_id, seq);
  CREATE UNIQUE INDEX items_live_uid ON items(collection_id, uid) WHERE deleted_at IS NULL AND uid IS NOT NULL;
  CREATE INDEX items_tombstones ON items(account_id, deleted_at) WHERE deleted_at IS NOT NULL;

  CREATE TABLE devices (
    account_id TEXT NOT NULL REFERENCES accounts(id) ON DELETE CASCADE,
    id TEXT NOT NULL,
    name TEXT NOT NULL,
    protocol TEXT NOT NULL,
    priority INTEGER NOT NULL,
    created_at INTEGER NOT NULL,
    last_seen_at INTEGER NOT NULL,
    PRIMARY KEY (account_id, id)
  ) STRICT;

  CREATE TABLE sync_states (
    account_id TEXT NOT NULL,
    device_id TEXT NOT NULL,
    collection_id TEXT NOT NULL REFERENCES collections(id) ON DELETE CASCADE,
    sync_key INTEGER NOT NULL,
    checkpoint TEXT NOT NULL,
    previous TEXT,
    last_sent_key INTEGER NOT NULL,
    last_results TEXT NOT NULL,
    reinit_times TEXT NOT NULL,
    updated_at INTEGER NOT NULL,
    PRIMARY KEY (account_id, device_id, collection_id),
    FOREIGN KEY (account_id, device_id) REFERENCES devices(account_id, id) ON DELETE CASCADE
  ) STRICT;
  `,
  // Issue 3: duplicate detection keys, item history (the common version for three-way merges) and
  // conflict records (every losing version, restorable).
  `
  ALTER TABLE items ADD COLUMN match_name TEXT;
  ALTER TABLE items ADD COLUMN contact_keys TEXT NOT NULL DEFAULT '[]';
  CREATE INDEX items_live_name ON items(collection_id, match_name) WHERE deleted_at IS NULL AND match_name IS NOT NULL;

  CREATE TABLE item_versions (
    item_id TEXT NOT NULL REFERENCES items(id) ON DELETE CASCADE,
    seq INTEGER NOT NULL,
    data TEXT NOT NULL,
    written_at INTEGER NOT NULL,
    PRIMARY KEY (item_id, seq)
  ) STRICT;

  CREATE TABLE conflicts (
    id TEXT PRIMARY KEY,
    account_id TEXT NOT NULL REFERENCES accounts(id) ON DELETE CASCADE,
    collection_id TEXT NOT NULL REFERENCES collections(id) ON DELETE CASCADE,
    item_id TEXT NOT NULL,
    data TEXT NOT NULL,
    lost_by TEXT,
    won_by TEXT,
    reason TEXT NOT NULL,
    created_at INTEGER NOT NULL,
    restored_at INTEGER
  ) STRICT;
  CREATE INDEX conflicts_account ON conflicts(account_id, created_at);
  `,
  // Server-driven sync points: the hub holds the key such a point last acknowledged, on its behalf.
  `
  CREATE TABLE point_keys (
    account_id TEXT NOT NULL,
    device_id TEXT NOT NULL,
    collection_id TEXT NOT NULL REFERENCES collections(id) ON DELETE CASCADE,
    sync_key INTEGER NOT NULL,
    PRIMARY KEY (account_id, device_id, collection_id),
    FOREIGN KEY (account_id, device_id) REFERENCES devices(account_id, id) ON DELETE CASCADE
  ) STRICT;
  `,
  // Who created an item: a device that learned of its own item from an Add result must hear of its delete.
  `
  ALTER TABLE items ADD COLUMN created_by TEXT;
  `,
  // Every Add a sync point made, by client id and content: a copy of it arriving later, however late,
  // lands on the same item instead of creating another.
  `
  CREATE TABLE add_ledger (
    account_id TEXT NOT NULL,
    device_id TEXT NOT NULL,
    collection_id TEXT NOT NULL,
    client_id TEXT NOT NULL,
    data_etag TEXT NOT NULL,
    item_id TEXT NOT NULL REFERENCES items(id) ON DELETE CASCADE,
    PRIMARY KEY (account_id, device_id, collection_id, client_id, data_etag)
  ) STRICT;
  CREATE INDEX add_ledger_item ON add_ledger(item_id);
  `,
  // Push (docs/design.md § Push notices): each device's token sequence, and what each token it was sent stands for, so an
  // echoed token can be matched to the change it carried until the device's sync state passes it.
  `
  CREATE TABLE push_counters (
    account_id TEXT NOT NULL REFERENCES accounts(id) ON DELETE CASCADE,
    device_id TEXT NOT NULL,
    next_token INTEGER NOT NULL,
    PRIMARY KEY (account_id, device_id)
  ) STRICT;
  CREATE TABLE push_tokens (
    account_id TEXT NOT NULL,
    device_id TEXT NOT NULL,
    token INTEGER NOT NULL,
    collection_id TEXT NOT NULL REFERENCES collections(id) ON DELETE CASCADE,
    item_id TEXT NOT NULL,
    seq INTEGER NOT NULL,
    issued_at INTEGER NOT NULL,
    PRIMARY KEY (account_id, device_id, token),
    FOREIGN KEY (account_id, device_id) REFERENCES push_counters(account_id, device_id) ON DELETE CASCADE
  ) STRICT, WITHOUT ROWID;
  CREATE INDEX push_tokens_release ON push_tokens(account_id, device_id, collection_id, seq);
  CREATE INDEX push_tokens_issued ON push_tokens(account_id, issued_at);
  `,
  // CardDAV/CalDAV: the resource name a DAV client chose for an item (PUT /dav/.../NAME). Items made
  // elsewhere have none and are served as ID.vcf / ID.ics. A name outlives its item's delete, so a
  // client that creates the same name again gets the same item back.
  `
  CREATE TABLE dav_names (
    account_id TEXT NOT NULL,
    collection_id TEXT NOT NULL REFERENCES collections(id) ON DELETE CASCADE,
    name TEXT NOT NULL,
    item_id TEXT NOT NULL UNIQUE REFERENCES items(id) ON DELETE CASCADE,
    PRIMARY KEY (collection_id, name)
  ) STRICT;
  `,
  // A collection's description (CardDAV addressbook-description, CalDAV calendar-description).
  `
  ALTER TABLE collections ADD COLUMN description TEXT;
  `,
  // The web app (issue 7): signed-in browser sessions, each device's recent errors and the app password
  // it last used, and the changes synced per device and day (the sync-health chart).
  `
  CREATE TABLE web_sessions (
    id_hash TEXT PRIMARY KEY,
    account_id TEXT NOT NULL REFERENCES accounts(id) ON DELETE CASCADE,
    csrf TEXT NOT NULL,
    created_at INTEGER NOT NULL,
    expires_at INTEGER NOT NULL
  ) STRICT;
  CREATE INDEX web_sessions_expiry ON web_sessions(expires_at);
  ALTER TABLE devices ADD COLUMN token_id TEXT;
  CREATE TABLE device_errors (
    account_id TEXT NOT NULL,
    device_id TEXT NOT NULL,
    at INTEGER NOT NULL,
    status TEXT NOT NULL,
    message TEXT NOT NULL,
    FOREIGN KEY (account_id, device_id) REFERENCES devices(account_id, id) ON DELETE CASCADE
  ) STRICT;
  CREATE INDEX device_errors_device ON device_errors(account_id, device_id, at);
  CREATE TABLE sync_activity (
    account_id TEXT NOT NULL REFERENCES accounts(id) ON DELETE CASCADE,
    device_id TEXT NOT NULL,
    day TEXT NOT NULL,
    changes INTEGER NOT NULL,
    PRIMARY KEY (account_id, day, device_id)
  ) STRICT;
  `,
  // Exchange ActiveSync: per-device state of its own (the folder hierarchy last sent, quarantined items),
  // as JSON under a key. It goes with the device when the device is revoked.
  `
  CREATE TABLE face_states (
    account_id TEXT NOT NULL REFERENCES accounts(id) ON DELETE CASCADE,
    device_id TEXT NOT NULL,
    key TEXT NOT NULL,
    value TEXT NOT NULL,
    PRIMARY KEY (account_id, device_id, key)
  ) STRICT;
  `,
  // Credentials (issue 12): a password change, however it is made (CLI, API, a database shell), raises the
  // account's credential epoch and ends its web sessions, so whatever was opened with the old password
  // can tell (docs/operations.md § Credentials). Known clients: the browsers and addresses that signed in
  // to an account before, which other clients' failed guesses do not slow down (§ Password throttling).
  `
  ALTER TABLE accounts ADD COLUMN credential_epoch INTEGER NOT NULL DEFAULT 0;
  CREATE TRIGGER accounts_password_changed AFTER UPDATE OF password_hash ON accounts
  WHEN OLD.password_hash IS NOT NEW.password_hash
  BEGIN
    UPDATE accounts SET credential_epoch = credential_epoch + 1 WHERE id = NEW.id;
    DELETE FROM web_sessions WHERE account_id = NEW.id;
  END;
  CREATE TABLE known_clients (
    account_id TEXT NOT NULL REFERENCES accounts(id) ON DELETE CASCADE,
    fingerprint TEXT NOT NULL,
    last_success_at INTEGER NOT NULL,
    PRIMARY KEY (account_id, fingerprint)
  ) STRICT;
  `,
  // The add ledger outlives the item an add made: once its tombstone is purged, a copy of the add
  // arriving still later must learn that its item is gone, not make it again (docs/architecture.md).
  `
  CREATE TABLE add_ledger_kept (
    account_id TEXT NOT NULL,
    device_id TEXT NOT NULL,
    collection_id TEXT NOT NULL REFERENCES collections(id) ON DELETE CASCADE,
    client_id TEXT NOT NULL,
    data_etag TEXT NOT NULL,
    item_id TEXT NOT NULL,
    PRIMARY KEY (account_id, device_id, collection_id, client_id, data_etag)
  ) STRICT;
  INSERT INTO add_ledger_kept SELECT account_id, device_id, collection_id, client_id, data_etag, item_id FROM add_ledger;
  DROP TABLE add_ledger;
  ALTER TABLE add_ledger_kept RENAME TO add_ledger;
  CREATE INDEX add_ledger_item ON add_ledger(item_id);
  `,
  // The verdict each add got: a copy of an add that lost to a twin is answered \`conflict\` again, not
  // \`ok\` (docs/protocol.md §5.3).
  `
  ALTER TABLE add_ledger ADD COLUMN status TEXT NOT NULL DEFAULT 'ok';
  `,
  // A DAV calendar made without a component set holds events and tasks: its tasks live in a tasks
  // collection that names it, and goes with it (docs/dav.md § Calendars made without a component set).
  `
  ALTER TABLE collections ADD COLUMN calendar_id TEXT REFERENCES collections(id) ON DELETE CASCADE;
  `,
  // The address ActiveSync reports for the account (issue 13 D7, docs/eas.md § Setting up a phone).
  `
  ALTER TABLE accounts ADD COLUMN email TEXT;
  `,
  // DAV listings page through a collection's live members in id order (keyset pagination, docs/dav.md § Streaming).
  `
  CREATE INDEX items_members ON items(collection_id, id) WHERE deleted_at IS NULL;
  `,
  // The version a purged item last held: a change carrying that very version, sent again by a device that
  // never got its answer, learns the item is gone rather than making it again (docs/protocol.md §8).
  `
  CREATE TABLE purged_items (
    account_id TEXT NOT NULL,
    collection_id TEXT NOT NULL REFERENCES collections(id) ON DELETE CASCADE,
    item_id TEXT NOT NULL,
    etag TEXT NOT NULL,
    PRIMARY KEY (account_id, collection_id, item_id)
  ) STRICT;
  `,
  // Who wrote each kept version: a device holds its own writes even before its checkpoint reaches them,
  // so the version an edit of its was made from is found (hub/held-versions.ts; issue 13).
  `
  ALTER TABLE item_versions ADD COLUMN origin_device TEXT;
  `,
  // Every version an item has held, by etag, for as long as the item (or its tombstone) is kept: a change
  // carrying one of them, sent again by a device whose answer was lost, was written before a later
  // delete, also after the version's data has left the history (docs/protocol.md §8).
  `
  CREATE TABLE item_etags (
    item_id TEXT NOT NULL REFERENCES items(id) ON DELETE CASCADE,
    etag TEXT NOT NULL,
    PRIMARY KEY (item_id, etag)
  ) STRICT, WITHOUT ROWID;
  INSERT OR IGNORE INTO item_etags (item_id, etag) SELECT id, etag FROM items WHERE data IS NOT NULL;
  `,
  // A DAV listing of etags (PROPFIND Depth:1) reads its members from
  // indexes alone: items_members holds every column such a page needs, and the time span a calendar-query
  // narrows by, so only the items it keeps are read from the table; dav_names_item holds a member's name
  // (docs/dav.md § Streaming).
  `
  DROP INDEX items_members;
  CREATE INDEX items_members ON items(collection_id, id, account_id, etag, seq, start_ms, end_ms, deleted_at) WHERE deleted_at IS NULL;
  CREATE INDEX dav_names_item ON dav_names(item_id, name);
  `,
  // Push channels as every server process sees them (docs/operations.md § PostgreSQL): commits issue
  // tokens for every registered device, whichever process holds its channel.
  `
  CREATE TABLE push_channels (
    account_id TEXT NOT NULL REFERENCES accounts(id) ON DELETE CASCADE,
    device_id TEXT NOT NULL,
    process_id TEXT NOT NULL,
    collections TEXT,
    seen_at INTEGER NOT NULL,
    PRIMARY KEY (account_id, device_id)
  ) STRICT;
  CREATE INDEX push_channels_process ON push_channels(process_id);
  `,
  // What several processes must share beyond push channels (docs/operations.md § PostgreSQL): which
  // channels are long-poll mailboxes (the account's limit on them counts every process's), the push
  // tickets not yet used (by hash), and the counters of failed secrets (by a hash of what they count).
  `
  ALTER TABLE push_channels ADD COLUMN mailbox INTEGER NOT NULL DEFAULT 0;
  CREATE TABLE push_tickets (
    ticket_hash TEXT PRIMARY KEY,
    account_id TEXT NOT NULL REFERENCES accounts(id) ON DELETE CASCADE,
    token_id TEXT,
    session_id_hash TEXT,
    epoch INTEGER NOT NULL,
    expires_at INTEGER NOT NULL
  ) STRICT;
  CREATE INDEX push_tickets_account ON push_tickets(account_id, expires_at);
  CREATE INDEX push_tickets_expiry ON push_tickets(expires_at);
  CREATE TABLE auth_failures (
    key_hash TEXT PRIMARY KEY,
    failures INTEGER NOT NULL,
    last_at INTEGER NOT NULL
  ) STRICT;
  CREATE INDEX auth_failures_last ON auth_failures(last_at);
  `,
  // Upstream servers (issue 16, docs/operations.md § Upstream servers): each account's upstream accounts,
  // their sealed passwords and run state, each known as a sync point by its device (whose row holds its
  // priority, and whose deletion takes the upstream with it); and which upstream collection feeds which
  // collection, with where the sync run left it. Every row goes with its account.
  `
  CREATE TABLE upstreams (
    id TEXT PRIMARY KEY,
    account_id TEXT NOT NULL REFERENCES accounts(id) ON DELETE CASCADE,
    kind TEXT NOT NULL,
    url TEXT NOT NULL,
    username TEXT NOT NULL,
    secret TEXT NOT NULL,
    device_id TEXT NOT NULL,
    created_at INTEGER NOT NULL,
    last_run_at INTEGER,
    last_error TEXT,
    next_run_at INTEGER,
    failures INTEGER NOT NULL DEFAULT 0,
    UNIQUE (account_id, device_id),
    FOREIGN KEY (account_id, device_id) REFERENCES devices(account_id, id) ON DELETE CASCADE
  ) STRICT;
  CREATE INDEX upstreams_account ON upstreams(account_id, created_at);
  CREATE TABLE upstream_collections (
    account_id TEXT NOT NULL REFERENCES accounts(id) ON DELETE CASCADE,
    upstream_id TEXT NOT NULL REFERENCES upstreams(id) ON DELETE CASCADE,
    url TEXT NOT NULL,
    collection_id TEXT NOT NULL REFERENCES collections(id) ON DELETE CASCADE,
    sync_token TEXT,
    ctag TEXT,
    PRIMARY KEY (upstream_id, url, collection_id)
  ) STRICT;
  CREATE INDEX upstream_collections_collection ON upstream_collections(collection_id);
  `,
  // Server-driven sync points' memory (docs/design.md § Server-driven sync points): which remote object
  // (an upstream href) holds which item, with its remote and hub versions; and each point's position at
  // its source, kept beside its key so one transaction moves both. The upstream mappings' own token
  // columns give way to it.
  `
  CREATE TABLE point_records (
    account_id TEXT NOT NULL,
    device_id TEXT NOT NULL,
    collection_id TEXT NOT NULL REFERENCES collections(id) ON DELETE CASCADE,
    server_id TEXT NOT NULL,
    remote_id TEXT NOT NULL,
    remote_etag TEXT,
    held_etag TEXT NOT NULL,
    PRIMARY KEY (account_id, device_id, collection_id, server_id),
    UNIQUE (account_id, device_id, remote_id),
    FOREIGN KEY (account_id, device_id) REFERENCES devices(account_id, id) ON DELETE CASCADE
  ) STRICT;
  CREATE INDEX point_records_stale ON point_records(account_id, device_id, collection_id) WHERE remote_etag IS NULL;
  ALTER TABLE point_keys ADD COLUMN cursor TEXT;
  ALTER TABLE upstream_collections DROP COLUMN sync_token;
  ALTER TABLE upstream_collections DROP COLUMN ctag;
  CREATE INDEX upstreams_due ON upstreams(next_run_at);
  `,
  // Kinds are registered modules (docs/design.md § Kinds): the hub checks a collection's kind against
  // the registry, so the table no longer lists them. SQLite drops a CHECK only by rebuilding the table
  // (its documented twelve steps; migrate() runs migrations with foreign keys off, so the rows that
  // name a collection stay as they are, and checks them before each commit).
  `
  CREATE TABLE collections_rebuilt (
    id TEXT PRIMARY KEY,
    account_id TEXT NOT NULL REFERENCES accounts(id) ON DELETE CASCADE,
    name TEXT NOT NULL,
    kind TEXT NOT NULL,
    display_name TEXT NOT NULL,
    color TEXT,
    created_at INTEGER NOT NULL,
    description TEXT,
    calendar_id TEXT REFERENCES collections(id) ON DELETE CASCADE,
    UNIQUE (account_id, name)
  ) STRICT;
  INSERT INTO collections_rebuilt (id, account_id, name, kind, display_name, color, created_at, description, calendar_id)
    SELECT id, account_id, name, kind, display_name, color, created_at, description, calendar_id FROM collections;
  DROP TABLE collections;
  ALTER TABLE collections_rebuilt RENAME TO collections;
  `,
  // Blobs (docs/design.md § Blobs): bytes kept once per account under their SHA-256. An item version's
  // large body is one, named by the version (its inline data then empty), so versions that share a body
  // share its bytes; purgeTombstones drops the blobs no version names.
  `
  CREATE TABLE blobs (
    account_id TEXT NOT NULL REFERENCES accounts(id) ON DELETE CASCADE,
    hash TEXT NOT NULL,
    data BLOB NOT NULL,
    bytes INTEGER NOT NULL,
    PRIMARY KEY (account_id, hash)
  ) STRICT;
  ALTER TABLE item_versions ADD COLUMN blob_hash TEXT;
  CREATE INDEX item_versions_blob ON item_versions(blob_hash) WHERE blob_hash IS NOT NULL;
  `,
  // Displaced members of a server-driven point (protocol/server-point.ts displacedId): listed at every run.
  `
  CREATE INDEX point_records_displaced ON point_records(account_id, device_id, collection_id) WHERE server_id LIKE '~%';
  `,
  // IMAP upstreams send mail through their SMTP submission server (docs/operations.md § Upstream servers).
  `
  ALTER TABLE upstreams ADD COLUMN submission_url TEXT;
  `,
  // Mail parts fetched from IMAP and kept (docs/protocol.md §10.6, docs/design.md § Blobs): each row names
  // the blob of one decoded part of one mail item, and which message (UIDVALIDITY/UID/FOLDER) it was read from.
  // A row goes with its item; the purge forgets the rows of items no longer live, then sweeps the blobs
  // no row names.
  `
  CREATE TABLE mail_parts (
    account_id TEXT NOT NULL REFERENCES accounts(id) ON DELETE CASCADE,
    collection_id TEXT NOT NULL,
    item_id TEXT NOT NULL REFERENCES items(id) ON DELETE CASCADE,
    part TEXT NOT NULL,
    remote_id TEXT NOT NULL,
    blob_hash TEXT NOT NULL,
    bytes INTEGER NOT NULL,
    content_type TEXT NOT NULL,
    fetched_at INTEGER NOT NULL,
    PRIMARY KEY (account_id, collection_id, item_id, part)
  ) STRICT;
  CREATE INDEX mail_parts_item ON mail_parts(item_id);
  CREATE INDEX mail_parts_blob ON mail_parts(account_id, blob_hash);
  `,
  // Mail sent through an IMAP upstream's submission server, by the client id its device gave, so a retried
  // send is answered from here and never sent twice (docs/protocol.md §10.7). Not an upstream's: removing
  // the upstream keeps what was sent.
  `
  CREATE TABLE mail_sends (
    account_id TEXT NOT NULL REFERENCES accounts(id) ON DELETE CASCADE,
    client_id TEXT NOT NULL,
    state TEXT NOT NULL,
    upstream_id TEXT NOT NULL,
    message_id TEXT NOT NULL,
    started_at INTEGER NOT NULL,
    sent_at INTEGER,
    accepted TEXT NOT NULL,
    rejected TEXT NOT NULL,
    response TEXT,
    error TEXT,
    sent_folder TEXT,
    PRIMARY KEY (account_id, client_id)
  ) STRICT;
  `,
];
