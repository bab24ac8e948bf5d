-- The VM's state as the cloud last reported it (status/power/server), kept in sync by reconciliation.
ALTER TABLE lab_instances ADD COLUMN vm_status text, ADD COLUMN vm_checked_at timestamptz;
