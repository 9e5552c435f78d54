-- Happy paths and documented error texts of every function.
\ir _helpers.sql

-- version
select pg_temp.eq(left(pgq.version(), 3), '3.5', 'version');
select pg_temp.eq(pgq.engine_version() like 'pgqd-sql %', true, 'engine_version');

-- utilities
select pg_temp.eq(pgq.quote_fqname('a.B.c'), 'a."B.c"', 'quote_fqname');
select pg_temp.eq(pgq.quote_fqname('Xy'), 'public."Xy"', 'quote_fqname no schema');
create sequence public.tseq;
select pg_temp.eq(pgq.seq_getval('tseq'), 1::bigint, 'seq_getval fresh');
select pg_temp.eq(pgq.seq_setval('tseq', 10), 10::bigint, 'seq_setval forward');
select pg_temp.eq(pgq.seq_setval('public.tseq', 5), 10::bigint, 'seq_setval never backward');
select pg_temp.eq(pgq.seq_getval('public.tseq'), 10::bigint, 'seq_getval');

-- queue management
select pg_temp.expect_error($$select pgq.create_queue(null)$$, 'Invalid NULL value');
select pg_temp.eq(pgq.create_queue('qa'), 1, 'create_queue');
select pg_temp.eq(pgq.create_queue('qa'), 0, 'create_queue again');
select pg_temp.eq((select count(*) from pgq.tick t join pgq.queue q on q.queue_id = t.tick_queue where queue_name = 'qa'), 1::bigint, 'first tick');
select pg_temp.eq((select tick_event_seq from pgq.tick t join pgq.queue q on q.queue_id = t.tick_queue where queue_name = 'qa'), 1::bigint, 'first tick seq');
do $$
declare
    q record;
begin
    select * into q from pgq.queue where queue_name = 'qa';
    perform pg_temp.eq(q.queue_data_pfx, 'pgq.event_' || q.queue_id, 'data pfx');
    perform pg_temp.eq(q.queue_event_seq, 'pgq.event_' || q.queue_id || '_id_seq', 'event seq');
    perform pg_temp.eq(q.queue_tick_seq, 'pgq.event_' || q.queue_id || '_tick_seq', 'tick seq');
    perform pg_temp.eq((select count(*) from pg_inherits where inhparent = (q.queue_data_pfx)::regclass), 3::bigint, 'child tables');
    perform pg_temp.eq(to_regclass('pgq.event_' || q.queue_id || '_0_txid_idx') is not null, true, 'txid index');
    perform pg_temp.eq((select reloptions::text from pg_class where oid = (q.queue_data_pfx || '_1')::regclass),
                       '{fillfactor=100,autovacuum_enabled=off}', 'storage');
    perform pg_temp.eq(pgq.current_event_table('qa'), q.queue_data_pfx || '_0', 'current_event_table');
end $$;

select pg_temp.expect_error($$select pgq.set_queue_config(null, 'ticker_max_lag', '1')$$, 'Invalid NULL value');
select pg_temp.expect_error($$select pgq.set_queue_config('nope', 'ticker_max_lag', '1')$$, 'No such event queue');
select pg_temp.expect_error($$select pgq.set_queue_config('qa', 'foos', '1')$$, 'cannot change parameter "fooss"');
select pg_temp.expect_error($$select pgq.set_queue_config('qa', 'disable_insert', 'true')$$, 'cannot change parameter "disable_inserts"');
select pg_temp.eq(pgq.set_queue_config('qa', 'ticker_max_count', '7'), 1, 'set_queue_config');
select pg_temp.eq((select queue_ticker_max_count from pgq.queue where queue_name = 'qa'), 7, 'max_count set');
select pgq.set_queue_config('qa', 'ticker_max_lag', '5 seconds');
select pgq.set_queue_config('qa', 'ticker_idle_period', '2 minutes');
select pgq.set_queue_config('qa', 'rotation_period', '1 hour');
select pg_temp.eq((select queue_ticker_idle_period from pgq.queue where queue_name = 'qa'), '2 minutes'::interval, 'idle set');

select pg_temp.expect_error($$select pgq.grant_perms('nope')$$, 'Queue not found');
select pg_temp.eq(pgq.grant_perms('qa'), 1, 'grant_perms');
select pg_temp.eq(pgq.tune_storage('nope'), 0, 'tune_storage missing');
select pg_temp.eq(pgq.tune_storage('qa'), 1, 'tune_storage');
select pg_temp.expect_error($$select pgq.drop_queue('nope')$$, 'No such event queue');

