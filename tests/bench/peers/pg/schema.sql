-- tests/bench/peers/pg/schema.sql - the PostgreSQL peer's state: one row
-- per pipeline run, stage run and target run, and the transactional outbox.
--
-- The state machine of the hot path (domain.md's tables: a target result
-- moves its target run, the stage run rolls up, the pipeline run rolls up,
-- the next stage is queued under auto-promote) lives in PL/pgSQL functions
-- below, so one result is one round trip (a statement of a pipelined
-- batch) instead of five or six. Every transition inserts one outbox row
-- holding the event's fields (kind 0); every device command to send one
-- outbox row (kind 1). sr-peer-pg's relay encodes them with the project's
-- codec (the same Avro records sr-status writes), publishes them in id
-- order and deletes what the broker acknowledged.
--
-- Statuses are the lower-case wire names; 'none' is a row inserted by the
-- create command whose entity does not exist yet (stage runs before their
-- first event, target runs before their stage is materialised).

CREATE TABLE pipeline_run (
        id            uuid PRIMARY KEY,
        pipeline_id   uuid NOT NULL,
        enterprise_id text NOT NULL,
        auto_promote  boolean NOT NULL,
        n_stages      int NOT NULL,
        created_by    uuid NOT NULL,
        status        text NOT NULL DEFAULT 'none',
        reason        text NOT NULL DEFAULT '',
        version       bigint NOT NULL DEFAULT 0,
        last_seq      bigint NOT NULL DEFAULT 0,
        updated_at    bigint NOT NULL DEFAULT 0
) WITH (fillfactor = 70);

CREATE TABLE stage_run (
        id              uuid PRIMARY KEY,
        pipeline_run_id uuid NOT NULL,
        idx             int NOT NULL,
        n_ops           int NOT NULL,
        n_targets       int NOT NULL,
        status          text NOT NULL DEFAULT 'none',
        reason          text NOT NULL DEFAULT '',
        version         bigint NOT NULL DEFAULT 0,
        n_tr            int NOT NULL DEFAULT 0, -- target runs materialised
        n_terminal      int NOT NULL DEFAULT 0, -- of them terminal
        n_success       int NOT NULL DEFAULT 0, -- of them success
        updated_at      bigint NOT NULL DEFAULT 0,
        UNIQUE (pipeline_run_id, idx)
) WITH (fillfactor = 70);

-- Every target run of the spec is inserted at creation (status 'none')
-- with its derived ids, so materialising a stage is one UPDATE.
CREATE TABLE target_run (
        id              uuid PRIMARY KEY,
        pipeline_run_id uuid NOT NULL,
        stage_run_id    uuid NOT NULL,
        ord             int NOT NULL, -- op index * targets + target index
        op_id           uuid NOT NULL,
        device_id       uuid NOT NULL,
        device_name     text NOT NULL,
        command_id      uuid NOT NULL,
        operation_type  text NOT NULL,
        args_json       text NOT NULL,
        command_status  text NOT NULL DEFAULT '',
        status          text NOT NULL DEFAULT 'none',
        reason          text NOT NULL DEFAULT '',
        version         bigint NOT NULL DEFAULT 0,
        updated_at      bigint NOT NULL DEFAULT 0
) WITH (fillfactor = 70);
CREATE INDEX target_run_stage ON target_run (stage_run_id, ord);

-- kind 0: a status-change event (entity_type 0 pipeline run, 1 stage run,
-- 3 target run); kind 1: a COMMAND dispatch (entity_id = its target run).
CREATE TABLE outbox (
        id              bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
        kind            smallint NOT NULL,
        pipeline_run_id uuid NOT NULL,
        seq             bigint,
        entity_type     smallint,
        entity_id       uuid NOT NULL,
        pipeline_id     uuid,
        stage_run_id    uuid,
        op_id           uuid,
        device_id       uuid,
        from_status     text,
        to_status       text,
        reason          text,
        occurred_at     bigint NOT NULL,
        causation_id    uuid,
        enterprise_id   text NOT NULL,
        version         bigint,
        command_id      uuid,
        device_name     text,
        operation_type  text,
        args_json       text
) WITH (autovacuum_vacuum_scale_factor = 0,
        autovacuum_vacuum_threshold = 20000,
        autovacuum_vacuum_insert_scale_factor = 0,
        autovacuum_vacuum_insert_threshold = 20000);

