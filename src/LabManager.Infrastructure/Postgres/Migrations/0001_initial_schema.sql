-- The seed's schema: users, labs, lab_instances (with the cloud VM columns), user_progress.
CREATE TABLE users (
    id          uuid PRIMARY KEY,
    email       text,
    username    text,
    role        text NOT NULL DEFAULT 'user' CHECK (role IN ('user', 'admin')),
    created_at  timestamptz NOT NULL DEFAULT now(),
    updated_at  timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE labs (
    id                      uuid PRIMARY KEY,
    slug                    text NOT NULL UNIQUE,
    name                    text NOT NULL,
    description             text NOT NULL DEFAULT '',
    category                text NOT NULL,
    difficulty              text NOT NULL CHECK (difficulty IN ('beginner', 'intermediate', 'advanced', 'expert')),
    estimated_time_minutes  integer NOT NULL CHECK (estimated_time_minutes > 0),
    points                  integer NOT NULL DEFAULT 0,
    tags                    text[] NOT NULL DEFAULT '{}',
    container_config        jsonb NOT NULL,
    exercises               jsonb NOT NULL DEFAULT '[]',
    prerequisites           text[] NOT NULL DEFAULT '{}',
    learning_objectives     text[] NOT NULL DEFAULT '{}',
    timeout_minutes         integer NOT NULL CHECK (timeout_minutes > 0),
    max_instances_per_user  integer NOT NULL DEFAULT 1 CHECK (max_instances_per_user > 0),
    plan                    text NOT NULL,
    region                  text NOT NULL,
    is_active               boolean NOT NULL DEFAULT true,
    created_at              timestamptz NOT NULL DEFAULT now(),
    updated_at              timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE lab_instances (
    id                 uuid PRIMARY KEY,
    user_id            uuid NOT NULL REFERENCES users (id),
    lab_id             uuid NOT NULL REFERENCES labs (id),
    status             text NOT NULL CHECK (status IN ('starting', 'provisioning', 'running', 'stopping', 'stopped', 'expired', 'error')),
    cloud_instance_id  text,
    public_ip          text,
    internal_ip        text,
    access_url         text,
    ports              integer[] NOT NULL DEFAULT '{}',
    created_at         timestamptz NOT NULL,
    started_at         timestamptz,
    expires_at         timestamptz,
    ended_at           timestamptz,
    error_message      text,
    restart_count      integer NOT NULL DEFAULT 0,
    updated_at         timestamptz NOT NULL DEFAULT now()
);

CREATE INDEX ix_lab_instances_user_id ON lab_instances (user_id);
CREATE INDEX ix_lab_instances_lab_id ON lab_instances (lab_id);
CREATE INDEX ix_lab_instances_cloud_instance_id ON lab_instances (cloud_instance_id);
CREATE INDEX ix_lab_instances_expires_at ON lab_instances (expires_at);
-- Quota checks count active instances.
CREATE INDEX ix_lab_instances_active ON lab_instances (user_id, lab_id) WHERE status IN ('starting', 'provisioning', 'running', 'stopping');

CREATE TABLE user_progress (
    user_id           uuid NOT NULL REFERENCES users (id),
    lab_id            uuid NOT NULL REFERENCES labs (id),
    sessions          integer NOT NULL DEFAULT 0,
    last_started_at   timestamptz,
    last_ended_at     timestamptz,
    last_outcome      text,
    total_seconds     bigint NOT NULL DEFAULT 0,
    total_cost        numeric(12, 4) NOT NULL DEFAULT 0,
    points            integer NOT NULL DEFAULT 0,
    PRIMARY KEY (user_id, lab_id)
);