-- producer
select pg_temp.expect_error($$select pgq.insert_event('nope', 'a', 'b')$$, 'No such queue');
select pg_temp.expect_error($$select pgq.insert_event(null, 'a', 'b')$$, 'Queue name must not be NULL');
select pg_temp.expect_error($$select pgq.insert_event_raw('nope', null, null, null, null, 'a', 'b', null, null, null, null)$$, 'No such queue');
select pg_temp.expect_error($$select pgq.current_event_table('nope')$$, 'Event queue not found');
select pg_temp.eq(pgq.insert_event('qa', 't1', 'd1'), 1::bigint, 'first event id');
select pg_temp.eq(pgq.insert_event('qa', 't2', 'd2', 'e1', 'e2', 'e3', 'e4'), 2::bigint, 'second event id');
select pg_temp.eq(pgq.insert_event_raw('qa', 100, null, null, null, 't3', 'd3', null, null, null, null), 100::bigint, 'raw with id');
do $$
declare
    e record;
begin
    select * into e from pgq.event_template where ev_id = 100;
    perform pg_temp.eq(e.ev_time is not null, true, 'raw NULL ev_time -> now()');
    perform pg_temp.eq(e.ev_txid is not null, true, 'ev_txid default');
    -- raw always consumes a sequence value, even with an explicit id
    perform pg_temp.eq(pgq.seq_getval((select queue_event_seq from pgq.queue where queue_name = 'qa')), 3::bigint, 'raw consumed nextval');
end $$;
select pg_temp.eq(pgq.insert_event_bulk('qa', array['b'], array['x1', 'x2', 'x3']), 3::bigint, 'bulk');
select pg_temp.eq(pgq.insert_event_bulk('qa', array['b', 'c'], array['y1', 'y2'], array['z1', 'z2']), 2::bigint, 'bulk extras');
select pg_temp.eq(pgq.insert_event_bulk('qa', '{}', '{}'), 0::bigint, 'bulk empty');
select pg_temp.eq((select count(*) from pgq.event_template where ev_type in ('b', 'c')), 5::bigint, 'bulk rows');

-- disable_insert
update pgq.queue set queue_disable_insert = true where queue_name = 'qa';
do $$
declare
    v_seq text := (select queue_event_seq from pgq.queue where queue_name = 'qa');
    v_before bigint := pgq.seq_getval(v_seq);
begin
    perform pg_temp.expect_error($q$select pgq.insert_event('qa', 'a', 'b')$q$, 'Insert into queue disallowed');
    -- the failed insert still consumed an id
    perform pg_temp.eq(pgq.seq_getval(v_seq), v_before + 1, 'failed insert consumed id');
    perform pg_temp.expect_error($q$select pgq.insert_event_bulk('qa', array['a'], array['b'])$q$, 'Insert into queue disallowed');
    perform pg_temp.expect_error($q$select pgq.current_event_table('qa')$q$, 'Writing to queue disabled');
end $$;
set session_replication_role = replica;
select pg_temp.eq(pgq.insert_event('qa', 'rep', 'r') > 0, true, 'replica may insert');
select pg_temp.eq(pgq.current_event_table('qa') like 'pgq.event_%', true, 'replica current_event_table');
reset session_replication_role;
update pgq.queue set queue_disable_insert = false where queue_name = 'qa';

-- per-transaction limit
update pgq.queue set queue_per_tx_limit = 2 where queue_name = 'qa';
begin;
select pgq.insert_event('qa', 'l', '1');
select pgq.insert_event('qa', 'l', '2');
select pg_temp.expect_error($$select pgq.insert_event('qa', 'l', '3')$$, 'Queue ''qa'' allows max 2 events from one TX');
commit;
begin;
select pg_temp.expect_error($$select pgq.insert_event_bulk('qa', array['l'], array['1', '2', '3'])$$, 'Queue ''qa'' allows max 2 events from one TX');
select pgq.insert_event_bulk('qa', array['l'], array['1', '2']);
select pg_temp.expect_error($$select pgq.insert_event('qa', 'l', '3')$$, 'Queue ''qa'' allows max 2 events from one TX');
commit;
-- a new transaction starts counting again
select pgq.insert_event('qa', 'l', '4');
select pgq.insert_event('qa', 'l', '5');
update pgq.queue set queue_per_tx_limit = 0 where queue_name = 'qa';
select pg_temp.expect_error($$select pgq.insert_event('qa', 'l', '6')$$, 'Queue ''qa'' allows max 0 events from one TX');
update pgq.queue set queue_per_tx_limit = null where queue_name = 'qa';

