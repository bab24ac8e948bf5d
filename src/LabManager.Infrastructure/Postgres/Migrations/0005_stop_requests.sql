-- A learner's or admin's stop is remembered on the instance, so reconciliation can raise it again if its event was lost.
ALTER TABLE lab_instances ADD COLUMN stop_requested_at timestamptz;
ALTER TABLE reconciliation_runs ADD COLUMN stops_resent integer NOT NULL DEFAULT 0;
