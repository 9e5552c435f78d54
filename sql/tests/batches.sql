-- Batch contents, rolled-back transactions, retries and rotation, as far as
-- a single session can drive them (each statement outside an explicit
-- transaction block commits on its own).
\ir _helpers.sql

select pgq.create_queue('qb');
select pgq.register_consumer('qb', 'c1');
select pgq.register_consumer('qb', 'c2');

-- committed events are delivered, rolled-back ones are not
select pgq.insert_event('qb', 't', 'a1');
begin;
select pgq.insert_event('qb', 't', 'lost');
rollback;
select pgq.insert_event_bulk('qb', array['t'], array['a2', 'a3']);
select pg_temp.tick('qb');

create temp table b (name text primary key, id bigint);
insert into b select 'c1', pgq.next_batch('qb', 'c1');
insert into b select 'c2', pgq.next_batch('qb', 'c2');
select pg_temp.eq(pg_temp.batch_data((select id from b where name = 'c1')), 'a1,a2,a3', 'c1 batch');
select pg_temp.eq(pg_temp.batch_data((select id from b where name = 'c2')), 'a1,a2,a3', 'c2 batch');

-- events written while a batch is open belong to the next one
select pgq.insert_event('qb', 't', 'b1');
select pg_temp.eq(pg_temp.batch_data((select id from b where name = 'c1')), 'a1,a2,a3', 'batch stable');

-- cursor API, with and without extra filter
begin;
select pg_temp.eq((select string_agg(ev_data, ',') from pgq.get_batch_cursor((select id from b where name = 'c1'), 'cur1', 2)), 'a1,a2', 'cursor quick part');
select pg_temp.eq((select count(*) from pgq.get_batch_cursor((select id from b where name = 'c1'), 'cur2', 10, $$ev_data <> 'a2'$$)), 2::bigint, 'cursor filter');
commit;

-- retry: one event for c1 only
select pg_temp.eq(pgq.event_retry((select id from b where name = 'c1'), (select ev_id from pgq.event_template where ev_data = 'a2'), 0), 1, 'event_retry');
select pg_temp.eq(pgq.event_retry((select id from b where name = 'c1'), (select ev_id from pgq.event_template where ev_data = 'a2'), 0), 0, 'event_retry duplicate');
select pg_temp.expect_error($$select pgq.event_retry((select id from b where name = 'c1'), -5, 0)$$, 'event not found');
select pg_temp.eq((select ev_retry from pgq.retry_queue), 1, 'retry count');
select pg_temp.eq((select ev_txid from pgq.retry_queue), null::bigint, 'retry txid NULL');
-- batch_retry on c2: every event, none queued yet for this owner
select pg_temp.eq(pgq.batch_retry((select id from b where name = 'c2'), 3600), 3, 'batch_retry');
select pg_temp.eq(pgq.batch_retry((select id from b where name = 'c2'), 3600), 0, 'batch_retry again');
select pgq.finish_batch(id) from b;

-- maint_retry_events moves due rows (at most 10 per call)
select pg_temp.eq(pgq.maint_retry_events(), 1, 'one due retry moved');
select pg_temp.eq(pgq.maint_retry_events(), 0, 'nothing else due');
select pg_temp.eq((select count(*) from pgq.retry_queue), 3::bigint, 'c2 retries wait');
select pg_temp.tick('qb');
delete from b;
insert into b select 'c1', pgq.next_batch('qb', 'c1');
insert into b select 'c2', pgq.next_batch('qb', 'c2');
select pg_temp.eq(pg_temp.batch_data((select id from b where name = 'c1')), 'a2,b1', 'owner sees retried event');
select pg_temp.eq(pg_temp.batch_data((select id from b where name = 'c2')), 'b1', 'other consumer does not');
select pg_temp.eq((select ev_retry from pgq.get_batch_events((select id from b where name = 'c1')) where ev_data = 'a2'), 1, 'retry count delivered');
select pgq.finish_batch(id) from b;

-- drain: 25 due retries take 3 calls of at most 10
do $$
declare
    v_sub int4 := (select sub_id from pgq.subscription s join pgq.consumer c on c.co_id = s.sub_consumer where co_name = 'c1');
begin
    for i in 1 .. 25 loop
        perform pgq.event_retry_raw('qb', 'c1', now() - interval '1 second', null, now(), 0, 'r', 'r' || i, null, null, null, null);
    end loop;
    perform pg_temp.eq((select count(*) from pgq.retry_queue where ev_owner = v_sub), 25::bigint, 'raw retries');