-- ticker
select pg_temp.expect_error($$select pgq.ticker('nope')$$, 'no such queue');
select pg_temp.expect_error($$select pgq.ticker('nope', 1, now(), 1)$$, 'queue not found or ticker disabled: nope');
select pg_temp.expect_error($$select pgq.ticker('qa', 1, now(), 1)$$, 'queue not found or ticker disabled: qa');
select pgq.create_queue('qext');
select pgq.set_queue_config('qext', 'external_ticker', 'true');
select pg_temp.expect_error($$select pgq.ticker('qext')$$, 'This queue has external tick source.');
select pg_temp.eq(pgq.ticker('qext', 50, now(), 500), 50::bigint, 'external tick');
select pg_temp.eq(pgq.seq_getval((select queue_tick_seq from pgq.queue where queue_name = 'qext')), 50::bigint, 'tick seq pushed');
select pg_temp.eq(pgq.seq_getval((select queue_event_seq from pgq.queue where queue_name = 'qext')), 500::bigint, 'event seq pushed');
select pg_temp.eq(pgq.force_tick('qext'), null::bigint, 'force_tick external');
select pgq.create_queue('qpause');
select pgq.set_queue_config('qpause', 'ticker_paused', 'true');
select pg_temp.expect_error($$select pgq.ticker('qpause')$$, 'Ticker has been paused for this queue');
select pg_temp.eq((select count(*) from pgq.ticker_schedule() where queue_name in ('qext', 'qpause')), 0::bigint, 'schedule skips external/paused');

do $$
declare
    v_last bigint := (select max(tick_id) from pgq.tick t join pgq.queue q on q.queue_id = t.tick_queue where queue_name = 'qa');
begin
    perform pg_temp.eq(pgq.force_tick('qa'), v_last, 'force_tick returns current tick');
    perform pg_temp.eq((select due_in from pgq.ticker_schedule() where queue_name = 'qa'), 0::float8, 'forced queue is due');
    perform pg_temp.eq(pgq.ticker('qa'), v_last + 1, 'ticker ticks after force_tick');
    -- immediately after a tick with no new events nothing is due
    perform pg_temp.eq(pgq.ticker('qa'), null::bigint, 'no tick without events');
end $$;
select pg_temp.eq(pgq.ticker() >= 0, true, 'ticker()');

-- consumer
select pg_temp.expect_error($$select pgq.register_consumer('nope', 'c')$$, 'Event queue not created yet');
select pg_temp.expect_error($$select pgq.register_consumer_at('qa', 'c', 99999)$$, 'cannot reposition, tick not found: 99999');
select pg_temp.eq(pgq.register_consumer('qa', 'c1'), 1, 'register');
select pg_temp.eq(pgq.register_consumer('qa', 'c1'), 0, 'register again');
select pg_temp.eq(pgq.register_consumer_at('qa', 'c1', (select min(tick_id) from pgq.tick t join pgq.queue q on q.queue_id = t.tick_queue where queue_name = 'qa')), 0, 'reposition');
select pg_temp.expect_error($$select pgq.next_batch('qa', 'nobody')$$, 'Not subscriber to queue: qa/nobody');
select pg_temp.expect_error($$select pgq.next_batch('qa', null)$$, 'Not subscriber to queue: qa/NULL');
insert into pgq.queue (queue_name, queue_data_pfx, queue_event_seq, queue_tick_seq) values ('qnotick', 'x', 'x', 'x');
select pg_temp.expect_error($$select pgq.register_consumer('qnotick', 'c')$$, 'No ticks for this queue.  Please run ticker on database.');
delete from pgq.queue where queue_name = 'qnotick';

do $$
declare
    b record;
    b2 record;
begin
    select * into b from pgq.next_batch_info('qa', 'c1');
    perform pg_temp.eq(b.batch_id is not null, true, 'batch opened');
    select * into b2 from pgq.next_batch_info('qa', 'c1');
    perform pg_temp.eq(b2.batch_id, b.batch_id, 'next_batch idempotent');
    perform pg_temp.eq(b2.cur_tick_id, b.cur_tick_id, 'same end tick');
    perform pg_temp.eq((select tick_id from pgq.get_batch_info(b.batch_id)), b.cur_tick_id, 'get_batch_info');
    perform pg_temp.eq((select consumer_name from pgq.get_batch_info(b.batch_id)), 'c1', 'get_batch_info consumer');
    perform pg_temp.eq((select current_batch from pgq.get_consumer_info('qa', 'c1')), b.batch_id, 'consumer info batch');
    perform pg_temp.eq(pgq.finish_batch(b.batch_id), 1, 'finish_batch');
