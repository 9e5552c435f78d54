-- pgq_coop: sub-consumers sharing a consumer, batch hand-over, dead
-- sub-consumers, unregistering, retries, rotation, grants.
\ir ../pgq_coop.sql
\ir _helpers.sql

select pgq.create_queue('q');

create function pg_temp.sub(i_name text, out sub_id int4, out last_tick int8, out next_tick int8, out batch int8)
language sql as $$
    select s.sub_id, s.sub_last_tick, s.sub_next_tick, s.sub_batch
      from pgq.subscription s join pgq.consumer c on c.co_id = s.sub_consumer
     where c.co_name = i_name
$$;

-- registering
select pg_temp.eq(pgq_coop.register_subconsumer('q', 'c', 's1'), 1, 'new sub-consumer');
select pg_temp.eq(pgq_coop.register_subconsumer('q', 'c', 's1'), 0, 'known sub-consumer');
select pg_temp.eq(pgq_coop.register_subconsumer('q', 'c', 's2'), 1, 'second sub-consumer');
select pg_temp.eq((pg_temp.sub('c.s1')).sub_id, (pg_temp.sub('c')).sub_id, 'shares the main sub_id');
select pg_temp.eq((pg_temp.sub('c.s1')).last_tick, null::int8, 'idle: no last tick');
select pg_temp.eq((select count(*) from pgq.get_consumer_info('q')), 3::bigint, 'main and two subs listed');
select pg_temp.eq(pgq_coop.version(), '3.4', 'version');

-- two sub-consumers take consecutive batches
select pgq.insert_event('q', 't', 'a1'), pgq.insert_event('q', 't', 'a2');
select pg_temp.tick('q');
select pgq.insert_event('q', 't', 'b1');
select pg_temp.tick('q');
select pgq_coop.next_batch('q', 'c', 's1') as b1 \gset
select pg_temp.eq(pgq_coop.next_batch('q', 'c', 's1'), :b1::int8, 'same batch until finished');
select pg_temp.eq(pg_temp.batch_data(:b1), 'a1,a2', 's1 batch');
select pg_temp.eq((pg_temp.sub('c')).batch, null::int8, 'main consumer has no batch');
select pg_temp.eq((pg_temp.sub('c')).last_tick, (pg_temp.sub('c.s1')).next_tick, 'main moved to the end of s1 batch');
select pgq_coop.next_batch('q', 'c', 's2') as b2 \gset
select pg_temp.eq(pg_temp.batch_data(:b2), 'b1', 's2 batch');
select pg_temp.eq(pgq_coop.next_batch('q', 'c', 's3'), null::int8, 'nothing left; s3 registered on the way');
select pg_temp.eq((pg_temp.sub('c.s3')).sub_id, (pg_temp.sub('c')).sub_id, 's3 shares the sub_id');
select pg_temp.eq((select current_batch from pgq.get_consumer_info('q', 'c.s1')), :b1::int8, 'consumer info shows s1 batch');

-- a sub-consumer holding a batch holds back rotation
select pgq.set_queue_config('q', 'rotation_period', '0');
select pgq.maint_rotate_tables_step1('q');
select pgq.maint_rotate_tables_step2();
select pgq.maint_rotate_tables_step1('q');
select pgq.maint_rotate_tables_step2();
select pgq.maint_rotate_tables_step1('q');
select pg_temp.eq(pg_temp.batch_data(:b1), 'a1,a2', 's1 batch survives rotation attempts');

select pg_temp.eq(pgq_coop.finish_batch(:b1), 1, 'finish s1');
select pg_temp.eq(pgq_coop.finish_batch(:b1), 0, 'finish s1 again: warning, 0');
select pg_temp.eq((pg_temp.sub('c.s1')).next_tick, null::int8, 's1 idle again');
select pg_temp.eq(pgq_coop.finish_batch(:b2), 1, 'finish s2');

-- the main consumer's own batch is in the way
select pgq.insert_event('q', 't', 'c1');
select pg_temp.tick('q');
select pgq.next_batch('q', 'c') as bm \gset
select pg_temp.expect_error('select pgq_coop.next_batch(''q'', ''c'', ''s1'')', 'main consumer has batch open?');
select pgq.finish_batch(:bm);

-- a dead sub-consumer's batch is taken over
select pgq.insert_event('q', 't', 'd1');
select pg_temp.tick('q');
select pgq_coop.next_batch('q', 'c', 's1') as bd \gset
update pgq.subscription set sub_active = now() - interval '1 hour'
 where sub_consumer = (select co_id from pgq.consumer where co_name = 'c.s1');
select pg_temp.eq(pgq_coop.next_batch('q', 'c', 's2', '10 minutes'), :bd::int8, 's2 takes over the batch of dead s1');
select pg_temp.eq(pg_temp.batch_data(:bd), 'd1', 'same events');
select pg_temp.eq((select count(*) from pg_temp.sub('c.s1') where sub_id is not null), 0::bigint, 's1 subscription gone');
select pg_temp.eq((select count(*) from pgq.consumer where co_name = 'c.s1'), 1::bigint, 's1 consumer row stays');
select pg_temp.eq(pgq_coop.finish_batch(:bd), 1, 'finish taken-over batch');
-- a dead one without a batch is just removed
update pgq.subscription set sub_active = now() - interval '1 hour'
 where sub_consumer = (select co_id from pgq.consumer where co_name = 'c.s3');
