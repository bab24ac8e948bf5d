-- Each instance's firewall group, the address its learner last asked for access from, and when its lab was last used.
ALTER TABLE lab_instances ADD COLUMN firewall_group_id text, ADD COLUMN learner_ip text, ADD COLUMN last_activity_at timestamptz;

-- A lab's own idle timeout (null: LabSessions:IdleTimeout; 0: never).
ALTER TABLE labs ADD COLUMN idle_timeout_minutes integer;

-- Access links' tickets, each good for one use until it expires; only their SHA-256 is kept.
CREATE TABLE access_tickets (
    hash text PRIMARY KEY,
    instance_id uuid NOT NULL REFERENCES lab_instances (id) ON DELETE CASCADE,
    user_id uuid NOT NULL,
    expires_at timestamptz NOT NULL
);
CREATE INDEX access_tickets_expires_at ON access_tickets (expires_at);

-- Reconciliation deletes our firewall groups that outlived their instance.
ALTER TABLE reconciliation_runs ADD COLUMN firewalls_deleted integer NOT NULL DEFAULT 0;

-- A learner's moves of their lab's firewall to a new address are counted like restarts and extensions.
ALTER TABLE session_requests DROP CONSTRAINT session_requests_kind_check;
ALTER TABLE session_requests ADD CONSTRAINT session_requests_kind_check CHECK (kind IN ('rebuild', 'extend', 'readdress'));
