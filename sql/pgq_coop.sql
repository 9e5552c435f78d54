-- pgq_coop in plain SQL: several workers sharing one consumer (the SQL
-- interface of pgq_coop 3.4).
--
-- Install or upgrade in place, after sql/pgq.sql:
--     psql -v ON_ERROR_STOP=1 -d DBNAME -f sql/pgq_coop.sql
--
-- A sub-consumer is a pgq consumer named '<consumer>.<subconsumer>' whose
-- subscription shares the main consumer's sub_id, so retried events belong
-- to all of them.  A sub-consumer takes a batch by closing the main
-- consumer's batch at once and moving it to its own row; an idle one has
-- neither last nor next tick.  The file runs in one transaction; running
-- it again keeps every row.  See sql/README.md.

begin;

set local client_min_messages = warning;

do $install_check$
begin
    if exists (select 1 from pg_catalog.pg_extension where extname = 'pgq_coop') then
        raise exception 'pgq_coop is installed as an extension in this database; drop the extension before installing the plain-SQL pgq_coop';
    end if;
    if not exists (select 1 from pg_catalog.pg_namespace where nspname = 'pgq')
       or to_regprocedure('pgq.next_batch_custom(text,text,interval,integer,interval)') is null then
        raise exception 'pgq_coop needs pgq: install sql/pgq.sql (or the pgq extension) first';
    end if;
end
$install_check$;

create schema if not exists pgq_coop;

create or replace function pgq_coop.version()
returns text language sql immutable as $$
    select '3.4'::text
$$;

-- Registers the main consumer if needed, then the sub-consumer.  Returns
-- 1 for a new sub-consumer, 0 if it existed.
create or replace function pgq_coop.register_subconsumer(i_queue_name text, i_consumer_name text,
        i_subconsumer_name text)
returns integer language plpgsql security definer
set search_path = '' as $$
declare
    v_sub_id int4;
    v_queue_id int4;
    v_sub_cons int4;
begin
    perform pgq.register_consumer(i_queue_name, i_consumer_name);
    if pgq.register_consumer(i_queue_name, i_consumer_name || '.' || i_subconsumer_name) = 0 then
        return 0;
    end if;

    select s.sub_id, s.sub_queue into v_sub_id, v_queue_id
      from pgq.subscription s, pgq.consumer c, pgq.queue q
     where q.queue_name = i_queue_name and s.sub_queue = q.queue_id
       and c.co_name = i_consumer_name and s.sub_consumer = c.co_id;
    if not found then
        raise exception 'main consumer not found';
    end if;

    -- the new row takes the main consumer's sub_id and starts idle
    select co_id into v_sub_cons from pgq.consumer
     where co_name = i_consumer_name || '.' || i_subconsumer_name;
    update pgq.subscription
       set sub_id = v_sub_id, sub_last_tick = null, sub_next_tick = null
     where sub_queue = v_queue_id and sub_consumer = v_sub_cons;
    return 1;
end;
$$;

-- Removes a sub-consumer's subscription (its consumer row stays).  Returns
-- 0 if it is not registered.  A sub-consumer holding a batch is an error
-- unless i_batch_handling is 1, which drops the batch: its events are not
-- delivered to this consumer again.
create or replace function pgq_coop.unregister_subconsumer(i_queue_name text, i_consumer_name text,
        i_subconsumer_name text, i_batch_handling integer)
returns integer language plpgsql security definer
set search_path = '' as $$
declare
    v_queue_id int4;
    v_sub_cons int4;
    v_batch int8;
begin
    select s.sub_queue, s.sub_consumer, s.sub_batch into v_queue_id, v_sub_cons, v_batch
      from pgq.subscription s, pgq.consumer c, pgq.queue q
     where q.queue_name = i_queue_name and s.sub_queue = q.queue_id
       and c.co_name = i_consumer_name || '.' || i_subconsumer_name and s.sub_consumer = c.co_id
       for update of s;
    if not found then
        return 0;
    end if;
    if v_batch is not null and i_batch_handling is distinct from 1 then
        raise exception 'subconsumer has active batch';
    end if;
    delete from pgq.subscription where sub_queue = v_queue_id and sub_consumer = v_sub_cons;
    return 1;
end;
$$;

-- The next batch for a sub-consumer.  With i_dead_interval, a sub-consumer
-- of the same consumer not seen for that long is removed first, and its
-- batch, if it had one, is taken over.  The min_* arguments are those of
-- pgq.next_batch_custom().
create or replace function pgq_coop.next_batch_custom(i_queue_name text, i_consumer_name text,
        i_subconsumer_name text, i_min_lag interval, i_min_count int4, i_min_interval interval,
        i_dead_interval interval)
returns int8 language plpgsql security definer
set search_path = '' as $$
declare
    v_main record;
    v_sub record;
    v_dead record;
    v_batch record;
    v_sub_name text := i_consumer_name || '.' || i_subconsumer_name;
