-- Lab versions: every change of a definition is kept (who, when, what changed); an instance records the version it started with.
ALTER TABLE labs ADD COLUMN version integer NOT NULL DEFAULT 1;
ALTER TABLE labs ADD COLUMN updated_by text NOT NULL DEFAULT 'catalog file';
ALTER TABLE labs ADD COLUMN deleted_at timestamptz;

CREATE TABLE lab_versions (
    lab_id      uuid NOT NULL REFERENCES labs (id),
    version     integer NOT NULL,
    definition  jsonb NOT NULL,
    changed_by  text NOT NULL,
    changed_at  timestamptz NOT NULL DEFAULT now(),
    changes     text[] NOT NULL DEFAULT '{}',
    note        text,
    PRIMARY KEY (lab_id, version)
);

ALTER TABLE lab_instances ADD COLUMN lab_version integer NOT NULL DEFAULT 0;