select pg_temp.eq(pgq_coop.next_batch('q', 'c', 's2', '10 minutes'), null::int8, 'nothing to take over');
select pg_temp.eq((select count(*) from pg_temp.sub('c.s3') where sub_id is not null), 0::bigint, 's3 removed');

-- next_batch_custom passes min_count on (a plain tick: force_tick would
-- count many events)
select pgq.set_queue_config('q', 'ticker_max_count', '1');
select pgq.insert_event('q', 't', 'e1');
select pg_temp.eq(pgq.ticker('q') is not null, true, 'tick after one event');
select pg_temp.eq(pgq_coop.next_batch_custom('q', 'c', 's2', null, 100, null), null::int8, 'min_count not reached');
select pgq_coop.next_batch_custom('q', 'c', 's2', null, 1, null, null) as be \gset
select pg_temp.eq(pg_temp.batch_data(:be), 'e1', 'min_count reached');

-- retries belong to the shared sub_id: another sub-consumer gets them
select pg_temp.eq(pgq.event_retry(:be, (select ev_id from pgq.get_batch_events(:be)), 0), 1, 'retry e1');
select pg_temp.eq(pgq_coop.finish_batch(:be), 1, 'finish e1 batch');
select pg_temp.eq(pgq.maint_retry_events(), 1, 'retry moved back');
select pg_temp.tick('q');
select pgq_coop.next_batch('q', 'c', 's4') as br \gset
select pg_temp.eq(pg_temp.batch_data(:br), 'e1', 's4 gets the retried event');
select pg_temp.eq((select ev_retry from pgq.get_batch_events(:br)), 1, 'retry count');

-- unregistering
select pg_temp.eq(pgq_coop.unregister_subconsumer('q', 'c', 'nosuch', 0), 0, 'unknown sub-consumer');
select pg_temp.expect_error('select pgq_coop.unregister_subconsumer(''q'', ''c'', ''s4'', 0)', 'subconsumer has active batch');
select pg_temp.eq(pgq_coop.unregister_subconsumer('q', 'c', 's4', 1), 1, 'drop the batch with it');
select pg_temp.eq((select count(*) from pgq.subscription where sub_batch = :br), 0::bigint, 'batch gone');
select pg_temp.eq((select count(*) from pgq.consumer where co_name = 'c.s4'), 1::bigint, 'consumer row stays');
select pg_temp.tick('q');
select pgq_coop.next_batch('q', 'c', 's2') as bn \gset
select pg_temp.eq(pg_temp.batch_data(:bn), '', 'dropped batch is not delivered again');
select pg_temp.eq(pgq_coop.finish_batch(:bn), 1, 'finish the empty batch');
select pg_temp.eq(pgq_coop.unregister_subconsumer('q', 'c', 's2', 0), 1, 'idle sub-consumer');
select pgq_coop.register_subconsumer('q', 'c', 's5');
select pg_temp.eq(pgq.unregister_consumer('q', 'c.s5'), 1, 'pgq.unregister_consumer of a sub-consumer');
select pg_temp.eq((select count(*) from pg_temp.sub('c') where sub_id is not null), 1::bigint, 'main stays');
select pgq_coop.register_subconsumer('q', 'c', 's6');
select pgq_coop.register_subconsumer('q', 'c', 's7');
select pg_temp.eq(pgq.unregister_consumer('q', 'c'), 3, 'unregistering the main consumer removes its sub-consumers');

-- grants: readers use it, version() is public
create role pgq_t_coop_reader in role pgq_reader;
create role pgq_t_coop_other;
select pgq.insert_event('q', 't', 'g1');
select pg_temp.tick('q');
set role pgq_t_coop_reader;
select pg_temp.eq(pgq_coop.register_subconsumer('q', 'g', 's1'), 1, 'reader registers');
reset role;
select pgq.insert_event('q', 't', 'g2');
select pg_temp.tick('q');
set role pgq_t_coop_reader;
select pgq_coop.next_batch('q', 'g', 's1') as bg \gset
select pg_temp.eq(pg_temp.batch_data(:bg), 'g2', 'reader reads');
select pg_temp.eq(pgq_coop.finish_batch(:bg), 1, 'reader finishes');
reset role;
set role pgq_t_coop_other;
select pg_temp.expect_error('select pgq_coop.next_batch(''q'', ''g'', ''s1'')', 'permission denied for function next_batch');
select pg_temp.eq(pgq_coop.version(), '3.4', 'version for everyone');
reset role;
drop role pgq_t_coop_reader;
drop role pgq_t_coop_other;
select pg_temp.eq((select count(*) from pg_proc where pronamespace = 'pgq_coop'::regnamespace and prosecdef
                     and not coalesce(proconfig::text like '%search_path=%', false)), 0::bigint, 'SD functions pin search_path');

-- reinstalling keeps the sub-consumers
\ir ../pgq_coop.sql
select pg_temp.eq((pg_temp.sub('g.s1')).sub_id, (pg_temp.sub('g')).sub_id, 'kept over a reinstall');

\o
select 'coop.sql: all checks passed' as result;