-- ------------------------------------------------------------ helpers

-- domain.md's terminal states (absorbing for every entity).
CREATE FUNCTION pe_terminal(s text) RETURNS boolean LANGUAGE sql IMMUTABLE
AS $$
        SELECT s IN ('success', 'failure', 'cancelled', 'timeout', 'invalid');
$$;

CREATE FUNCTION pe_event(p_seq bigint, pr pipeline_run, p_type smallint,
                         p_id uuid, p_stage uuid, p_op uuid, p_dev uuid,
                         p_from text, p_to text, p_reason text,
                         p_now bigint, p_cause uuid, p_version bigint)
RETURNS void LANGUAGE plpgsql AS $$
-- plpgsql, not sql: PL/pgSQL keeps the INSERT's plan for the session; a
-- LANGUAGE sql function called from PL/pgSQL is parsed and planned again
-- on every call (perf: fmgr_sql was a third of the PL/pgSQL time).
BEGIN
        INSERT INTO outbox (kind, pipeline_run_id, seq, entity_type,
                            entity_id, pipeline_id, stage_run_id, op_id,
                            device_id, from_status, to_status, reason,
                            occurred_at, causation_id, enterprise_id, version)
        VALUES (0, pr.id, p_seq, p_type, p_id, pr.pipeline_id, p_stage, p_op,
                p_dev, NULLIF(p_from, 'none'), p_to, p_reason, p_now,
                p_cause, pr.enterprise_id, p_version);
END $$;

-- A pipeline-run transition; returns the next free seq position.
CREATE FUNCTION pe_pr_move(p_seq bigint, pr pipeline_run, p_from text,
                           p_to text, p_reason text, p_now bigint,
                           p_cause uuid)
RETURNS bigint LANGUAGE plpgsql AS $$
DECLARE v bigint;
BEGIN
        UPDATE pipeline_run SET status = p_to, reason = p_reason,
               version = version + 1, updated_at = p_now
         WHERE id = pr.id RETURNING version INTO v;
        PERFORM pe_event(p_seq + 1, pr, 0::smallint, pr.id, NULL, NULL, NULL,
                         p_from, p_to, p_reason, p_now, p_cause, v);
        RETURN p_seq + 1;
END $$;

CREATE FUNCTION pe_stage_move(p_seq bigint, pr pipeline_run, p_stage uuid,
                              p_from text, p_to text, p_reason text,
                              p_now bigint, p_cause uuid)
RETURNS bigint LANGUAGE plpgsql AS $$
DECLARE v bigint;
BEGIN
        UPDATE stage_run SET status = p_to, reason = p_reason,
               version = version + 1, updated_at = p_now
         WHERE id = p_stage RETURNING version INTO v;
        PERFORM pe_event(p_seq + 1, pr, 1::smallint, p_stage, NULL, NULL,
                         NULL, p_from, p_to, p_reason, p_now, p_cause, v);
        RETURN p_seq + 1;
END $$;

-- queued -> processing: create and dispatch the stage's target runs
-- (pending -> queued -> processing each, one COMMAND each, in the order
-- sr-status makes them), then running; invalid for an empty stage.
CREATE FUNCTION pe_process_stage(p_seq bigint, pr pipeline_run,
                                 p_stage uuid, p_now bigint, p_cause uuid)
