-- pgq_ext in plain SQL: exactly-once bookkeeping on a consumer's target
-- database (the SQL interface of pgq_ext 3.3).
--
-- Install or upgrade in place, in the target database:
--     psql -v ON_ERROR_STOP=1 -d DBNAME -f sql/pgq_ext.sql
--
-- It needs nothing else: the target database may run without pgq.  The
-- file runs in one transaction, and running it again keeps every row.  See
-- sql/README.md for the differences from the original.

begin;

set local client_min_messages = warning;

-- The roles must exist or be creatable before anything is created, so that a
-- failed install leaves nothing half-built behind.
do $install_check$
declare
    v_missing text;
    v_can_create bool;
begin
    if exists (select 1 from pg_catalog.pg_extension where extname = 'pgq_ext') then
        raise exception 'pgq_ext is installed as an extension in this database; drop the extension before installing the plain-SQL pgq_ext';
    end if;

    select string_agg(r, ', ') into v_missing
      from unnest(array['pgq_reader', 'pgq_writer', 'pgq_admin']) r
     where not exists (select 1 from pg_catalog.pg_roles where rolname = r);

    if v_missing is not null then
        select rolsuper or rolcreaterole into v_can_create
          from pg_catalog.pg_roles where rolname = current_user;
        if not coalesce(v_can_create, false) then
            raise exception 'pgq_ext install: roles % do not exist and user "%" cannot create them', v_missing, current_user
                using hint = 'Create roles pgq_reader and pgq_writer (NOLOGIN) and pgq_admin (NOLOGIN IN ROLE pgq_reader, pgq_writer) as a superuser, or install as a user with CREATEROLE.';
        end if;
    end if;
    -- the same roles as pgq, so that installing pgq later finds them as it wants them
    if not exists (select 1 from pg_catalog.pg_roles where rolname = 'pgq_reader') then
        create role pgq_reader nologin;
    end if;
    if not exists (select 1 from pg_catalog.pg_roles where rolname = 'pgq_writer') then
        create role pgq_writer nologin;
    end if;
    if not exists (select 1 from pg_catalog.pg_roles where rolname = 'pgq_admin') then
        create role pgq_admin nologin in role pgq_reader, pgq_writer;
    end if;
end
$install_check$;

------------------------------------------------------------------------
-- Tables
------------------------------------------------------------------------
-- The default '' of subconsumer_id comes from upgrade_schema(), which also
-- brings tables of versions without sub-consumers up to date.

create schema if not exists pgq_ext;

create table if not exists pgq_ext.completed_tick (
    consumer_id     text    not null,
    subconsumer_id  text    not null,
    last_tick_id    bigint  not null,
    primary key (consumer_id, subconsumer_id)
);

create table if not exists pgq_ext.completed_batch (
    consumer_id     text    not null,
    subconsumer_id  text    not null,
    last_batch_id   bigint  not null,
    primary key (consumer_id, subconsumer_id)
);

create table if not exists pgq_ext.completed_event (
    consumer_id     text    not null,
    subconsumer_id  text    not null,
    batch_id        bigint  not null,
    event_id        bigint  not null,
    primary key (consumer_id, subconsumer_id, batch_id, event_id)
);

create table if not exists pgq_ext.partial_batch (
    consumer_id     text    not null,
    subconsumer_id  text    not null,
    cur_batch_id    bigint  not null,
    primary key (consumer_id, subconsumer_id)
);

------------------------------------------------------------------------
-- Schema upgrade
------------------------------------------------------------------------

-- Brings each table to the current layout and returns the number of
-- changes made: tables from before sub-consumers get subconsumer_id
-- (filled with '', NOT NULL, in the primary key), and every subconsumer_id
-- gets its default ''.  A fresh install makes 4 changes, a current one 0.
create or replace function pgq_ext.upgrade_schema()
returns int4 language plpgsql as $$
declare
    v_tbl text;
    v_keys text;
    v_con text;
    v_cnt int4 := 0;
