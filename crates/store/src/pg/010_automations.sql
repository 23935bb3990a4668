-- SQLite migration 15: automations and their versions. A definition is never changed in
-- place: each PUT adds a row of automation_versions and moves automations.version to it, so
-- a run follows the version it started on. A deleted automation keeps its versions.
CREATE TABLE automations (
    id TEXT PRIMARY KEY,
    workspace_id TEXT NOT NULL,
    name TEXT NOT NULL,
    enabled BIGINT NOT NULL,
    version BIGINT NOT NULL,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL,
    deleted_at BIGINT
);
CREATE INDEX automations_workspace ON automations(workspace_id, id) WHERE deleted_at IS NULL;
CREATE TABLE automation_versions (
    automation_id TEXT NOT NULL REFERENCES automations(id),
    version BIGINT NOT NULL,
    definition TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    PRIMARY KEY (automation_id, version)
);