end $$;
select pg_temp.eq(pgq.finish_batch(-1), 0, 'finish_batch missing');
select pg_temp.eq((select count(*) from pgq.get_batch_info(-1) where queue_name is null), 1::bigint, 'get_batch_info missing');
select pg_temp.expect_error($$select pgq.batch_event_sql(-1)$$, 'batch not found');
select pg_temp.expect_error($$select pgq.batch_event_tables(-1)$$, 'Cannot find data for batch -1');
select pg_temp.expect_error($$select pgq.batch_retry(-1, 1)$$, 'batch_retry: batch -1 not found');
select pg_temp.expect_error($$select pgq.event_retry(-1, 1, 1)$$, 'event not found');
select pg_temp.expect_error($$select pgq.event_retry_raw('qa', 'nobody', now(), 1, now(), 0, 't', 'd', null, null, null, null)$$, 'consumer not registered');
select pg_temp.eq((select count(*) from pgq.get_batch_cursor(null, 'c', 10)), 0::bigint, 'get_batch_cursor NULL');

-- info
select pg_temp.eq((select count(*) from pgq.get_queue_info()), 3::bigint, 'get_queue_info all');
select pg_temp.eq((select last_tick_id from pgq.get_queue_info('qa')) is not null, true, 'get_queue_info one');
select pg_temp.eq((select count(*) from pgq.get_consumer_info()), 1::bigint, 'get_consumer_info()');
select pg_temp.eq((select count(*) from pgq.get_consumer_info('qa')), 1::bigint, 'get_consumer_info(q)');
select pg_temp.eq((select count(*) from pgq.get_consumer_info(null, 'c1')), 1::bigint, 'get_consumer_info(NULL, c)');

-- maintenance
select pg_temp.eq((select count(*) from pgq.maint_tables_to_vacuum()), 0::bigint, 'autovacuum on: nothing to vacuum');
update pgq.queue set queue_extra_maint = array['public.m1', 'public.m2'] where queue_name = 'qa';
select pg_temp.eq((select string_agg(func_name || ':' || coalesce(func_arg, ''), ' ') from pgq.maint_operations()),
                  'public.m1:qa public.m2:qa', 'maint_operations extra');
update pgq.queue set queue_switch_time = now() - interval '3 hours' where queue_name = 'qa';
select pg_temp.eq((select string_agg(func_name || ':' || coalesce(func_arg, ''), ' ') from pgq.maint_operations()),
                  'pgq.maint_rotate_tables_step1:qa pgq.maint_rotate_tables_step2: public.m1:qa public.m2:qa', 'maint_operations rotate');
update pgq.queue set queue_extra_maint = null where queue_name = 'qa';
select pg_temp.eq(pgq.maint_rotate_tables_step2(), 0, 'step2');
select pg_temp.eq(pgq.upgrade_schema(), 0, 'upgrade_schema');

-- unregister, coop sub-consumer rules
select pgq.register_consumer('qa', 'main');
do $$
declare
    s record;
begin
    select * into s from pgq.subscription sub join pgq.consumer c on c.co_id = sub.sub_consumer where co_name = 'main';
    insert into pgq.consumer (co_name) values ('main.s1'), ('main.s2');
    insert into pgq.subscription (sub_id, sub_queue, sub_consumer, sub_last_tick)
        select s.sub_id, s.sub_queue, co_id, null from pgq.consumer where co_name in ('main.s1', 'main.s2');
    insert into pgq.retry_queue (ev_retry_after, ev_queue, ev_id, ev_time, ev_owner)
        values (now(), s.sub_queue, 1, now(), s.sub_id);
    perform pg_temp.eq(pgq.unregister_consumer('qa', 'main.s1'), 1, 'sub-consumer unregister');
    perform pg_temp.eq((select count(*) from pgq.retry_queue where ev_owner = s.sub_id), 1::bigint, 'retry kept');
    perform pg_temp.eq((select count(*) from pgq.get_consumer_info('qa') where consumer_name = 'main.s2' and last_tick is null), 1::bigint, 'sub-consumer listed');
    perform pg_temp.eq(pgq.unregister_consumer('qa', 'main'), 2, 'main unregister removes all');
    perform pg_temp.eq((select count(*) from pgq.subscription where sub_id = s.sub_id), 0::bigint, 'subs gone');
    perform pg_temp.eq((select count(*) from pgq.retry_queue where ev_owner = s.sub_id), 0::bigint, 'retry gone');
    perform pg_temp.eq((select count(*) from pgq.consumer where co_name = 'main'), 0::bigint, 'consumer row gone');
