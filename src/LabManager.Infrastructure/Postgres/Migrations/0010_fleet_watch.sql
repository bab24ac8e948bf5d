-- What each instance asked the cloud to make (vm-1, vm-2 after a reset, firewall): a create is looked for before it is sent again only
-- when an earlier one may have reached the cloud, so a first create costs one call.
CREATE TABLE cloud_requests (
    instance_id uuid NOT NULL REFERENCES lab_instances (id),
    request text NOT NULL,
    at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (instance_id, request)
);

-- The shared VM watch's turns: one replica takes each.
CREATE TABLE vm_watch_turns (
    id int PRIMARY KEY CHECK (id = 1),
    slot bigint NOT NULL
);
INSERT INTO vm_watch_turns (id, slot) VALUES (1, 0);

CREATE INDEX ix_lab_instances_provisioning ON lab_instances (id) WHERE status = 'provisioning';
