/**
 * PostgreSQL schema, one entry per migration; the table `schema_migrations` records how many have run.
 * Append new migrations; never edit one that has shipped. The first one is the SQLite schema as it stands
 * after its own migrations (src/store/sqlite/schema.ts), in PostgreSQL's types: times and sequence
 * numbers are BIGINT, JSON is JSONB, and ids, names and days sort bytewise (COLLATE "C"), as in SQLite,
 * whatever the database's locale, so keyset pages and listings come out in the same order on both.
 */
export const migrations: readonly string[] = [
  `
  CREATE TABLE accounts (
    id TEXT COLLATE "C" PRIMARY KEY,
    name TEXT COLLATE "C" NOT NULL UNIQUE,
    password_hash TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    -- The account's change sequence: bumped inside each writing transaction, so the row lock orders the
    -- account's writers and a number is never visible before the numbers below it (docs/operations.md § PostgreSQL).
    seq BIGINT NOT NULL DEFAULT 0,
    tombstone_floor BIGINT NOT NULL DEFAULT 0,
    credential_epoch BIGINT NOT NULL DEFAULT 0,
    email TEXT
  );

  CREATE TABLE app_tokens (
    id TEXT COLLATE "C" PRIMARY KEY,
    account_id TEXT COLLATE "C" NOT NULL REFERENCES accounts(id) ON DELETE CASCADE,
    label TEXT NOT NULL,
    secret_hash TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    last_used_at BIGINT
  );
  CREATE INDEX app_tokens_account ON app_tokens(account_id);

  CREATE TABLE collections (
    id TEXT COLLATE "C" PRIMARY KEY,
    account_id TEXT COLLATE "C" NOT NULL REFERENCES accounts(id) ON DELETE CASCADE,
    name TEXT COLLATE "C" NOT NULL,
    kind TEXT NOT NULL CHECK (kind IN ('contacts', 'events', 'tasks', 'notes')),
    display_name TEXT NOT NULL,
    color TEXT,
    description TEXT,
    created_at BIGINT NOT NULL,
    calendar_id TEXT COLLATE "C" REFERENCES collections(id) ON DELETE CASCADE,
    UNIQUE (account_id, name)
  );

  CREATE TABLE items (
    id TEXT COLLATE "C" PRIMARY KEY,
    account_id TEXT COLLATE "C" NOT NULL REFERENCES accounts(id) ON DELETE CASCADE,
    collection_id TEXT COLLATE "C" NOT NULL REFERENCES collections(id) ON DELETE CASCADE,
    uid TEXT,
    data TEXT,
    etag TEXT NOT NULL,
    seq BIGINT NOT NULL,
    created_seq BIGINT NOT NULL,
    created_by TEXT,
    origin_device TEXT,
    deleted_at BIGINT,
    title TEXT NOT NULL,
    start_ms BIGINT,
    end_ms BIGINT,
    match_name TEXT,
    contact_keys JSONB NOT NULL DEFAULT '[]'
  );
  CREATE INDEX items_changes ON items(collection_id, seq);
  CREATE UNIQUE INDEX items_live_uid ON items(collection_id, uid) WHERE deleted_at IS NULL AND uid IS NOT NULL;
  CREATE INDEX items_tombstones ON items(account_id, deleted_at) WHERE deleted_at IS NOT NULL;
  CREATE INDEX items_live_name ON items(collection_id, match_name) WHERE deleted_at IS NULL AND match_name IS NOT NULL;
  CREATE INDEX items_members ON items(collection_id, id) INCLUDE (account_id, etag, seq, start_ms, end_ms) WHERE deleted_at IS NULL;

  CREATE TABLE item_versions (
    item_id TEXT COLLATE "C" NOT NULL REFERENCES items(id) ON DELETE CASCADE,
    seq BIGINT NOT NULL,
    data TEXT NOT NULL,
    written_at BIGINT NOT NULL,
    origin_device TEXT,
    PRIMARY KEY (item_id, seq)
  );

  CREATE TABLE item_etags (
    item_id TEXT COLLATE "C" NOT NULL REFERENCES items(id) ON DELETE CASCADE,
    etag TEXT NOT NULL,
    PRIMARY KEY (item_id, etag)
  );

  CREATE TABLE devices (
    account_id TEXT COLLATE "C" NOT NULL REFERENCES accounts(id) ON DELETE CASCADE,
    id TEXT COLLATE "C" NOT NULL,
    name TEXT NOT NULL,
    protocol TEXT NOT NULL,
    priority INTEGER NOT NULL,
    created_at BIGINT NOT NULL,
    last_seen_at BIGINT NOT NULL,
    token_id TEXT,
    PRIMARY KEY (account_id, id)
  );

  CREATE TABLE sync_states (
    account_id TEXT COLLATE "C" NOT NULL,
    device_id TEXT COLLATE "C" NOT NULL,
    collection_id TEXT COLLATE "C" NOT NULL REFERENCES collections(id) ON DELETE CASCADE,
    sync_key BIGINT NOT NULL,
    checkpoint JSONB NOT NULL,
    previous JSONB,
    last_sent_key BIGINT NOT NULL,
    last_results JSONB NOT NULL,
    reinit_times JSONB NOT NULL,
    updated_at BIGINT NOT NULL,
    PRIMARY KEY (account_id, device_id, collection_id),
    FOREIGN KEY (account_id, device_id) REFERENCES devices(account_id, id) ON DELETE CASCADE
  );

  CREATE TABLE conflicts (
    id TEXT COLLATE "C" PRIMARY KEY,
    account_id TEXT COLLATE "C" NOT NULL REFERENCES accounts(id) ON DELETE CASCADE,
    collection_id TEXT COLLATE "C" NOT NULL REFERENCES collections(id) ON DELETE CASCADE,
    item_id TEXT NOT NULL,
    data TEXT NOT NULL,
    lost_by TEXT,
    won_by TEXT,
    reason TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    restored_at BIGINT
  );
  CREATE INDEX conflicts_account ON conflicts(account_id, created_at);

  CREATE TABLE point_keys (
    account_id TEXT COLLATE "C" NOT NULL,
    device_id TEXT COLLATE "C" NOT NULL,
    collection_id TEXT COLLATE "C" NOT NULL REFERENCES collections(id) ON DELETE CASCADE,
    sync_key BIGINT NOT NULL,
    PRIMARY KEY (account_id, device_id, collection_id),
    FOREIGN KEY (account_id, device_id) REFERENCES devices(account_id, id) ON DELETE CASCADE
  );

  CREATE TABLE add_ledger (
    account_id TEXT COLLATE "C" NOT NULL,
    device_id TEXT COLLATE "C" NOT NULL,
    collection_id TEXT COLLATE "C" NOT NULL REFERENCES collections(id) ON DELETE CASCADE,
    client_id TEXT NOT NULL,
    data_etag TEXT NOT NULL,
    item_id TEXT NOT NULL,
    status TEXT NOT NULL DEFAULT 'ok',
    PRIMARY KEY (account_id, device_id, collection_id, client_id, data_etag)
  );
  CREATE INDEX add_ledger_item ON add_ledger(item_id);

  CREATE TABLE push_counters (
    account_id TEXT COLLATE "C" NOT NULL REFERENCES accounts(id) ON DELETE CASCADE,
    device_id TEXT COLLATE "C" NOT NULL,
    next_token BIGINT NOT NULL,
    PRIMARY KEY (account_id, device_id)
  );
  CREATE TABLE push_tokens (
    account_id TEXT COLLATE "C" NOT NULL,
    device_id TEXT COLLATE "C" NOT NULL,
    token BIGINT NOT NULL,
    collection_id TEXT COLLATE "C" NOT NULL REFERENCES collections(id) ON DELETE CASCADE,
    item_id TEXT NOT NULL,
    seq BIGINT NOT NULL,
    issued_at BIGINT NOT NULL,
    PRIMARY KEY (account_id, device_id, token),
    FOREIGN KEY (account_id, device_id) REFERENCES push_counters(account_id, device_id) ON DELETE CASCADE
  );
  CREATE INDEX push_tokens_release ON push_tokens(account_id, device_id, collection_id, seq);
  CREATE INDEX push_tokens_issued ON push_tokens(account_id, issued_at);

  CREATE TABLE dav_names (
    account_id TEXT COLLATE "C" NOT NULL,
    collection_id TEXT COLLATE "C" NOT NULL REFERENCES collections(id) ON DELETE CASCADE,
    name TEXT COLLATE "C" NOT NULL,
    item_id TEXT COLLATE "C" NOT NULL UNIQUE REFERENCES items(id) ON DELETE CASCADE,
    PRIMARY KEY (collection_id, name)
  );
  CREATE INDEX dav_names_item ON dav_names(item_id) INCLUDE (name);

  CREATE TABLE web_sessions (
    id_hash TEXT PRIMARY KEY,
    account_id TEXT COLLATE "C" NOT NULL REFERENCES accounts(id) ON DELETE CASCADE,
    csrf TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    expires_at BIGINT NOT NULL
  );
  CREATE INDEX web_sessions_expiry ON web_sessions(expires_at);

  CREATE TABLE device_errors (
    id BIGSERIAL PRIMARY KEY,
    account_id TEXT COLLATE "C" NOT NULL,
    device_id TEXT COLLATE "C" NOT NULL,
    at BIGINT NOT NULL,
    status TEXT NOT NULL,
    message TEXT NOT NULL,
    FOREIGN KEY (account_id, device_id) REFERENCES devices(account_id, id) ON DELETE CASCADE
  );
  CREATE INDEX device_errors_device ON device_errors(account_id, device_id, at);

  CREATE TABLE sync_activity (
    account_id TEXT COLLATE "C" NOT NULL REFERENCES accounts(id) ON DELETE CASCADE,
    device_id TEXT COLLATE "C" NOT NULL,
    day TEXT COLLATE "C" NOT NULL,
    changes BIGINT NOT NULL,
    PRIMARY KEY (account_id, day, device_id)
  );

  CREATE TABLE face_states (
    account_id TEXT COLLATE "C" NOT NULL REFERENCES accounts(id) ON DELETE CASCADE,
    device_id TEXT COLLATE "C" NOT NULL,
    key TEXT COLLATE "C" NOT NULL,
    value TEXT NOT NULL,
    PRIMARY KEY (account_id, device_id, key)
  );

  CREATE TABLE known_clients (
    account_id TEXT COLLATE "C" NOT NULL REFERENCES accounts(id) ON DELETE CASCADE,
    fingerprint TEXT COLLATE "C" NOT NULL,
    last_success_at BIGINT NOT NULL,
    PRIMARY KEY (account_id, fingerprint)
  );

  CREATE TABLE purged_items (
    account_id TEXT COLLATE "C" NOT NULL,
    collection_id TEXT COLLATE "C" NOT NULL REFERENCES collections(id) ON DELETE CASCADE,
    item_id TEXT COLLATE "C" NOT NULL,
    etag TEXT NOT NULL,
    PRIMARY KEY (account_id, collection_id, item_id)
  );

  -- A password change, however it is made (CLI, API, a database shell), raises the account's credential
  -- epoch and ends its web sessions (docs/operations.md § Credentials).
  CREATE FUNCTION accounts_password_changed() RETURNS trigger LANGUAGE plpgsql AS $$
  BEGIN
    IF OLD.password_hash IS DISTINCT FROM NEW.password_hash THEN
      NEW.credential_epoch := OLD.credential_epoch + 1;
      DELETE FROM web_sessions WHERE account_id = NEW.id;
    END IF;
    RETURN NEW;
  END $$;
  CREATE TRIGGER accounts_password_changed BEFORE UPDATE OF password_hash ON accounts
    FOR EACH ROW EXECUTE FUNCTION accounts_password_changed();
  `,
  // Push across processes (docs/operations.md § PostgreSQL): the channel registry, and a notice on the
  // channel 'syncpoint' whenever a credential ends, whoever ended it (a server, the CLI, a database shell),
  // so every process re-checks the account's channels at once.
  `
  CREATE TABLE push_channels (
    account_id TEXT COLLATE "C" NOT NULL REFERENCES accounts(id) ON DELETE CASCADE,
    device_id TEXT COLLATE "C" NOT NULL,
    process_id TEXT COLLATE "C" NOT NULL,
    collections JSONB,
    seen_at BIGINT NOT NULL,
    PRIMARY KEY (account_id, device_id)
  );
  CREATE INDEX push_channels_process ON push_channels(process_id);

  CREATE FUNCTION syncpoint_credentials_ended() RETURNS trigger LANGUAGE plpgsql AS $$
  BEGIN
    PERFORM pg_notify('syncpoint', json_build_object('type', 'credentials', 'accountId', OLD.account_id)::text);
    RETURN NULL;
  END $$;
  CREATE TRIGGER app_tokens_deleted AFTER DELETE ON app_tokens FOR EACH ROW EXECUTE FUNCTION syncpoint_credentials_ended();
  CREATE TRIGGER web_sessions_deleted AFTER DELETE ON web_sessions FOR EACH ROW EXECUTE FUNCTION syncpoint_credentials_ended();
  CREATE FUNCTION syncpoint_password_changed() RETURNS trigger LANGUAGE plpgsql AS $$
  BEGIN
    PERFORM pg_notify('syncpoint', json_build_object('type', 'credentials', 'accountId', NEW.id)::text);
    RETURN NULL;
  END $$;
  CREATE TRIGGER accounts_password_notice AFTER UPDATE OF password_hash ON accounts
    FOR EACH ROW WHEN (OLD.password_hash IS DISTINCT FROM NEW.password_hash) EXECUTE FUNCTION syncpoint_password_changed();
  `,
  // As SQLite's migration that adds them: mailboxes among the channels, push tickets, failed secrets.
  `
  ALTER TABLE push_channels ADD COLUMN mailbox BOOLEAN NOT NULL DEFAULT false;
  CREATE TABLE push_tickets (
    ticket_hash TEXT COLLATE "C" PRIMARY KEY,
    account_id TEXT COLLATE "C" NOT NULL REFERENCES accounts(id) ON DELETE CASCADE,
    token_id TEXT COLLATE "C",
    session_id_hash TEXT COLLATE "C",
    epoch BIGINT NOT NULL,
    expires_at BIGINT NOT NULL
  );
  CREATE INDEX push_tickets_account ON push_tickets(account_id, expires_at);
  CREATE INDEX push_tickets_expiry ON push_tickets(expires_at);
  CREATE TABLE auth_failures (
    key_hash TEXT COLLATE "C" PRIMARY KEY,
    failures INTEGER NOT NULL,
    last_at BIGINT NOT NULL
  );
  CREATE INDEX auth_failures_last ON auth_failures(last_at);
  `,
  // As SQLite's migration that adds them: upstream servers and their mapped collections.
  `
  CREATE TABLE upstreams (
    id TEXT COLLATE "C" PRIMARY KEY,
    account_id TEXT COLLATE "C" NOT NULL REFERENCES accounts(id) ON DELETE CASCADE,
    kind TEXT NOT NULL,
    url TEXT NOT NULL,
    username TEXT NOT NULL,
    secret TEXT NOT NULL,
    device_id TEXT COLLATE "C" NOT NULL,
    created_at BIGINT NOT NULL,
    last_run_at BIGINT,
    last_error TEXT,
    next_run_at BIGINT,
    failures INTEGER NOT NULL DEFAULT 0,
    UNIQUE (account_id, device_id),
    FOREIGN KEY (account_id, device_id) REFERENCES devices(account_id, id) ON DELETE CASCADE
  );
  CREATE INDEX upstreams_account ON upstreams(account_id, created_at);
  CREATE TABLE upstream_collections (
    account_id TEXT COLLATE "C" NOT NULL REFERENCES accounts(id) ON DELETE CASCADE,
    upstream_id TEXT COLLATE "C" NOT NULL REFERENCES upstreams(id) ON DELETE CASCADE,
    url TEXT COLLATE "C" NOT NULL,
    collection_id TEXT COLLATE "C" NOT NULL REFERENCES collections(id) ON DELETE CASCADE,
    sync_token TEXT,
    ctag TEXT,
    PRIMARY KEY (upstream_id, url, collection_id)
  );
  CREATE INDEX upstream_collections_collection ON upstream_collections(collection_id);
  `,
  // As SQLite's migration that adds them: server-driven points' records and cursors.
  `
  CREATE TABLE point_records (
    account_id TEXT COLLATE "C" NOT NULL,
    device_id TEXT COLLATE "C" NOT NULL,
    collection_id TEXT COLLATE "C" NOT NULL REFERENCES collections(id) ON DELETE CASCADE,
    server_id TEXT COLLATE "C" NOT NULL,
    remote_id TEXT COLLATE "C" NOT NULL,
    remote_etag TEXT,
    held_etag TEXT NOT NULL,
    PRIMARY KEY (account_id, device_id, collection_id, server_id),
    UNIQUE (account_id, device_id, remote_id),
    FOREIGN KEY (account_id, device_id) REFERENCES devices(account_id, id) ON DELETE CASCADE
  );
  CREATE INDEX point_records_stale ON point_records(account_id, device_id, collection_id) WHERE remote_etag IS NULL;
  ALTER TABLE point_keys ADD COLUMN cursor TEXT;
  ALTER TABLE upstream_collections DROP COLUMN sync_token;
  ALTER TABLE upstream_collections DROP COLUMN ctag;
  CREATE INDEX upstreams_due ON upstreams(next_run_at);
  `,
  // Kinds are registered modules (docs/design.md § Kinds): the hub checks a collection's kind against the registry.
  `
  ALTER TABLE collections DROP CONSTRAINT IF EXISTS collections_kind_check;
  `,
  // Blobs (docs/design.md § Blobs): bytes kept once per account under their SHA-256; a version's large body is one.
  `
  CREATE TABLE blobs (
    account_id TEXT COLLATE "C" NOT NULL REFERENCES accounts(id) ON DELETE CASCADE,
    hash TEXT COLLATE "C" NOT NULL,
    data BYTEA NOT NULL,
    bytes INTEGER NOT NULL,
    PRIMARY KEY (account_id, hash)
  );
  ALTER TABLE item_versions ADD COLUMN blob_hash TEXT COLLATE "C";
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
  // As SQLite's migration that adds it: mail parts fetched from IMAP and kept as blobs.
  `
  CREATE TABLE mail_parts (
    account_id TEXT COLLATE "C" NOT NULL REFERENCES accounts(id) ON DELETE CASCADE,
    collection_id TEXT COLLATE "C" NOT NULL,
    item_id TEXT COLLATE "C" NOT NULL REFERENCES items(id) ON DELETE CASCADE,
    part TEXT COLLATE "C" NOT NULL,
    remote_id TEXT COLLATE "C" NOT NULL,
    blob_hash TEXT COLLATE "C" NOT NULL,
    bytes BIGINT NOT NULL,
    content_type TEXT NOT NULL,
    fetched_at BIGINT NOT NULL,
    PRIMARY KEY (account_id, collection_id, item_id, part)
  );
  CREATE INDEX mail_parts_item ON mail_parts(item_id);
  CREATE INDEX mail_parts_blob ON mail_parts(account_id, blob_hash);
  `,
  // Mail sent through an IMAP upstream's submission server, by the client id its device gave (docs/protocol.md §10.7).
  `
  CREATE TABLE mail_sends (
    account_id TEXT COLLATE "C" NOT NULL REFERENCES accounts(id) ON DELETE CASCADE,
    client_id TEXT COLLATE "C" NOT NULL,
    state TEXT NOT NULL,
    upstream_id TEXT COLLATE "C" NOT NULL,
    message_id TEXT NOT NULL,
    started_at BIGINT NOT NULL,
    sent_at BIGINT,
    accepted TEXT NOT NULL,
    rejected TEXT NOT NULL,
    response TEXT,
    error TEXT,
    sent_folder TEXT,
    PRIMARY KEY (account_id, client_id)
  );
  `,
];