end $$;
select pg_temp.eq(pgq.unregister_consumer('qa', 'main'), 0, 'unregister missing');

-- the dynamic path: a queue the generated dispatch does not know (its tables
-- were missing at the last regeneration) still takes events, ids and extras
select pgq.create_queue('qdyn');
do $$
declare
    v_pfx text := (select queue_data_pfx from pgq.queue where queue_name = 'qdyn');
    v_tbl text := substr(v_pfx, 5);
begin
    execute format('alter table %s rename to %I', v_pfx, v_tbl || '_away');
    perform pgq._regen_dispatch();
    execute format('alter table pgq.%I rename to %I', v_tbl || '_away', v_tbl);
end $$;
select pg_temp.eq(strpos((select prosrc from pg_proc where oid = 'pgq.insert_event(text,text,text)'::regprocedure),
                         (select queue_data_pfx from pgq.queue where queue_name = 'qdyn') || '_0'),
                  0, 'qdyn not in the generated dispatch');
select pg_temp.eq(pgq.insert_event('qdyn', 't3', 'd3') > 0, true, 'dynamic insert_event 3 args');
select pg_temp.eq(pgq.insert_event('qdyn', 't7', 'd7', 'x1', 'x2', 'x3', 'x4') > 0, true, 'dynamic insert_event 7 args');
select pg_temp.eq(pgq.insert_event_raw('qdyn', 777, now(), null, null, 'tr', 'dr', null, null, null, null), 777::bigint, 'dynamic insert_event_raw');
select pg_temp.eq(pgq.insert_event_bulk('qdyn', array['tb'], array['db1', 'db2']), 2::bigint, 'dynamic insert_event_bulk');
select pg_temp.eq(pg_temp.stored_events('qdyn', $$concat_ws('/', ev_type, ev_data, ev_extra1, ev_extra4)$$),
                  't3/d3,t7/d7/x1/x4,tb/db1,tb/db2,tr/dr', 'dynamic path events');
select pgq._regen_dispatch();
select pg_temp.eq(pgq.drop_queue('qdyn'), 1, 'drop qdyn');

-- past a dozen queues both producer functions pin their queue lookup to
-- the index (an analyzed pgq.queue would otherwise be read row by row)
create function pg_temp.seqscan_pinned() returns text language sql as $$
    select string_agg(coalesce(array_to_string(proconfig, ' ') like '%enable_seqscan=off%', false)::text, ',' order by pronargs)
      from pg_proc where oid in ('pgq.insert_event(text,text,text)'::regprocedure,
                                 'pgq.insert_event(text,text,text,text,text,text,text)'::regprocedure)
$$;
select pg_temp.eq(pg_temp.seqscan_pinned(), 'false,false', 'few queues: planner chooses');
select count(pgq.create_queue('qmany_' || i)) from generate_series(1, 13 - (select count(*) from pgq.queue)::int) i;
select pg_temp.eq(pg_temp.seqscan_pinned(), 'true,true', 'thirteen queues: index lookup');
analyze pgq.queue;
select pg_temp.eq(pgq.insert_event('qmany_1', 'tm', 'dm') > 0, true, 'insert_event with many queues');
select pg_temp.eq(pg_temp.stored_events('qmany_1', $$ev_type || '/' || ev_data$$), 'tm/dm', 'event in its queue');
select count(pgq.drop_queue(queue_name)) from pgq.queue where queue_name like 'qmany\_%';
select pg_temp.eq(pg_temp.seqscan_pinned(), 'false,false', 'back to few queues');

-- drop
select pg_temp.expect_error($$select pgq.drop_queue('qa')$$, 'cannot drop queue, consumers still attached');
select pg_temp.eq(pgq.drop_queue('qa', true), 1, 'drop force');
select pg_temp.eq((select count(*) from pgq.consumer where co_name = 'c1'), 0::bigint, 'consumer removed');
select pg_temp.eq(pgq.drop_queue('qext'), 1, 'drop');
select pg_temp.eq((select count(*) from pg_class where relnamespace = 'pgq'::regnamespace and relname ~ '^event_[0-9]+(_[0-9]+)?$'
                   and relname not in (select substr(queue_data_pfx, 5) from pgq.queue)
                   and relname !~ ('^(' || (select string_agg(substr(queue_data_pfx, 5), '|') from pgq.queue) || ')_')), 0::bigint, 'tables dropped');

\o
select 'api.sql: all checks passed' as result;
