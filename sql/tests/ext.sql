-- pgq_ext: batch, tick and event bookkeeping, both function forms, the
-- schema upgrade from tables without sub-consumers, reinstall, grants.
\ir ../pgq_ext.sql
\ir _helpers.sql

-- a fresh install has made its 4 changes; nothing is left to do
select pg_temp.eq(pgq_ext.upgrade_schema(), 0, 'upgrade_schema after install');
select pg_temp.eq((select count(*)::int from pg_catalog.pg_attrdef d
                     join pg_catalog.pg_attribute a on a.attrelid = d.adrelid and a.attnum = d.adnum
                    where a.attrelid::regclass::text like 'pgq_ext.%' and a.attname = 'subconsumer_id'),
                  4, 'subconsumer_id defaults');
select pg_temp.eq(pgq_ext.version(), '3.3', 'version');

-- batches
select pg_temp.eq(pgq_ext.is_batch_done('c', 5), false, 'no batch yet');
select pg_temp.eq(pgq_ext.set_batch_done('c', 5), true, 'set 5');
select pg_temp.eq(pgq_ext.is_batch_done('c', 5), true, '5 done');
select pg_temp.eq(pgq_ext.is_batch_done('c', 4), false, 'only the last batch counts');
select pg_temp.eq(pgq_ext.set_batch_done('c', 5), false, 'set 5 again');
select pg_temp.eq(pgq_ext.set_batch_done('c', 6), true, 'set 6');
select pg_temp.eq(pgq_ext.is_batch_done('c', 5), false, '5 replaced by 6');
select pg_temp.eq(pgq_ext.is_batch_done('c', '', 6), true, 'short form is sub-consumer ''''');
select pg_temp.eq(pgq_ext.is_batch_done('c', 's1', 6), false, 'sub-consumers are apart');
select pg_temp.eq(pgq_ext.set_batch_done('c', 's1', 6), true, 'set for s1');
select pg_temp.eq(pgq_ext.set_batch_done('c', 's1', 0), true, 'batch 0: true, nothing stored');
select pg_temp.eq(pgq_ext.is_batch_done('c', 's1', 6), true, 'batch 0 kept 6');
select pg_temp.eq((select count(*) from pgq_ext.completed_batch), 2::bigint, 'rows');

-- ticks
select pg_temp.eq(pgq_ext.get_last_tick('c'), null::int8, 'no tick');
select pg_temp.eq(pgq_ext.set_last_tick('c', 10), 1, 'set tick');
select pg_temp.eq(pgq_ext.get_last_tick('c'), 10::int8, 'tick 10');
select pg_temp.eq(pgq_ext.set_last_tick('c', 11), 1, 'move tick');
select pg_temp.eq(pgq_ext.get_last_tick('c', ''), 11::int8, 'tick 11, full form');
select pg_temp.eq(pgq_ext.set_last_tick('c', 's1', 3), 1, 'tick for s1');
select pg_temp.eq(pgq_ext.set_last_tick('c', null), 1, 'NULL deletes');
select pg_temp.eq(pgq_ext.get_last_tick('c'), null::int8, 'deleted');
select pg_temp.eq(pgq_ext.get_last_tick('c', 's1'), 3::int8, 's1 kept');

-- events of a batch in progress
select pg_temp.eq(pgq_ext.is_event_done('c', 1, 100), false, 'no event');
select pg_temp.eq(pgq_ext.set_event_done('c', 1, 100), true, 'event 100');
select pg_temp.eq(pgq_ext.set_event_done('c', 1, 101), true, 'event 101');
select pg_temp.eq(pgq_ext.set_event_done('c', 1, 100), false, 'event 100 again');
select pg_temp.eq(pgq_ext.is_event_done('c', 1, 100), true, '100 done');
select pg_temp.eq((select cur_batch_id from pgq_ext.partial_batch where consumer_id = 'c'), 1::int8, 'partial batch 1');
select pg_temp.eq(pgq_ext.set_event_done('c', 2, 200), true, 'next batch');
select pg_temp.eq(pgq_ext.is_event_done('c', 1, 100), false, 'the old batch is forgotten');
select pg_temp.eq((select count(*) from pgq_ext.completed_event where consumer_id = 'c'), 1::bigint, 'one event left');
select pg_temp.eq((select cur_batch_id from pgq_ext.partial_batch where consumer_id = 'c'), 2::int8, 'partial batch 2');
select pg_temp.eq(pgq_ext.set_event_done('c', 's1', 1, 100), true, 's1 apart');
select pg_temp.eq(pgq_ext.is_event_done('c', 's1', 1, 100), true, 's1 event');
select pg_temp.eq(pgq_ext.is_event_done('c', 2, 200), true, 'c still has 200');

-- tables from a version without sub-consumers get the column, the key
-- and the default
drop table pgq_ext.completed_tick, pgq_ext.completed_batch, pgq_ext.completed_event, pgq_ext.partial_batch;
create table pgq_ext.completed_tick (consumer_id text not null primary key, last_tick_id bigint not null);
create table pgq_ext.completed_batch (consumer_id text not null primary key, last_batch_id bigint not null);
create table pgq_ext.completed_event (consumer_id text not null, batch_id bigint not null, event_id bigint not null,
                                      primary key (consumer_id, batch_id, event_id));
create table pgq_ext.partial_batch (consumer_id text not null primary key, cur_batch_id bigint not null);
insert into pgq_ext.completed_batch values ('old', 7);
insert into pgq_ext.completed_event values ('old', 7, 70);
select pg_temp.eq(pgq_ext.upgrade_schema(), 8, 'upgrade: column and default on 4 tables');
select pg_temp.eq(pgq_ext.upgrade_schema(), 0, 'upgrade again: nothing');
select pg_temp.eq(pgq_ext.is_batch_done('old', 7), true, 'old row kept as sub-consumer ''''');
select pg_temp.eq(pgq_ext.is_event_done('old', 7, 70), true, 'old event kept');
select pg_temp.eq(pgq_ext.set_batch_done('old', 'sub', 8), true, 'sub-consumer beside it');
select pg_temp.eq((select string_agg(a.attname, ',' order by k.ord)
                     from pg_catalog.pg_index i
                    cross join lateral unnest(i.indkey::int2[]) with ordinality k(attnum, ord)
                     join pg_catalog.pg_attribute a on a.attrelid = i.indrelid and a.attnum = k.attnum
                    where i.indrelid = 'pgq_ext.completed_event'::regclass and i.indisprimary),
                  'consumer_id,subconsumer_id,batch_id,event_id', 'completed_event key as on a fresh install');

