-- Privileges: the grant matrix and pinned search_path of SECURITY DEFINER
-- functions.
\ir _helpers.sql

do $$
declare
    r record;
begin
    for r in
        select * from (values
            ('public', 'pgq.version()'), ('public', 'pgq.get_queue_info()'), ('public', 'pgq.get_queue_info(text)'),
            ('public', 'pgq.get_consumer_info()'), ('public', 'pgq.get_consumer_info(text)'),
            ('public', 'pgq.get_consumer_info(text,text)'), ('public', 'pgq.quote_fqname(text)'),
            ('public', 'pgq.seq_getval(text)'),
            ('pgq_reader', 'pgq.next_batch_custom(text,text,interval,integer,interval)'),
            ('pgq_reader', 'pgq.get_batch_cursor(bigint,text,integer)'),
            ('pgq_reader', 'pgq.get_batch_cursor(bigint,text,integer,text)'),
            ('pgq_reader', 'pgq.event_retry(bigint,bigint,integer)'),
            ('pgq_reader', 'pgq.event_retry(bigint,bigint,timestamptz)'),
            ('pgq_reader', 'pgq.find_tick_helper(integer,bigint,timestamptz,bigint,bigint,interval)'),
            ('pgq_reader', 'pgq.force_tick(text)'),
            ('pgq_writer', 'pgq.insert_event(text,text,text)'),
            ('pgq_writer', 'pgq.insert_event(text,text,text,text,text,text,text)'),
            ('pgq_writer', 'pgq.insert_event_bulk(text,text[],text[],text[],text[],text[],text[])'),
            ('pgq_writer', 'pgq.current_event_table(text)'),
            ('pgq_admin', 'pgq.ticker()'), ('pgq_admin', 'pgq.ticker(text)'),
            ('pgq_admin', 'pgq.ticker(text,bigint,timestamptz,bigint)'),
            ('pgq_admin', 'pgq.ticker_schedule()'),
            ('pgq_admin', 'pgq.insert_event_raw(text,bigint,timestamptz,integer,integer,text,text,text,text,text,text)'),
            ('pgq_admin', 'pgq.event_retry_raw(text,text,timestamptz,bigint,timestamptz,integer,text,text,text,text,text,text)'),
            ('pgq_admin', 'pgq.maint_operations()'), ('pgq_admin', 'pgq.create_queue(text)'),
            ('pgq_admin', 'pgq.drop_queue(text)'), ('pgq_admin', 'pgq.drop_queue(text,boolean)')
        ) v(role, func)
    loop
        perform pg_temp.eq((select count(*) from pg_proc p, aclexplode(p.proacl) a
                             where p.oid = r.func::regprocedure and a.privilege_type = 'EXECUTE'
                               and a.grantee = case when r.role = 'public' then 0 else r.role::regrole end), 1::bigint,
                           'execute on ' || r.func || ' to ' || r.role);
    end loop;
    -- no internal function is executable by public
    perform pg_temp.eq((select count(*) from pg_proc p, aclexplode(p.proacl) a
                         where p.pronamespace = 'pgq'::regnamespace and a.grantee = 0
                           and p.proname not in ('version', 'engine_version', 'get_queue_info', 'get_consumer_info', 'quote_fqname', 'seq_getval')),
                       0::bigint, 'nothing else for public');
    -- every SECURITY DEFINER function pins search_path
    perform pg_temp.eq((select count(*) from pg_proc where pronamespace = 'pgq'::regnamespace and prosecdef
                          and not coalesce(proconfig::text like '%search_path=%', false)), 0::bigint, 'SD functions pin search_path');
    perform pg_temp.eq(has_table_privilege('pgq_reader', 'pgq.event_template', 'select'), true, 'reader reads events');
    perform pg_temp.eq(has_table_privilege('pgq_writer', 'pgq.event_template', 'insert'), false, 'writer has no direct insert');
    perform pg_temp.eq(has_table_privilege('pgq_admin', 'pgq.retry_queue', 'delete'), true, 'admin retry_queue');
    perform pg_temp.eq(has_table_privilege('public', 'pgq.retry_queue', 'select'), false, 'retry_queue private');
end $$;

-- a writer-only role can produce, a reader-only role can consume
select pgq.create_queue('qg');
create role pgq_t_writer in role pgq_writer;
create role pgq_t_reader in role pgq_reader;
set role pgq_t_writer;
select pgq.insert_event('qg', 't', 'w1');
select pgq.insert_event_bulk('qg', array['t'], array['w2']);
reset role;
select pg_temp.tick('qg');
set role pgq_t_reader;
select pgq.register_consumer('qg', 'rc');
reset role;
select pgq.insert_event('qg', 't', 'w3');
select pg_temp.tick('qg');
set role pgq_t_reader;
select pg_temp.eq(pg_temp.batch_data(pgq.next_batch('qg', 'rc')), 'w3', 'reader batch');
select pgq.finish_batch(pgq.next_batch('qg', 'rc'));
select pgq.unregister_consumer('qg', 'rc');
reset role;

-- insert_event(3) is SECURITY DEFINER itself (sql/README.md, difference
-- 10): a role granted only that form produces without the 7-argument one
select pg_temp.eq((select count(*) from pg_proc where oid in ('pgq.insert_event(text,text,text)'::regprocedure,
                       'pgq.insert_event(text,text,text,text,text,text,text)'::regprocedure) and prosecdef),
                  2::bigint, 'both insert_event forms are SECURITY DEFINER');
create role pgq_t_three;
grant usage on schema pgq to pgq_t_three;
grant execute on function pgq.insert_event(text, text, text) to pgq_t_three;
set role pgq_t_three;
select pg_temp.eq(has_function_privilege('pgq.insert_event(text,text,text,text,text,text,text)', 'execute'),
                  false, 'the 3-argument role lacks the 7-argument form');
select pg_temp.eq(pgq.insert_event('qg', 't', 'three') > 0, true, '3-argument form alone produces');
reset role;
revoke all on schema pgq from pgq_t_three;
revoke all on function pgq.insert_event(text, text, text) from pgq_t_three;
drop role pgq_t_three;

drop role pgq_t_writer;
drop role pgq_t_reader;
select pgq.drop_queue('qg');

\o
select 'grants.sql: all checks passed' as result;