RETURNS bigint LANGUAGE plpgsql AS $$
DECLARE s stage_run; v_seq bigint; n int;
BEGIN
        SELECT * INTO s FROM stage_run WHERE id = p_stage;
        v_seq := pe_stage_move(p_seq, pr, p_stage, 'queued', 'processing',
                               'materialising', p_now, p_cause);
        IF s.n_targets = 0 THEN
                RETURN pe_stage_move(v_seq, pr, p_stage, 'processing',
                                     'invalid', 'no_targets', p_now, p_cause);
        END IF;
        IF s.n_ops = 0 THEN
                RETURN pe_stage_move(v_seq, pr, p_stage, 'processing',
                                     'invalid', 'no_operations', p_now,
                                     p_cause);
        END IF;
        INSERT INTO outbox (kind, pipeline_run_id, seq, entity_type,
                            entity_id, pipeline_id, stage_run_id, op_id,
                            device_id, from_status, to_status, reason,
                            occurred_at, causation_id, enterprise_id, version)
        SELECT 0, pr.id, v_seq + t.ord * 3 + k.n, 3, t.id, pr.pipeline_id,
               p_stage, t.op_id, t.device_id, k.f, k.t, k.r, p_now, p_cause,
               pr.enterprise_id, k.n
          FROM target_run t
         CROSS JOIN (VALUES (1, NULL, 'pending', 'created'),
                            (2, 'pending', 'queued', 'queued'),
                            (3, 'queued', 'processing', 'command_created'))
               AS k(n, f, t, r)
         WHERE t.stage_run_id = p_stage
         ORDER BY t.ord, k.n;
        GET DIAGNOSTICS n = ROW_COUNT;
        n := n / 3;
        UPDATE target_run SET status = 'processing', reason = 'command_created',
               version = 3, updated_at = p_now
         WHERE stage_run_id = p_stage;
        INSERT INTO outbox (kind, pipeline_run_id, entity_id, stage_run_id,
                            device_id, occurred_at, enterprise_id, command_id,
                            device_name, operation_type, args_json)
        SELECT 1, pr.id, t.id, p_stage, t.device_id, p_now, pr.enterprise_id,
               t.command_id, t.device_name, t.operation_type, t.args_json
          FROM target_run t
         WHERE t.stage_run_id = p_stage
         ORDER BY t.ord;
        UPDATE stage_run SET n_tr = n, n_terminal = 0, n_success = 0
         WHERE id = p_stage;
        RETURN pe_stage_move(v_seq + 3 * n, pr, p_stage, 'processing',
                             'running', 'targets_dispatched', p_now, p_cause);
END $$;

-- The pipeline-run table's roll-up rows after a stage run ended.
CREATE FUNCTION pe_rollup_pr(p_seq bigint, p_run uuid, p_now bigint,
                             p_cause uuid)
RETURNS bigint LANGUAGE plpgsql AS $$
DECLARE pr pipeline_run; v_seq bigint := p_seq; st record;
        active boolean; all_ok boolean; failed boolean; nxt uuid;
BEGIN
        LOOP
                SELECT * INTO pr FROM pipeline_run WHERE id = p_run;
                IF pr.status NOT IN ('running', 'waiting') THEN
                        RETURN v_seq;
                END IF;
                SELECT bool_or(status IN ('queued', 'processing', 'running')),
                       bool_and(status = 'success'),
                       bool_or(status IN ('failure', 'cancelled', 'timeout',
                                          'invalid'))
                  INTO active, all_ok, failed
                  FROM stage_run WHERE pipeline_run_id = p_run;
                IF active THEN
                        RETURN v_seq;
                END IF;
                IF failed THEN
                        FOR st IN SELECT id FROM stage_run
                                   WHERE pipeline_run_id = p_run
                                     AND status = 'pending' ORDER BY idx LOOP
                                v_seq := pe_stage_move(v_seq, pr, st.id,
                                        'pending', 'cancelled',
                                        'previous_stage_failed', p_now,
                                        p_cause);
                        END LOOP;
                        v_seq := pe_pr_move(v_seq, pr, pr.status, 'complete',
                                            'stage_failed', p_now, p_cause);
                        RETURN pe_pr_move(v_seq, pr, 'complete', 'failure',
                                          'stage_failed', p_now, p_cause);
                END IF;
                IF all_ok THEN
                        v_seq := pe_pr_move(v_seq, pr, pr.status, 'complete',
                                            'all_stages_succeeded', p_now,
                                            p_cause);
                        RETURN pe_pr_move(v_seq, pr, 'complete', 'success',
                                          'all_stages_succeeded', p_now,
                                          p_cause);
                END IF;
                IF NOT pr.auto_promote THEN
                        IF pr.status = 'running' THEN
                                v_seq := pe_pr_move(v_seq, pr, 'running',
                                        'waiting', 'awaiting_promotion',
                                        p_now, p_cause);
                        END IF;
                        RETURN v_seq;
                END IF;
                -- auto-promote: the next stage run is queued at once; the
                -- pipeline run stays running (no self-transition event).
                SELECT id INTO nxt FROM stage_run
                 WHERE pipeline_run_id = p_run AND status = 'pending'
                 ORDER BY idx LIMIT 1;
                v_seq := pe_stage_move(v_seq, pr, nxt, 'pending', 'queued',
                                       'auto_promoted', p_now, p_cause);
                v_seq := pe_process_stage(v_seq, pr, nxt, p_now, p_cause);
                -- an empty stage ended at once: roll up again
        END LOOP;