begin
    -- the main consumer's row is the lock that serialises its sub-consumers
    for i in 1 .. 2 loop
        select s.sub_queue, s.sub_consumer, s.sub_id, s.sub_batch into v_main
          from pgq.subscription s, pgq.consumer c, pgq.queue q
         where q.queue_name = i_queue_name and s.sub_queue = q.queue_id
           and c.co_name = i_consumer_name and s.sub_consumer = c.co_id
           for update of s;
        exit when found or i = 2;
        perform pgq_coop.register_subconsumer(i_queue_name, i_consumer_name, i_subconsumer_name);
    end loop;
    if v_main.sub_queue is null then
        raise exception 'main consumer not found';
    end if;
    if v_main.sub_batch is not null then
        raise exception 'main consumer has batch open?';
    end if;

    for i in 1 .. 2 loop
        select s.sub_consumer, s.sub_batch into v_sub
          from pgq.subscription s, pgq.consumer c
         where s.sub_queue = v_main.sub_queue and c.co_name = v_sub_name and s.sub_consumer = c.co_id
           for update of s;
        exit when found or i = 2;
        perform pgq_coop.register_subconsumer(i_queue_name, i_consumer_name, i_subconsumer_name);
    end loop;
    if v_sub.sub_consumer is null then
        raise exception 'subconsumer not found';
    end if;

    -- idempotent until finish_batch
    if v_sub.sub_batch is not null then
        update pgq.subscription set sub_active = now()
         where sub_queue = v_main.sub_queue and sub_consumer = v_sub.sub_consumer;
        return v_sub.sub_batch;
    end if;

    -- a sub-consumer gone silent: drop it, and take over its batch
    if i_dead_interval is not null then
        select s.sub_consumer, s.sub_batch, s.sub_last_tick, s.sub_next_tick into v_dead
          from pgq.subscription s
         where s.sub_queue = v_main.sub_queue and s.sub_id = v_main.sub_id
           and s.sub_consumer <> v_main.sub_consumer and s.sub_consumer <> v_sub.sub_consumer
           and s.sub_active < now() - i_dead_interval
         order by s.sub_batch is null, s.sub_active
         limit 1
           for update of s;
        if found then
            delete from pgq.subscription
             where sub_queue = v_main.sub_queue and sub_consumer = v_dead.sub_consumer;
            if v_dead.sub_batch is not null then
                update pgq.subscription
                   set sub_batch = v_dead.sub_batch, sub_last_tick = v_dead.sub_last_tick,
                       sub_next_tick = v_dead.sub_next_tick, sub_active = now()
                 where sub_queue = v_main.sub_queue and sub_consumer = v_sub.sub_consumer;
                return v_dead.sub_batch;
            end if;
        end if;
    end if;

    select * into v_batch
      from pgq.next_batch_custom(i_queue_name, i_consumer_name, i_min_lag, i_min_count, i_min_interval);
    if v_batch.batch_id is null then
        return null;
    end if;

    -- the main consumer moves on at once; the batch lives on in the
    -- sub-consumer's row
    update pgq.subscription
       set sub_last_tick = sub_next_tick, sub_next_tick = null, sub_batch = null, sub_active = now()
     where sub_queue = v_main.sub_queue and sub_consumer = v_main.sub_consumer;
    update pgq.subscription
       set sub_batch = v_batch.batch_id, sub_last_tick = v_batch.prev_tick_id,
           sub_next_tick = v_batch.cur_tick_id, sub_active = now()
     where sub_queue = v_main.sub_queue and sub_consumer = v_sub.sub_consumer;
    return v_batch.batch_id;
end;
$$;

create or replace function pgq_coop.next_batch_custom(i_queue_name text, i_consumer_name text,
        i_subconsumer_name text, i_min_lag interval, i_min_count int4, i_min_interval interval)
returns int8 language sql as $$
    select pgq_coop.next_batch_custom($1, $2, $3, $4, $5, $6, null)
$$;

create or replace function pgq_coop.next_batch(i_queue_name text, i_consumer_name text,
        i_subconsumer_name text, i_dead_interval interval)
returns int8 language sql as $$
    select pgq_coop.next_batch_custom($1, $2, $3, null, null, null, $4)
$$;

create or replace function pgq_coop.next_batch(i_queue_name text, i_consumer_name text,
        i_subconsumer_name text)
returns int8 language sql as $$
    select pgq_coop.next_batch_custom($1, $2, $3, null, null, null, null)
$$;

-- Ends a sub-consumer's batch: the sub-consumer is idle again.
create or replace function pgq_coop.finish_batch(i_batch_id bigint)
returns integer language plpgsql security definer
set search_path = '' as $$
begin
    update pgq.subscription
       set sub_last_tick = null, sub_next_tick = null, sub_batch = null
     where sub_batch = i_batch_id;
    if not found then
        raise warning 'coop_finish_batch: batch % not found', i_batch_id;
        return 0;
    end if;
    return 1;
end;
$$;

grant usage on schema pgq_coop to public;

do $grants$
declare
    r record;
begin
    for r in
        select p.oid::regprocedure::text as sig, p.proname
          from pg_catalog.pg_proc p
         where p.pronamespace = 'pgq_coop'::regnamespace
    loop
        execute 'revoke all on function ' || r.sig || ' from public, pgq_reader, pgq_writer, pgq_admin';
        execute 'grant execute on function ' || r.sig || ' to '
            || case when r.proname = 'version' then 'public' else 'pgq_reader' end;
    end loop;
end
$grants$;

commit;