begin
    foreach v_tbl in array array['completed_tick', 'completed_batch', 'completed_event', 'partial_batch'] loop
        if not exists (select 1 from pg_catalog.pg_attribute
                        where attrelid = ('pgq_ext.' || v_tbl)::regclass
                          and attname = 'subconsumer_id' and not attisdropped) then
            v_keys := case v_tbl when 'completed_event' then 'consumer_id, subconsumer_id, batch_id, event_id'
                                 else 'consumer_id, subconsumer_id' end;
            select conname into v_con from pg_catalog.pg_constraint
             where conrelid = ('pgq_ext.' || v_tbl)::regclass and contype = 'p';
            execute format('alter table pgq_ext.%I add column subconsumer_id text', v_tbl);
            execute format('update pgq_ext.%I set subconsumer_id = %L', v_tbl, '');
            execute format('alter table pgq_ext.%I alter column subconsumer_id set not null', v_tbl);
            if v_con is not null then
                execute format('alter table pgq_ext.%I drop constraint %I', v_tbl, v_con);
            end if;
            execute format('alter table pgq_ext.%I add primary key (%s)', v_tbl, v_keys);
            v_cnt := v_cnt + 1;
        end if;
        if not exists (select 1 from pg_catalog.pg_attrdef d
                         join pg_catalog.pg_attribute a on a.attrelid = d.adrelid and a.attnum = d.adnum
                        where d.adrelid = ('pgq_ext.' || v_tbl)::regclass and a.attname = 'subconsumer_id') then
            execute format('alter table pgq_ext.%I alter column subconsumer_id set default %L', v_tbl, '');
            v_cnt := v_cnt + 1;
        end if;
    end loop;
    return v_cnt;
end;
$$;

do $$ begin perform pgq_ext.upgrade_schema(); end $$;

------------------------------------------------------------------------
-- Functions
------------------------------------------------------------------------
-- Each has a full form taking the sub-consumer (SECURITY DEFINER) and a
-- short form for the consumer alone, which means sub-consumer ''.

create or replace function pgq_ext.version()
returns text language sql immutable as $$
    select '3.3'::text
$$;

-- Batches: the last batch applied to this database.

create or replace function pgq_ext.is_batch_done(a_consumer text, a_subconsumer text, a_batch_id bigint)
returns boolean language plpgsql security definer
set search_path = '' as $$
declare
    v_last bigint;
begin
    select last_batch_id into v_last
      from pgq_ext.completed_batch
     where consumer_id = a_consumer and subconsumer_id = a_subconsumer;
    if not found then
        return false;
    end if;
    return v_last = a_batch_id;
end;
$$;

create or replace function pgq_ext.is_batch_done(a_consumer text, a_batch_id bigint)
returns boolean language sql as $$
    select pgq_ext.is_batch_done($1, '', $2)
$$;

create or replace function pgq_ext.set_batch_done(a_consumer text, a_subconsumer text, a_batch_id bigint)
returns boolean language plpgsql security definer
set search_path = '' as $$
begin
    if pgq_ext.is_batch_done(a_consumer, a_subconsumer, a_batch_id) then
        return false;
    end if;
    if a_batch_id > 0 then
        insert into pgq_ext.completed_batch (consumer_id, subconsumer_id, last_batch_id)
        values (a_consumer, a_subconsumer, a_batch_id)
        on conflict (consumer_id, subconsumer_id) do update set last_batch_id = excluded.last_batch_id;
    end if;
    return true;
end;
$$;

create or replace function pgq_ext.set_batch_done(a_consumer text, a_batch_id bigint)
returns boolean language sql as $$
    select pgq_ext.set_batch_done($1, '', $2)
$$;

-- Ticks: the last tick applied to this database.

create or replace function pgq_ext.get_last_tick(a_consumer text, a_subconsumer text)
returns int8 language sql security definer
set search_path = '' as $$
    select last_tick_id from pgq_ext.completed_tick
     where consumer_id = a_consumer and subconsumer_id = a_subconsumer
$$;

