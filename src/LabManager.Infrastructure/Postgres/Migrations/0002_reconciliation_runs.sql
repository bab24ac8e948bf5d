-- What each reconciliation run found and did, for the admin route and for operators.
CREATE TABLE reconciliation_runs (
    id                 bigserial PRIMARY KEY,
    started_at         timestamptz NOT NULL,
    duration_ms        integer NOT NULL,
    tagged_vms         integer NOT NULL,
    active_instances   integer NOT NULL,
    orphans_destroyed  integer NOT NULL,
    expired_ended      integer NOT NULL,
    vanished_vms       integer NOT NULL,
    lost_workflows     integer NOT NULL
);

CREATE INDEX ix_reconciliation_runs_started_at ON reconciliation_runs (started_at DESC);
