-- A lab may name what its VM boots from (null: the deployment's Vultr:DefaultImage).
ALTER TABLE labs ADD COLUMN image jsonb;

-- Every VM a session was given (a reset adds one), with when it was made and destroyed: what the session costs.
ALTER TABLE lab_instances ADD COLUMN vms jsonb NOT NULL DEFAULT '[]';

-- Restarts, resets and extensions a learner asked for, counted against Api:MaxRebuildsPerWindow / MaxExtendsPerWindow.
CREATE TABLE session_requests (
    user_id uuid NOT NULL,
    instance_id uuid NOT NULL REFERENCES lab_instances (id) ON DELETE CASCADE,
    kind text NOT NULL CHECK (kind IN ('rebuild', 'extend')),
    at timestamptz NOT NULL
);
CREATE INDEX session_requests_user_kind_at ON session_requests (user_id, kind, at);

-- Reconciliation records the VMs it saw but left alone (not ours) and the calls that failed, per VM.
ALTER TABLE reconciliation_runs ADD COLUMN foreign_vms integer NOT NULL DEFAULT 0;
ALTER TABLE reconciliation_runs ADD COLUMN failures jsonb NOT NULL DEFAULT '[]';