create or replace function pgq_ext.get_last_tick(a_consumer text)
returns int8 language sql as $$
    select pgq_ext.get_last_tick($1, '')
$$;

create or replace function pgq_ext.set_last_tick(a_consumer text, a_subconsumer text, a_tick_id bigint)
returns integer language plpgsql security definer
set search_path = '' as $$
begin
    if a_tick_id is null then
        delete from pgq_ext.completed_tick
         where consumer_id = a_consumer and subconsumer_id = a_subconsumer;
    else
        insert into pgq_ext.completed_tick (consumer_id, subconsumer_id, last_tick_id)
        values (a_consumer, a_subconsumer, a_tick_id)
        on conflict (consumer_id, subconsumer_id) do update set last_tick_id = excluded.last_tick_id;
    end if;
    return 1;
end;
$$;

create or replace function pgq_ext.set_last_tick(a_consumer text, a_tick_id bigint)
returns integer language sql as $$
    select pgq_ext.set_last_tick($1, '', $2)
$$;

-- Events: the events of the current batch applied so far, for consumers
-- that commit within a batch.

create or replace function pgq_ext.is_event_done(a_consumer text, a_subconsumer text,
        a_batch_id bigint, a_event_id bigint)
returns boolean language sql security definer
set search_path = '' as $$
    select exists (select 1 from pgq_ext.completed_event
                    where consumer_id = a_consumer and subconsumer_id = a_subconsumer
                      and batch_id = a_batch_id and event_id = a_event_id)
$$;

create or replace function pgq_ext.is_event_done(a_consumer text, a_batch_id bigint, a_event_id bigint)
returns boolean language sql as $$
    select pgq_ext.is_event_done($1, '', $2, $3)
$$;

create or replace function pgq_ext.set_event_done(a_consumer text, a_subconsumer text,
        a_batch_id bigint, a_event_id bigint)
returns boolean language plpgsql security definer
set search_path = '' as $$
declare
    v_old bigint;
begin
    if pgq_ext.is_event_done(a_consumer, a_subconsumer, a_batch_id, a_event_id) then
        return false;
    end if;

    -- a new batch forgets the events of the previous one
    select cur_batch_id into v_old
      from pgq_ext.partial_batch
     where consumer_id = a_consumer and subconsumer_id = a_subconsumer
       for update;
    if not found then
        insert into pgq_ext.partial_batch (consumer_id, subconsumer_id, cur_batch_id)
        values (a_consumer, a_subconsumer, a_batch_id);
    elsif v_old <> a_batch_id then
        delete from pgq_ext.completed_event
         where consumer_id = a_consumer and subconsumer_id = a_subconsumer and batch_id = v_old;
        update pgq_ext.partial_batch set cur_batch_id = a_batch_id
         where consumer_id = a_consumer and subconsumer_id = a_subconsumer;
    end if;

    insert into pgq_ext.completed_event (consumer_id, subconsumer_id, batch_id, event_id)
    values (a_consumer, a_subconsumer, a_batch_id, a_event_id);
    return true;
end;
$$;

create or replace function pgq_ext.set_event_done(a_consumer text, a_batch_id bigint, a_event_id bigint)
returns boolean language sql as $$
    select pgq_ext.set_event_done($1, '', $2, $3)
$$;

------------------------------------------------------------------------
-- Grants
------------------------------------------------------------------------

grant usage on schema pgq_ext to public;
revoke all on table pgq_ext.completed_tick, pgq_ext.completed_batch,
                    pgq_ext.completed_event, pgq_ext.partial_batch from public;

do $grants$
declare
    r record;
begin
    for r in
        select p.oid::regprocedure::text as sig, p.proname
          from pg_catalog.pg_proc p
         where p.pronamespace = 'pgq_ext'::regnamespace
    loop
        execute 'revoke all on function ' || r.sig || ' from public, pgq_reader, pgq_writer, pgq_admin';
        execute 'grant execute on function ' || r.sig || ' to '
            || case when r.proname = 'version' then 'public' else 'pgq_writer' end;
    end loop;
end
$grants$;

commit;
