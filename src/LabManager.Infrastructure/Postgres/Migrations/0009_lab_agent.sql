-- The agent's last heartbeat of each instance: its containers, their log tails, and what the next heartbeat compares with.
CREATE TABLE instance_heartbeats (
    instance_id uuid PRIMARY KEY REFERENCES lab_instances (id) ON DELETE CASCADE,
    received_at timestamptz NOT NULL,
    generation integer NOT NULL,
    boot integer NOT NULL,
    containers jsonb NOT NULL,
    logs jsonb NOT NULL,
    failing text[] NOT NULL,
    restarted text[] NOT NULL,
    degraded boolean NOT NULL,
    net_total bigint NOT NULL,
    -- Set once operators were told the agent went silent; cleared by the next heartbeat.
    silent_at timestamptz
);

-- One point a minute for the last hour: the stats' series.
CREATE TABLE instance_stats (
    instance_id uuid NOT NULL REFERENCES lab_instances (id) ON DELETE CASCADE,
    minute timestamptz NOT NULL,
    cpu_percent real,
    memory_used bigint,
    memory_limit bigint,
    net_in bigint,
    net_out bigint,
    PRIMARY KEY (instance_id, minute)
);

-- Each instance's own flags, as SHA-256 only.
CREATE TABLE instance_flags (
    instance_id uuid NOT NULL REFERENCES lab_instances (id) ON DELETE CASCADE,
    exercise_id text NOT NULL,
    flag_sha256 text NOT NULL,
    PRIMARY KEY (instance_id, exercise_id)
);
CREATE INDEX instance_flags_hash ON instance_flags (flag_sha256);

-- A learner answered with the flag of another learner's instance.
CREATE TABLE shared_flag_signals (
    id bigserial PRIMARY KEY,
    at timestamptz NOT NULL,
    user_id uuid NOT NULL,
    lab_id uuid NOT NULL,
    exercise_id text NOT NULL,
    flag_instance_id uuid NOT NULL,
    flag_user_id uuid NOT NULL
);
CREATE INDEX shared_flag_signals_at ON shared_flag_signals (at);
