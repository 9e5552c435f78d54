-- Re-running sql/pgq.sql over a populated database loses nothing.
\ir _helpers.sql

select pgq.create_queue('qr');
select pgq.register_consumer('qr', 'c1');
select pgq.insert_event('qr', 't', 'before');
select pg_temp.tick('qr');
select pgq.next_batch('qr', 'c1');
select pgq.event_retry_raw('qr', 'c1', now() + interval '1 hour', null, now(), 0, 't', 'retry', null, null, null, null);
update pgq.queue set queue_per_tx_limit = 1000, queue_extra_maint = array['public.x'] where queue_name = 'qr';
create role pgq_reinstall_app;
grant execute on function pgq.insert_event(text, text, text) to pgq_reinstall_app;

create temp table snap as
select (select count(*) from pgq.queue) as queues,
       (select count(*) from pgq.tick) as ticks,
       (select count(*) from pgq.subscription) as subs,
       (select count(*) from pgq.consumer) as consumers,
       (select count(*) from pgq.retry_queue) as retries,
       (select count(*) from pgq.event_template) as events,
       (select sub_batch from pgq.subscription) as batch,
       (select string_agg(ev_data, ',') from pgq.get_batch_events((select sub_batch from pgq.subscription))) as batch_data;

\ir ../pgq.sql
\o /dev/null

do $$
declare
    s record;
begin
    select * into s from snap;
    perform pg_temp.eq((select count(*) from pgq.queue), s.queues, 'queues');
    perform pg_temp.eq((select count(*) from pgq.tick), s.ticks, 'ticks');
    perform pg_temp.eq((select count(*) from pgq.subscription), s.subs, 'subscriptions');
    perform pg_temp.eq((select count(*) from pgq.consumer), s.consumers, 'consumers');
    perform pg_temp.eq((select count(*) from pgq.retry_queue), s.retries, 'retries');
    perform pg_temp.eq((select count(*) from pgq.event_template), s.events, 'events');
    perform pg_temp.eq((select sub_batch from pgq.subscription), s.batch, 'open batch');
    perform pg_temp.eq((select string_agg(ev_data, ',') from pgq.get_batch_events(s.batch)), s.batch_data, 'batch data');
    perform pg_temp.eq((select queue_per_tx_limit from pgq.queue where queue_name = 'qr'), 1000, 'queue config');
    perform pg_temp.eq(has_function_privilege('pgq_reinstall_app', 'pgq.insert_event(text,text,text)', 'execute'), true, 'custom grant kept');
end $$;

-- and the engine still works
select pg_temp.eq(pgq.finish_batch((select sub_batch from pgq.subscription)), 1, 'finish after reinstall');
select pgq.insert_event('qr', 't', 'after');
select pg_temp.tick('qr');
select pg_temp.eq(pg_temp.batch_data(pgq.next_batch('qr', 'c1')), 'after', 'batch after reinstall');
select pgq.finish_batch(pgq.next_batch('qr', 'c1'));
select pgq.unregister_consumer('qr', 'c1');
select pgq.drop_queue('qr');
revoke all on function pgq.insert_event(text, text, text) from pgq_reinstall_app;
drop role pgq_reinstall_app;

\o
select 'reinstall.sql: all checks passed' as result;