END $$;

-- ------------------------------------------------------------ inputs

-- The create command, after sr-peer-pg inserted the rows (ON CONFLICT DO
-- NOTHING: a redelivered create finds them). Returns 0 when it started
-- the run, 1 when the run had started already (a duplicate: no change).
CREATE FUNCTION pe_start_run(p_run uuid, p_now bigint, p_cause uuid)
RETURNS smallint LANGUAGE plpgsql AS $$
DECLARE pr pipeline_run; st record; v_seq bigint := 0; s0 stage_run;
BEGIN
        SELECT * INTO pr FROM pipeline_run WHERE id = p_run FOR UPDATE;
        IF NOT FOUND OR pr.status <> 'none' THEN
                RETURN 1;
        END IF;
        v_seq := pe_pr_move(v_seq, pr, 'none', 'pending', 'created', p_now,
                            p_cause);
        v_seq := pe_pr_move(v_seq, pr, 'pending', 'queued', 'queued', p_now,
                            p_cause);
        v_seq := pe_pr_move(v_seq, pr, 'queued', 'processing',
                            'materialising', p_now, p_cause);
        FOR st IN SELECT id FROM stage_run WHERE pipeline_run_id = p_run
                   ORDER BY idx LOOP
                v_seq := pe_stage_move(v_seq, pr, st.id, 'none', 'pending',
                                       'created', p_now, p_cause);
        END LOOP;
        IF pr.n_stages = 0 THEN
                v_seq := pe_pr_move(v_seq, pr, 'processing', 'invalid',
                                    'no_stages', p_now, p_cause);
        ELSE
                SELECT * INTO s0 FROM stage_run
                 WHERE pipeline_run_id = p_run AND idx = 0;
                v_seq := pe_stage_move(v_seq, pr, s0.id, 'pending', 'queued',
                                       'first_stage', p_now, p_cause);
                v_seq := pe_pr_move(v_seq, pr, 'processing', 'running',
                                    'first_stage_queued', p_now, p_cause);
                v_seq := pe_process_stage(v_seq, pr, s0.id, p_now, p_cause);
                SELECT * INTO s0 FROM stage_run WHERE id = s0.id;
                IF pe_terminal(s0.status) THEN
                        v_seq := pe_rollup_pr(v_seq, p_run, p_now, p_cause);
                END IF;
        END IF;
        UPDATE pipeline_run SET last_seq = v_seq WHERE id = p_run;
        RETURN 0;
END $$;

-- Forward-only rank of a target-run status for results (domain.md).
CREATE FUNCTION pe_rank(s text) RETURNS int LANGUAGE sql IMMUTABLE AS $$
        SELECT CASE s WHEN 'dispatched' THEN 1 WHEN 'running' THEN 2
                      WHEN 'pending' THEN 0 WHEN 'queued' THEN 0
                      WHEN 'processing' THEN 0 ELSE 3 END;
$$;