end $$;
select pg_temp.eq(pgq.maint_retry_events(), 10, 'drain 1');
select pg_temp.eq(pgq.maint_retry_events(), 10, 'drain 2');
select pg_temp.eq(pgq.maint_retry_events(), 5, 'drain 3');
select pg_temp.eq(pgq.maint_retry_events(), 0, 'drain 4');
select pg_temp.tick('qb');
delete from b;
insert into b select 'c1', pgq.next_batch('qb', 'c1');
insert into b select 'c2', pgq.next_batch('qb', 'c2');
select pg_temp.eq((select count(*) from pgq.get_batch_events((select id from b where name = 'c1'))), 25::bigint, 'drained events for owner');
select pg_temp.eq((select count(*) from pgq.get_batch_events((select id from b where name = 'c2'))), 0::bigint, 'not for others');
select pgq.finish_batch(id) from b;

-- empty batches exist and must be finished
select pg_temp.tick('qb');
select pg_temp.eq((select count(*) from pgq.get_batch_events(pgq.next_batch('qb', 'c1'))), 0::bigint, 'empty batch');
select pgq.finish_batch(pgq.next_batch('qb', 'c1'));

-- next_batch_custom / find_tick_helper: min_count picks the first tick that
-- has enough events when the newest one overshoots by more than 2x
select pgq.insert_event('qb', 't', 'n1');
select pg_temp.tick('qb');
select pg_temp.eq((select batch_id from pgq.next_batch_custom('qb', 'c2', '1 hour', null, null)), null::bigint, 'min_lag holds back');
select pg_temp.eq((select batch_id is not null from pgq.next_batch_custom('qb', 'c2', null, 1, null)), true, 'min_count batch');

-- rotation: never truncates what a consumer has not finished
create temp table qid as select queue_id, queue_data_pfx from pgq.queue where queue_name = 'qb';
select pgq.set_queue_config('qb', 'rotation_period', '0');
select pgq.finish_batch(sub_batch) from pgq.subscription where sub_batch is not null;
-- c2 stays on an old tick whose snapshot precedes step2
update pgq.subscription set sub_last_tick = (select min(tick_id) from pgq.tick where tick_queue = (select queue_id from qid))
 where sub_consumer = (select co_id from pgq.consumer where co_name = 'c2');
select pg_temp.eq(pgq.maint_rotate_tables_step1('qb'), 0, 'step1');
select pg_temp.eq((select queue_cur_table from pgq.queue where queue_name = 'qb'), 0, 'no rotation while a consumer lags');
-- move both consumers forward past step2 and rotate
select pgq.insert_event('qb', 't', 'rot1');
select pg_temp.tick('qb');
update pgq.subscription set sub_last_tick = (select max(tick_id) from pgq.tick where tick_queue = (select queue_id from qid)), sub_batch = null, sub_next_tick = null
 where sub_queue = (select queue_id from qid);
select pgq.maint_rotate_tables_step1('qb');
select pg_temp.eq((select queue_cur_table from pgq.queue where queue_name = 'qb'), 1, 'rotated');
select pg_temp.eq((select queue_switch_step2 from pgq.queue where queue_name = 'qb'), null::bigint, 'step2 pending');
-- during the switch both tables are read
select pgq.insert_event('qb', 't', 'rot2');
select pg_temp.tick('qb');
select pg_temp.eq(pg_temp.batch_data(pgq.next_batch('qb', 'c1')), 'rot2', 'batch across rotation');
select pg_temp.eq((select count(*) from pgq.batch_event_tables((select sub_batch from pgq.subscription where sub_batch is not null limit 1))), 2::bigint, 'two tables during switch');
select pgq.maint_rotate_tables_step2();
select pg_temp.eq((select queue_switch_step2 is not null from pgq.queue where queue_name = 'qb'), true, 'step2 done');
-- step1 right after step2 must not rotate (consumer c1 holds a batch whose
-- start tick predates step2)
select pgq.maint_rotate_tables_step1('qb');
select pg_temp.eq((select queue_cur_table from pgq.queue where queue_name = 'qb'), 1, 'no second rotation');
select pg_temp.eq((select count(*) from pgq.event_template where ev_data = 'rot1'), 1::bigint, 'unfinished data kept');

-- ticker(): an idle queue backs off, a broken queue does not stop the others
select pgq.create_queue('qbroken');
select pgq.create_queue('qgood');
select pgq.insert_event('qgood', 't', 'g');
select pgq.force_tick('qgood');
select pgq.force_tick('qbroken');
update pgq.queue set queue_tick_seq = 'pgq.no_such_seq' where queue_name = 'qbroken';
do $$
declare
    v_before bigint := (select count(*) from pgq.tick t join pgq.queue q on q.queue_id = t.tick_queue where queue_name = 'qgood');
begin
    perform pgq.ticker();
    perform pg_temp.eq((select count(*) from pgq.tick t join pgq.queue q on q.queue_id = t.tick_queue where queue_name = 'qgood'), v_before + 1, 'good queue ticked');
end $$;
update pgq.queue set queue_tick_seq = queue_data_pfx || '_tick_seq' where queue_name = 'qbroken';

\o
select 'batches.sql: all checks passed' as result;
