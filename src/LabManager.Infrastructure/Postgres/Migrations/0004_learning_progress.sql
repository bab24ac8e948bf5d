-- Learning progress: each session, each submission, completed exercises, revealed hints, the learner memory and the tutor quota.
CREATE TABLE learning_sessions (
    instance_id       uuid PRIMARY KEY,
    user_id           uuid NOT NULL,
    lab_id            uuid NOT NULL REFERENCES labs (id),
    started_at        timestamptz,
    ended_at          timestamptz,
    duration_seconds  bigint NOT NULL DEFAULT 0,
    cost              numeric(12, 4) NOT NULL DEFAULT 0,
    outcome           text
);
CREATE INDEX ix_learning_sessions_user ON learning_sessions (user_id, lab_id);

CREATE TABLE exercise_submissions (
    id           bigserial PRIMARY KEY,
    user_id      uuid NOT NULL,
    lab_id       uuid NOT NULL REFERENCES labs (id),
    exercise_id  text NOT NULL,
    correct      boolean NOT NULL,
    at           timestamptz NOT NULL
);
CREATE INDEX ix_exercise_submissions_user_at ON exercise_submissions (user_id, at);

CREATE TABLE exercise_completions (
    user_id       uuid NOT NULL,
    lab_id        uuid NOT NULL REFERENCES labs (id),
    exercise_id   text NOT NULL,
    points        integer NOT NULL,
    completed_at  timestamptz NOT NULL,
    PRIMARY KEY (user_id, lab_id, exercise_id)
);

CREATE TABLE hint_reveals (
    user_id      uuid NOT NULL,
    lab_id       uuid NOT NULL REFERENCES labs (id),
    exercise_id  text NOT NULL,
    hint_id      text NOT NULL,
    cost         integer NOT NULL,
    revealed_at  timestamptz NOT NULL,
    PRIMARY KEY (user_id, lab_id, exercise_id, hint_id)
);

CREATE TABLE learner_memory (
    user_id     uuid PRIMARY KEY,
    summary     jsonb NOT NULL,
    updated_at  timestamptz NOT NULL
);

CREATE TABLE tutor_usage (
    user_id    uuid NOT NULL,
    day        date NOT NULL,
    questions  integer NOT NULL,
    PRIMARY KEY (user_id, day)
);