-- reinstalling keeps the rows
\ir ../pgq_ext.sql
select pg_temp.eq(pgq_ext.is_batch_done('old', 'sub', 8), true, 'kept over a reinstall');

-- grants: writers use it, others cannot; version() is public
create role pgq_t_ext_writer in role pgq_writer;
create role pgq_t_ext_other;
set role pgq_t_ext_writer;
select pg_temp.eq(pgq_ext.set_batch_done('w', 1), true, 'writer sets');
select pg_temp.eq(pgq_ext.set_event_done('w', 1, 1), true, 'writer sets event');
reset role;
set role pgq_t_ext_other;
select pg_temp.expect_error('select pgq_ext.set_batch_done(''w'', 2)', 'permission denied for function set_batch_done');
select pg_temp.expect_error('select * from pgq_ext.completed_batch', 'permission denied for table completed_batch');
select pg_temp.eq(pgq_ext.version(), '3.3', 'version for everyone');
reset role;
drop role pgq_t_ext_writer;
drop role pgq_t_ext_other;

-- every SECURITY DEFINER function pins search_path
select pg_temp.eq((select count(*) from pg_proc where pronamespace = 'pgq_ext'::regnamespace and prosecdef
                     and not coalesce(proconfig::text like '%search_path=%', false)), 0::bigint, 'SD functions pin search_path');

\o
select 'ext.sql: all checks passed' as result;
