-- Zoe's initial schema. This file is shared by PostgreSQL and SQLite: the
-- few column types that differ are written as double-brace tokens (id, time,
-- bytes, json) and replaced by the store's dialect before the file runs (see
-- dialect in store.go). Once landed, a migration is never edited: add
-- 0002_<what>.sql instead.

CREATE TABLE quotas (
    id                    {{id}},
    name                  TEXT NOT NULL UNIQUE,
    concurrent_executions INTEGER NOT NULL DEFAULT 0,
    memory                BIGINT NOT NULL DEFAULT 0,
    milli_cores           BIGINT NOT NULL DEFAULT 0,
    runtime_limit_seconds BIGINT NOT NULL DEFAULT 0
);

-- 0 means unlimited; users without a quota of their own get this one.
INSERT INTO quotas (name) VALUES ('default');

CREATE TABLE users (
    id            {{id}},
    username      TEXT NOT NULL UNIQUE,
    role          TEXT NOT NULL,
    source        TEXT NOT NULL,
    password_hash TEXT NOT NULL DEFAULT '',
    email         TEXT NOT NULL DEFAULT '',
    fs_uid        INTEGER NOT NULL DEFAULT 0,
    -- NULL means the default quota, so deleting a quota moves its users there.
    quota_id      BIGINT REFERENCES quotas (id) ON DELETE SET NULL,
    enabled       BOOLEAN NOT NULL DEFAULT TRUE,
    created_at    {{time}} NOT NULL,
    last_login_at {{time}}
);

CREATE TABLE tokens (
    id           {{id}},
    user_id      BIGINT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    name         TEXT NOT NULL,
    hash         TEXT NOT NULL UNIQUE, -- hex sha256 of the secret
    created_at   {{time}} NOT NULL,
    last_used_at {{time}},
    expires_at   {{time}},
    UNIQUE (user_id, name)
);

CREATE TABLE sessions (
    id         TEXT PRIMARY KEY,
    user_id    BIGINT REFERENCES users (id) ON DELETE CASCADE,
    data       {{bytes}} NOT NULL,
    expires_at {{time}} NOT NULL
);

CREATE INDEX sessions_user_id ON sessions (user_id);
CREATE INDEX sessions_expires_at ON sessions (expires_at);

CREATE TABLE settings (
    key   TEXT PRIMARY KEY,
    value TEXT NOT NULL
);

CREATE TABLE executions (
    id            {{id}},
    name          TEXT NOT NULL,
    user_id       BIGINT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    zapp_id       TEXT NOT NULL DEFAULT '',
    description   {{json}} NOT NULL,
    status        TEXT NOT NULL,
    error_message TEXT NOT NULL DEFAULT '',
    size          DOUBLE PRECISION NOT NULL DEFAULT 0,
    memory        BIGINT NOT NULL DEFAULT 0,
    milli_cores   BIGINT NOT NULL DEFAULT 0,
    submitted_at  {{time}} NOT NULL,
    started_at    {{time}},
    ended_at      {{time}},
    updated_at    {{time}} NOT NULL
);

CREATE INDEX executions_status ON executions (status);
CREATE INDEX executions_user_id_status ON executions (user_id, status);

CREATE TABLE services (
    id             {{id}},
    execution_id   BIGINT NOT NULL REFERENCES executions (id) ON DELETE CASCADE,
    name           TEXT NOT NULL,
    service_group  TEXT NOT NULL,
    essential      BOOLEAN NOT NULL,
    description    {{json}} NOT NULL,
    status         TEXT NOT NULL,
    backend_status TEXT NOT NULL,
    backend_id     TEXT NOT NULL DEFAULT '',
    host           TEXT NOT NULL DEFAULT '',
    ip_address     TEXT NOT NULL DEFAULT '',
    dns_name       TEXT NOT NULL DEFAULT '',
    memory         BIGINT NOT NULL DEFAULT 0,
    milli_cores    BIGINT NOT NULL DEFAULT 0,
    restart_count  INTEGER NOT NULL DEFAULT 0,
    error_message  TEXT NOT NULL DEFAULT '',
    exit_code      INTEGER,
    UNIQUE (execution_id, name)
);

CREATE INDEX services_host_backend_id ON services (host, backend_id);

CREATE TABLE ports (
    id            {{id}},
    service_id    BIGINT NOT NULL REFERENCES services (id) ON DELETE CASCADE,
    name          TEXT NOT NULL,
    number        INTEGER NOT NULL,
    protocol      TEXT NOT NULL,
    url_template  TEXT NOT NULL DEFAULT '',
    proxy         BOOLEAN NOT NULL DEFAULT FALSE,
    external_ip   TEXT NOT NULL DEFAULT '',
    external_port INTEGER NOT NULL DEFAULT 0
);

CREATE INDEX ports_service_id ON ports (service_id);

CREATE TABLE events (
    id           {{id}},
    execution_id BIGINT NOT NULL REFERENCES executions (id) ON DELETE CASCADE,
    at           {{time}} NOT NULL,
    kind         TEXT NOT NULL,
    message      TEXT NOT NULL
);

CREATE INDEX events_execution_id ON events (execution_id, at);