-- One device result. p_to/p_reason: what the command status does
-- (sr-peer-pg maps it as domain.md says). Returns 0 applied, 1 stale
-- (terminal, backwards, another command's result, a duplicate), 2 unknown
-- run or target run.
--
-- Statements per result (perf: a third of PostgreSQL's time is executor
-- start-up per statement, so their number is the cost): a stale result
-- reads its target run and stops, without a lock (statuses only move
-- forward: stale now is stale for good); a move updates the target run
-- guarded by the version it read (optimistic: a concurrent move makes it
-- start again), reserves its seq numbers with one UPDATE of the pipeline
-- run (the run's lock: every writer of a run takes its seq numbers in
-- turn), inserts its one or two events in one INSERT, and, when terminal,
-- counts itself in its stage run; only a stage run that ends rolls up.
CREATE FUNCTION pe_apply_result(p_run uuid, p_tr uuid, p_cmd uuid,
                                p_to text, p_reason text, p_cmdst text,
                                p_devname text, p_now bigint, p_cause uuid)
RETURNS smallint LANGUAGE plpgsql AS $$
DECLARE pr pipeline_run; t target_run; s stage_run; v_seq bigint;
        k int; ok boolean; n int;
BEGIN
        LOOP
                SELECT * INTO t FROM target_run WHERE id = p_tr;
                IF NOT FOUND OR t.status = 'none'
                   OR t.pipeline_run_id <> p_run THEN
                        RETURN 2;
                END IF;
                IF p_cmd IS NOT NULL AND p_cmd <> t.command_id THEN
                        RETURN 1;
                END IF;
                IF pe_terminal(t.status) THEN
                        RETURN 1;
                END IF;
                IF p_to = 'invalid' THEN
                        IF t.status NOT IN ('processing', 'dispatched') THEN
                                RETURN 1;
                        END IF;
                ELSIF pe_rank(p_to) <= pe_rank(t.status) THEN
                        RETURN 1;
                END IF;
                k := CASE WHEN p_to IN ('success', 'failure') THEN 2
                          ELSE 1 END;
                UPDATE target_run SET status = p_to, reason = p_reason,
                       version = t.version + k, command_status = p_cmdst,
                       device_name = CASE WHEN p_devname <> '' THEN p_devname
                                          ELSE device_name END,
                       updated_at = p_now
                 WHERE id = p_tr AND version = t.version;
                GET DIAGNOSTICS n = ROW_COUNT;
                EXIT WHEN n = 1;
        END LOOP;
        UPDATE pipeline_run SET last_seq = last_seq + k WHERE id = p_run
               RETURNING * INTO pr;
        IF NOT FOUND THEN
                RAISE EXCEPTION 'target run % of no pipeline run', p_tr;
        END IF;
        v_seq := pr.last_seq;
        INSERT INTO outbox (kind, pipeline_run_id, seq, entity_type,
                            entity_id, pipeline_id, stage_run_id, op_id,
                            device_id, from_status, to_status, reason,
                            occurred_at, causation_id, enterprise_id, version)
        SELECT 0, p_run, v_seq - k + e.n, 3, t.id, pr.pipeline_id,
               t.stage_run_id, t.op_id, t.device_id, e.fr, e.tt, p_reason,
               p_now, p_cause, pr.enterprise_id, t.version + e.n
          FROM (VALUES (1, t.status,
                        CASE WHEN k = 2 THEN 'complete' ELSE p_to END),
                       (2, 'complete', p_to)) AS e(n, fr, tt)
         WHERE e.n <= k
         ORDER BY e.n;
        IF p_to IN ('success', 'failure', 'invalid') THEN
                UPDATE stage_run SET n_terminal = n_terminal + 1,
                       n_success = n_success + (p_to = 'success')::int
                 WHERE id = t.stage_run_id RETURNING * INTO s;
                IF s.status = 'running' AND s.n_terminal >= s.n_tr THEN
                        ok := s.n_success = s.n_tr;
                        v_seq := pe_stage_move(v_seq, pr, s.id, 'running',
                                'complete',
                                CASE WHEN ok THEN 'all_targets_succeeded'
                                     ELSE 'target_failed' END,
                                p_now, p_cause);
                        v_seq := pe_stage_move(v_seq, pr, s.id, 'complete',
                                CASE WHEN ok THEN 'success' ELSE 'failure' END,
                                CASE WHEN ok THEN 'all_targets_succeeded'
                                     ELSE 'target_failed' END,
                                p_now, p_cause);
                        v_seq := pe_rollup_pr(v_seq, p_run, p_now, p_cause);
                        UPDATE pipeline_run SET last_seq = v_seq
                         WHERE id = p_run;
                END IF;
        END IF;
        RETURN 0;
END $$;
