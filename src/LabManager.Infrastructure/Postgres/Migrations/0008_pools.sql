-- Warm pools: a lab's pool settings, pooled instances (owned by the pool's user until claimed) and when one was claimed.
ALTER TABLE labs ADD COLUMN pool jsonb;
ALTER TABLE lab_instances ADD COLUMN claimed_at timestamptz;
ALTER TABLE lab_instances DROP CONSTRAINT lab_instances_status_check;
ALTER TABLE lab_instances ADD CONSTRAINT lab_instances_status_check
    CHECK (status IN ('starting', 'provisioning', 'running', 'stopping', 'stopped', 'expired', 'error', 'pooled'));
INSERT INTO users (id, username, role) VALUES ('00000000-0000-0000-0000-00000000900f', 'warm pool', 'user') ON CONFLICT (id) DO NOTHING;
CREATE INDEX ix_lab_instances_pooled ON lab_instances (lab_id, created_at) WHERE status = 'pooled';
