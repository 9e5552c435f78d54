-- PgQ queue engine in pure PL/pgSQL.
--
-- Install or upgrade in place:
--     psql -v ON_ERROR_STOP=1 -d DBNAME -f sql/pgq.sql
--
-- Implements the SQL interface of pgq 3.5 (tables, functions, grants) without
-- any C code.  Re-running the file keeps every queue, event, tick,
-- subscription and retry row.  See sql/README.md for the differences from
-- the original.

begin;

set local client_min_messages = warning;

-- The roles must exist or be creatable before anything is created, so that a
-- failed install leaves no half-built schema behind.
do $install_check$
declare
    v_missing text;
    v_can_create bool;
begin
    if exists (select 1 from pg_catalog.pg_extension where extname = 'pgq') then
        raise exception 'pgq is installed as an extension in this database; drop the extension before installing the plain-SQL engine';
    end if;

    select string_agg(r, ', ') into v_missing
      from unnest(array['pgq_reader', 'pgq_writer', 'pgq_admin']) r
     where not exists (select 1 from pg_catalog.pg_roles where rolname = r);

    if v_missing is not null then
        select rolsuper or rolcreaterole into v_can_create
          from pg_catalog.pg_roles where rolname = current_user;
        if not coalesce(v_can_create, false) then
            raise exception 'pgq install: roles % do not exist and user "%" cannot create them', v_missing, current_user
                using hint = 'Create roles pgq_reader and pgq_writer (NOLOGIN) and pgq_admin (NOLOGIN IN ROLE pgq_reader, pgq_writer) as a superuser, or install as a user with CREATEROLE.';
        end if;
    end if;
end
$install_check$;

------------------------------------------------------------------------
-- Tables
------------------------------------------------------------------------

create schema if not exists pgq;

create table if not exists pgq.consumer (
    co_id       serial,
    co_name     text        not null,
    constraint consumer_pkey primary key (co_id),
    constraint consumer_name_uq unique (co_name)
);

create table if not exists pgq.queue (
    queue_id                    serial,
    queue_name                  text        not null,
    queue_ntables               integer     not null default 3,
    queue_cur_table             integer     not null default 0,
    queue_rotation_period       interval    not null default '2 hours',
    queue_switch_step1          bigint      not null default txid_current(),
    queue_switch_step2          bigint               default txid_current(),
    queue_switch_time           timestamptz not null default now(),
    queue_external_ticker       boolean     not null default false,
    queue_disable_insert        boolean     not null default false,
    queue_ticker_paused         boolean     not null default false,
    queue_ticker_max_count      integer     not null default 500,
    queue_ticker_max_lag        interval    not null default '3 seconds',
    queue_ticker_idle_period    interval    not null default '1 minute',
    queue_per_tx_limit          integer,
    queue_data_pfx              text        not null,
    queue_event_seq             text        not null,
    queue_tick_seq              text        not null,
    queue_extra_maint           text[],
    constraint queue_pkey primary key (queue_id),
    constraint queue_name_uq unique (queue_name)
);

-- Columns that older pgq versions lack.
alter table pgq.queue add column if not exists queue_disable_insert boolean not null default false;
alter table pgq.queue add column if not exists queue_ticker_paused boolean not null default false;
alter table pgq.queue add column if not exists queue_per_tx_limit integer;

create table if not exists pgq.tick (
    tick_queue          int4            not null,
    tick_id             bigint          not null,
    tick_time           timestamptz     not null default now(),
    tick_snapshot       txid_snapshot   not null default txid_current_snapshot(),
    tick_event_seq      bigint          not null,
    constraint tick_pkey primary key (tick_queue, tick_id),
    constraint tick_queue_fkey foreign key (tick_queue) references pgq.queue (queue_id)
);

create sequence if not exists pgq.batch_id_seq;

create table if not exists pgq.subscription (
    sub_id          serial      not null,
    sub_queue       int4        not null,
    sub_consumer    int4        not null,
    sub_last_tick   bigint,
    sub_active      timestamptz not null default now(),
    sub_batch       bigint,
    sub_next_tick   bigint,
    constraint subscription_pkey primary key (sub_queue, sub_consumer),
    constraint subscription_batch_idx unique (sub_batch),
    constraint sub_queue_fkey foreign key (sub_queue) references pgq.queue (queue_id),
    constraint sub_consumer_fkey foreign key (sub_consumer) references pgq.consumer (co_id)
);

create table if not exists pgq.event_template (
    ev_id       bigint          not null,
    ev_time     timestamptz     not null,
    ev_txid     bigint          not null default txid_current(),
    ev_owner    int4,
    ev_retry    int4,
    ev_type     text,
    ev_data     text,
    ev_extra1   text,
    ev_extra2   text,
    ev_extra3   text,
    ev_extra4   text
);

create table if not exists pgq.retry_queue (
    ev_retry_after  timestamptz not null,
    ev_queue        int4        not null,
    like pgq.event_template,
    constraint rq_pkey primary key (ev_owner, ev_id),
    constraint rq_queue_id_fkey foreign key (ev_queue) references pgq.queue (queue_id)
);
alter table pgq.retry_queue alter column ev_owner set not null;
alter table pgq.retry_queue alter column ev_txid drop not null;
create index if not exists rq_retry_idx on pgq.retry_queue (ev_retry_after);

------------------------------------------------------------------------
-- Functions whose signature changed between versions are dropped first,
-- CREATE OR REPLACE cannot change a result type or parameter names.
------------------------------------------------------------------------

do $drop_changed$
declare
    r record;
begin
    for r in
        select p.oid::regprocedure::text as sig
          from (values
            -- (signature, arguments with names and defaults, result)
            ('pgq._check_insert(integer,text,boolean,integer,bigint)', 'i_queue_id integer, i_queue_name text, i_disable boolean, i_limit integer, i_count bigint', 'void'),
            ('pgq._gen_tree(integer[],text[],integer,integer,text)', 'i_ids integer[], i_bodies text[], i_lo integer, i_hi integer, i_indent text', 'text'),
            ('pgq._grant_perms_from(text,text,text,text)', 'src_schema text, src_table text, dst_schema text, dst_table text', 'integer'),
            ('pgq._insert_bulk_core(integer,integer,text[],text[],text[],text[],text[],text[])', 'i_queue_id integer, i_cur_table integer, i_types text[], i_datas text[], i_e1 text[], i_e2 text[], i_e3 text[], i_e4 text[]', 'bigint'),
            ('pgq._insert_bulk_dyn(integer,integer,text[],text[],text[],text[],text[],text[])', 'i_queue_id integer, i_cur_table integer, i_types text[], i_datas text[], i_e1 text[], i_e2 text[], i_e3 text[], i_e4 text[]', 'bigint'),
            ('pgq._insert_event_core(integer,integer,text,boolean,integer,bigint,timestamp with time zone,integer,integer,text,text,text,text,text,text)', 'i_queue_id integer, i_cur_table integer, i_queue_name text, i_disable boolean, i_limit integer, i_ev_id bigint, i_ev_time timestamp with time zone, i_ev_owner integer, i_ev_retry integer, i_ev_type text, i_ev_data text, i_ev_extra1 text, i_ev_extra2 text, i_ev_extra3 text, i_ev_extra4 text', 'bigint'),
            ('pgq._insert_event_dyn(integer,integer,text,boolean,integer,bigint,timestamp with time zone,integer,integer,text,text,text,text,text,text)', 'i_queue_id integer, i_cur_table integer, i_queue_name text, i_disable boolean, i_limit integer, i_ev_id bigint, i_ev_time timestamp with time zone, i_ev_owner integer, i_ev_retry integer, i_ev_type text, i_ev_data text, i_ev_extra1 text, i_ev_extra2 text, i_ev_extra3 text, i_ev_extra4 text', 'bigint'),
            ('pgq._queue_seqs()', 'OUT queue_id integer, OUT event_seq regclass, OUT seq_start bigint', 'SETOF record'),
            ('pgq._regen_dispatch()', '', 'integer'),
            ('pgq._seq_last(regclass)', 'i_seq regclass', 'bigint'),
            ('pgq._unticked_events(integer,txid_snapshot)', 'i_queue_id integer, i_snap txid_snapshot', 'boolean'),
            ('pgq._unticked_events_nowait(integer,txid_snapshot)', 'i_queue_id integer, i_snap txid_snapshot', 'boolean'),
            ('pgq._unticked_events_dyn(integer,integer,bigint,bigint[])', 'i_queue_id integer, i_table integer, i_xmax bigint, i_xip bigint[]', 'boolean'),
            ('pgq._unticked_events_in(integer,integer,bigint,bigint[])', 'i_queue_id integer, i_table integer, i_xmax bigint, i_xip bigint[]', 'boolean'),
            ('pgq.batch_event_sql(bigint)', 'x_batch_id bigint', 'text'),
            ('pgq.batch_event_tables(bigint)', 'x_batch_id bigint', 'SETOF text'),
            ('pgq.batch_retry(bigint,integer)', 'i_batch_id bigint, i_retry_seconds integer', 'integer'),
            ('pgq.create_queue(text)', 'i_queue_name text', 'integer'),
            ('pgq.current_event_table(text)', 'x_queue_name text', 'text'),
            ('pgq.drop_queue(text)', 'x_queue_name text', 'integer'),
            ('pgq.drop_queue(text,boolean)', 'x_queue_name text, x_force boolean', 'integer'),
            ('pgq.engine_version()', '', 'text'),
            ('pgq.event_retry(bigint,bigint,integer)', 'x_batch_id bigint, x_event_id bigint, x_retry_seconds integer', 'integer'),
            ('pgq.event_retry(bigint,bigint,timestamp with time zone)', 'x_batch_id bigint, x_event_id bigint, x_retry_time timestamp with time zone', 'integer'),
            ('pgq.event_retry_raw(text,text,timestamp with time zone,bigint,timestamp with time zone,integer,text,text,text,text,text,text)', 'x_queue text, x_consumer text, x_retry_after timestamp with time zone, x_ev_id bigint, x_ev_time timestamp with time zone, x_ev_retry integer, x_ev_type text, x_ev_data text, x_ev_extra1 text, x_ev_extra2 text, x_ev_extra3 text, x_ev_extra4 text', 'bigint'),
            ('pgq.find_tick_helper(integer,bigint,timestamp with time zone,bigint,bigint,interval)', 'i_queue_id integer, i_prev_tick_id bigint, i_prev_tick_time timestamp with time zone, i_prev_tick_seq bigint, i_min_count bigint, i_min_interval interval, OUT next_tick_id bigint, OUT next_tick_time timestamp with time zone, OUT next_tick_seq bigint', 'record'),
            ('pgq.finish_batch(bigint)', 'x_batch_id bigint', 'integer'),
            ('pgq.force_tick(text)', 'i_queue_name text', 'bigint'),
            ('pgq.get_batch_cursor(bigint,text,integer)', 'i_batch_id bigint, i_cursor_name text, i_quick_limit integer, OUT ev_id bigint, OUT ev_time timestamp with time zone, OUT ev_txid bigint, OUT ev_retry integer, OUT ev_type text, OUT ev_data text, OUT ev_extra1 text, OUT ev_extra2 text, OUT ev_extra3 text, OUT ev_extra4 text', 'SETOF record'),
            ('pgq.get_batch_cursor(bigint,text,integer,text)', 'i_batch_id bigint, i_cursor_name text, i_quick_limit integer, i_extra_where text, OUT ev_id bigint, OUT ev_time timestamp with time zone, OUT ev_txid bigint, OUT ev_retry integer, OUT ev_type text, OUT ev_data text, OUT ev_extra1 text, OUT ev_extra2 text, OUT ev_extra3 text, OUT ev_extra4 text', 'SETOF record'),
            ('pgq.get_batch_events(bigint)', 'x_batch_id bigint, OUT ev_id bigint, OUT ev_time timestamp with time zone, OUT ev_txid bigint, OUT ev_retry integer, OUT ev_type text, OUT ev_data text, OUT ev_extra1 text, OUT ev_extra2 text, OUT ev_extra3 text, OUT ev_extra4 text', 'SETOF record'),
            ('pgq.get_batch_info(bigint)', 'x_batch_id bigint, OUT queue_name text, OUT consumer_name text, OUT batch_start timestamp with time zone, OUT batch_end timestamp with time zone, OUT prev_tick_id bigint, OUT tick_id bigint, OUT lag interval, OUT seq_start bigint, OUT seq_end bigint', 'record'),
            ('pgq.get_consumer_info()', 'OUT queue_name text, OUT consumer_name text, OUT lag interval, OUT last_seen interval, OUT last_tick bigint, OUT current_batch bigint, OUT next_tick bigint, OUT pending_events bigint', 'SETOF record'),
            ('pgq.get_consumer_info(text)', 'i_queue_name text, OUT queue_name text, OUT consumer_name text, OUT lag interval, OUT last_seen interval, OUT last_tick bigint, OUT current_batch bigint, OUT next_tick bigint, OUT pending_events bigint', 'SETOF record'),
            ('pgq.get_consumer_info(text,text)', 'i_queue_name text, i_consumer_name text, OUT queue_name text, OUT consumer_name text, OUT lag interval, OUT last_seen interval, OUT last_tick bigint, OUT current_batch bigint, OUT next_tick bigint, OUT pending_events bigint', 'SETOF record'),
            ('pgq.get_queue_info()', 'OUT queue_name text, OUT queue_ntables integer, OUT queue_cur_table integer, OUT queue_rotation_period interval, OUT queue_switch_time timestamp with time zone, OUT queue_external_ticker boolean, OUT queue_ticker_paused boolean, OUT queue_ticker_max_count integer, OUT queue_ticker_max_lag interval, OUT queue_ticker_idle_period interval, OUT ticker_lag interval, OUT ev_per_sec double precision, OUT ev_new bigint, OUT last_tick_id bigint', 'SETOF record'),
            ('pgq.get_queue_info(text)', 'i_queue_name text, OUT queue_name text, OUT queue_ntables integer, OUT queue_cur_table integer, OUT queue_rotation_period interval, OUT queue_switch_time timestamp with time zone, OUT queue_external_ticker boolean, OUT queue_ticker_paused boolean, OUT queue_ticker_max_count integer, OUT queue_ticker_max_lag interval, OUT queue_ticker_idle_period interval, OUT ticker_lag interval, OUT ev_per_sec double precision, OUT ev_new bigint, OUT last_tick_id bigint', 'SETOF record'),
            ('pgq.grant_perms(text)', 'x_queue_name text', 'integer'),
            ('pgq.insert_event(text,text,text)', 'queue_name text, ev_type text, ev_data text', 'bigint'),
            ('pgq.insert_event(text,text,text,text,text,text,text)', 'queue_name text, ev_type text, ev_data text, ev_extra1 text, ev_extra2 text, ev_extra3 text, ev_extra4 text', 'bigint'),
            ('pgq.insert_event_bulk(text,text[],text[],text[],text[],text[],text[])', 'queue_name text, ev_types text[], ev_datas text[], ev_extra1s text[] DEFAULT NULL::text[], ev_extra2s text[] DEFAULT NULL::text[], ev_extra3s text[] DEFAULT NULL::text[], ev_extra4s text[] DEFAULT NULL::text[]', 'bigint'),
            ('pgq.insert_event_raw(text,bigint,timestamp with time zone,integer,integer,text,text,text,text,text,text)', 'queue_name text, ev_id bigint, ev_time timestamp with time zone, ev_owner integer, ev_retry integer, ev_type text, ev_data text, ev_extra1 text, ev_extra2 text, ev_extra3 text, ev_extra4 text', 'bigint'),
            ('pgq.maint_operations()', 'OUT func_name text, OUT func_arg text', 'SETOF record'),
            ('pgq.maint_retry_events()', '', 'integer'),
            ('pgq.maint_rotate_tables_step1(text)', 'i_queue_name text', 'integer'),
            ('pgq.maint_rotate_tables_step2()', '', 'integer'),
            ('pgq.maint_tables_to_vacuum()', '', 'SETOF text'),
            ('pgq.next_batch(text,text)', 'i_queue_name text, i_consumer_name text', 'bigint'),
            ('pgq.next_batch_custom(text,text,interval,integer,interval)', 'i_queue_name text, i_consumer_name text, i_min_lag interval, i_min_count integer, i_min_interval interval, OUT batch_id bigint, OUT cur_tick_id bigint, OUT prev_tick_id bigint, OUT cur_tick_time timestamp with time zone, OUT prev_tick_time timestamp with time zone, OUT cur_tick_event_seq bigint, OUT prev_tick_event_seq bigint', 'record'),
            ('pgq.next_batch_info(text,text)', 'i_queue_name text, i_consumer_name text, OUT batch_id bigint, OUT cur_tick_id bigint, OUT prev_tick_id bigint, OUT cur_tick_time timestamp with time zone, OUT prev_tick_time timestamp with time zone, OUT cur_tick_event_seq bigint, OUT prev_tick_event_seq bigint', 'record'),
            ('pgq.quote_fqname(text)', 'i_name text', 'text'),
            ('pgq.register_consumer(text,text)', 'x_queue_name text, x_consumer_id text', 'integer'),
            ('pgq.register_consumer_at(text,text,bigint)', 'x_queue_name text, x_consumer_name text, x_tick_pos bigint', 'integer'),
            ('pgq.seq_getval(text)', 'i_seq_name text', 'bigint'),
            ('pgq.seq_setval(text,bigint)', 'i_seq_name text, i_new_value bigint', 'bigint'),
            ('pgq.set_queue_config(text,text,text)', 'x_queue_name text, x_param_name text, x_param_value text', 'integer'),
            ('pgq.ticker()', '', 'bigint'),
            ('pgq.ticker(text)', 'i_queue_name text', 'bigint'),
            ('pgq.ticker(text,bigint,timestamp with time zone,bigint)', 'i_queue_name text, i_tick_id bigint, i_orig_timestamp timestamp with time zone, i_event_seq bigint', 'bigint'),
            ('pgq.ticker_schedule()', 'OUT queue_name text, OUT due_in double precision, OUT new_events bigint', 'SETOF record'),
            ('pgq.tune_storage(text)', 'i_queue_name text', 'integer'),
            ('pgq.unregister_consumer(text,text)', 'x_queue_name text, x_consumer_name text', 'integer'),
            ('pgq.upgrade_schema()', '', 'integer'),
            ('pgq.version()', '', 'text')
               ) as want(sig, args, res)
          join pg_catalog.pg_proc p on (p.oid = to_regprocedure(want.sig))
         where pg_catalog.pg_get_function_arguments(p.oid) <> want.args
            or pg_catalog.pg_get_function_result(p.oid) <> want.res
    loop
        execute 'drop function ' || r.sig;
    end loop;
end
$drop_changed$;

------------------------------------------------------------------------
-- Utilities
------------------------------------------------------------------------

create or replace function pgq.version()
returns text language sql immutable as $$
    -- The C daemon requires the first character to be >= '3'.
    select '3.5.2'::text
$$;

create or replace function pgq.engine_version()
returns text language sql immutable as $$
    select 'pgqd-sql 0.1.0'::text
$$;

create or replace function pgq.quote_fqname(i_name text)
returns text language plpgsql strict immutable as $$
declare
    v_pos int4;
begin
    v_pos := strpos(i_name, '.');
    if v_pos > 0 then
        return quote_ident(substr(i_name, 1, v_pos - 1)) || '.' || quote_ident(substr(i_name, v_pos + 1));
    end if;
    return 'public.' || quote_ident(i_name);
end;
$$;

create or replace function pgq.seq_getval(i_seq_name text)
returns bigint language plpgsql strict as $$
declare
    v_seq regclass;
    v_val bigint;
begin
    v_seq := pgq.quote_fqname(i_seq_name)::regclass;
    -- pg_sequence_last_value() is NULL only before the first nextval; the
    -- fallback is a plain read of last_value.
    v_val := pg_catalog.pg_sequence_last_value(v_seq);
    if v_val is null then
        execute 'select last_value from ' || v_seq::text into v_val;
    end if;
    return v_val;
end;
$$;

-- Cheap last_value for the ticker: sequences created by pgq are only ever
-- advanced, so a sequence without a value yet is at its start value.
create or replace function pgq._seq_last(i_seq regclass)
returns bigint language plpgsql as $$
declare
    v_val bigint;
begin
    v_val := pg_catalog.pg_sequence_last_value(i_seq);
    if v_val is null then
        select s.seqstart into v_val from pg_catalog.pg_sequence s where s.seqrelid = i_seq;
    end if;
    return v_val;
end;
$$;

create or replace function pgq.seq_setval(i_seq_name text, i_new_value int8)
returns bigint language plpgsql strict as $$
declare
    v_fq text;
    v_cur bigint;
begin
    v_fq := pgq.quote_fqname(i_seq_name);
    v_cur := pgq.seq_getval(i_seq_name);
    if v_cur >= i_new_value then
        return v_cur;
    end if;
    perform pg_catalog.setval(v_fq::regclass, i_new_value);
    return i_new_value;
end;
$$;

------------------------------------------------------------------------
-- Schema upgrade (also creates the roles)
------------------------------------------------------------------------

create or replace function pgq.upgrade_schema()
returns int4 language plpgsql as $$
begin
    -- coop sub-consumers have no last tick
    if exists (select 1 from pg_catalog.pg_attribute
                where attrelid = 'pgq.subscription'::regclass
                  and attname = 'sub_last_tick' and attnotnull) then
        alter table pgq.subscription alter column sub_last_tick drop not null;
    end if;

    if not exists (select 1 from pg_catalog.pg_roles where rolname = 'pgq_reader') then
        create role pgq_reader nologin;
    end if;
    if not exists (select 1 from pg_catalog.pg_roles where rolname = 'pgq_writer') then
        create role pgq_writer nologin;
    end if;
    if not exists (select 1 from pg_catalog.pg_roles where rolname = 'pgq_admin') then
        create role pgq_admin nologin in role pgq_reader, pgq_writer;
    end if;

    if not exists (select 1 from pg_catalog.pg_attribute
                    where attrelid = 'pgq.queue'::regclass
                      and attname = 'queue_extra_maint' and not attisdropped) then
        alter table pgq.queue add column queue_extra_maint text[];
    end if;
    return 0;
end;
$$;

do $$ begin perform pgq.upgrade_schema(); end $$;

------------------------------------------------------------------------
-- Internal: per-queue static SQL
--
-- EXECUTE plans its statement on every call.  The three functions below are
-- generated by pgq._regen_dispatch() with one static statement per event
-- table, so PL/pgSQL keeps their plans.  They branch on (queue_id,
-- cur_table), so rotation does not require regeneration; create_queue and
-- drop_queue regenerate them.  A queue missing from the generated code (for
-- example one created by an older version) takes the dynamic path.
------------------------------------------------------------------------

-- Checks shared by every insert path, run after the event id is consumed.
create or replace function pgq._check_insert(i_queue_id int4, i_queue_name text,
        i_disable bool, i_limit int4, i_count int8)
returns void language plpgsql as $$
declare
    v_key text;
    v_txid text;
    v_val text;
    v_cnt int8;
begin
    if i_disable and current_setting('session_replication_role') <> 'replica' then
        raise exception 'Insert into queue disallowed';
    end if;
    if i_limit is not null then
        -- Transaction-local counter: the setting resets at transaction end,
        -- the txid guards against a value set with is_local = false.
        v_key := 'pgq.tx_events_' || i_queue_id::text;
        v_txid := txid_current()::text;
        v_val := current_setting(v_key, true);
        if v_val is not null and split_part(v_val, ':', 1) = v_txid then
            v_cnt := split_part(v_val, ':', 2)::int8 + i_count;
        else
            v_cnt := i_count;
        end if;
        if v_cnt > i_limit then
            raise exception 'Queue ''%'' allows max % events from one TX', i_queue_name, i_limit;
        end if;
        perform set_config(v_key, v_txid || ':' || v_cnt::text, true);
    end if;
end;
$$;

-- Dynamic fallbacks used by the generated functions.
create or replace function pgq._insert_event_dyn(i_queue_id int4, i_cur_table int4,
        i_queue_name text, i_disable bool, i_limit int4,
        i_ev_id int8, i_ev_time timestamptz, i_ev_owner int4, i_ev_retry int4,
        i_ev_type text, i_ev_data text,
        i_ev_extra1 text, i_ev_extra2 text, i_ev_extra3 text, i_ev_extra4 text)
returns int8 language plpgsql as $$
declare
    v_pfx text;
    v_seq text;
    v_id int8;
begin
    select queue_data_pfx, queue_event_seq into v_pfx, v_seq
      from pgq.queue where queue_id = i_queue_id;
    v_id := nextval(pgq.quote_fqname(v_seq)::regclass);
    if i_disable or i_limit is not null then
        perform pgq._check_insert(i_queue_id, i_queue_name, i_disable, i_limit, 1);
    end if;
    execute 'insert into ' || pgq.quote_fqname(v_pfx || '_' || i_cur_table::text)
        || ' (ev_id, ev_time, ev_owner, ev_retry, ev_type, ev_data, ev_extra1, ev_extra2, ev_extra3, ev_extra4)'
        || ' values ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)'
        using coalesce(i_ev_id, v_id), coalesce(i_ev_time, now()), i_ev_owner, i_ev_retry,
              i_ev_type, i_ev_data, i_ev_extra1, i_ev_extra2, i_ev_extra3, i_ev_extra4;
    return coalesce(i_ev_id, v_id);
end;
$$;

create or replace function pgq._insert_bulk_dyn(i_queue_id int4, i_cur_table int4,
        i_types text[], i_datas text[], i_e1 text[], i_e2 text[], i_e3 text[], i_e4 text[])
returns int8 language plpgsql as $$
declare
    v_pfx text;
    v_cnt int8;
begin
    select queue_data_pfx into v_pfx from pgq.queue where queue_id = i_queue_id;
    execute 'insert into ' || pgq.quote_fqname(v_pfx || '_' || i_cur_table::text)
        || ' (ev_time, ev_type, ev_data, ev_extra1, ev_extra2, ev_extra3, ev_extra4)'
        || ' select now(), t, d, e1, e2, e3, e4 from unnest($1, $2, $3, $4, $5, $6) as u(t, d, e1, e2, e3, e4)'
        using i_types, i_datas, i_e1, i_e2, i_e3, i_e4;
    get diagnostics v_cnt = row_count;
    return v_cnt;
end;
$$;

create or replace function pgq._unticked_events_dyn(i_queue_id int4, i_table int4, i_xmax int8, i_xip int8[])
returns bool language plpgsql as $$
declare
    v_pfx text;
    v_tbl text;
    v_res bool;
begin
    select queue_data_pfx into v_pfx from pgq.queue where queue_id = i_queue_id;
    if v_pfx is null then
        return false;
    end if;
    v_tbl := pgq.quote_fqname(v_pfx || '_' || i_table::text);
    execute 'select exists (select 1 from ' || v_tbl || ' where ev_txid >= $1)'
        || ' or exists (select 1 from ' || v_tbl || ' where ev_txid = any ($2))'
        into v_res using i_xmax, i_xip;
    return v_res;
end;
$$;

-- Whether events committed after the snapshot of a queue's last tick exist:
-- their transactions were running when the tick was taken.  Only the
-- current table is read, plus the previous one while a rotation may still
-- have writers on it.
create or replace function pgq._unticked_events(i_queue_id int4, i_snap txid_snapshot)
returns bool language plpgsql as $$
declare
    q record;
    v_xmax int8;
    v_xip int8[];
    v_key text;
    v_memo text;
begin
    -- A negative answer holds until some transaction ends: remember it for
    -- this session together with the snapshot it was computed under.
    v_key := 'pgq.unticked_' || i_queue_id::text;
    v_memo := i_snap::text || '/' || txid_current_snapshot()::text;
    if current_setting(v_key, true) = v_memo then
        return false;
    end if;
    select queue_cur_table, queue_ntables, queue_switch_step2 into q
      from pgq.queue where queue_id = i_queue_id;
    v_xmax := txid_snapshot_xmax(i_snap);
    if txid_snapshot_xmin(i_snap) < v_xmax then
        v_xip := array(select txid_snapshot_xip(i_snap));
    end if;
    if pgq._unticked_events_in(i_queue_id, q.queue_cur_table, v_xmax, v_xip) then
        return true;
    end if;
    if q.queue_switch_step2 is null or txid_snapshot_xmin(i_snap) <= q.queue_switch_step2 then
        if pgq._unticked_events_in(i_queue_id,
                (q.queue_cur_table + q.queue_ntables - 1) % q.queue_ntables, v_xmax, v_xip) then
            return true;
        end if;
    end if;
    perform set_config(v_key, v_memo, false);
    return false;
end;
$$;

-- The ticker's probe for late commits must never make ticking wait: when an
-- event table is locked exclusively (a TRUNCATE queued behind a long reader,
-- an explicit LOCK, a rewrite), give up at once and tick by the sequence
-- alone, as the C ticker always does.
create or replace function pgq._unticked_events_nowait(i_queue_id int4, i_snap txid_snapshot)
returns bool language plpgsql
set lock_timeout = '10ms' as $$
begin
    return pgq._unticked_events(i_queue_id, i_snap);
exception when lock_not_available then
    return false;
end;
$$;

-- Builds a binary decision tree over sorted queue ids; %ID% and %BODY% name
-- the queue and its statements.
create or replace function pgq._gen_tree(i_ids int4[], i_bodies text[], i_lo int4, i_hi int4, i_indent text)
returns text language plpgsql immutable as $$
declare
    v_mid int4;
begin
    if i_lo > i_hi then
        return '';
    end if;
    if i_lo = i_hi then
        return i_indent || 'if i_queue_id = ' || i_ids[i_lo]::text || ' then' || E'\n'
            || i_bodies[i_lo]
            || i_indent || 'end if;' || E'\n';
    end if;
    v_mid := (i_lo + i_hi + 1) / 2;
    return i_indent || 'if i_queue_id < ' || i_ids[v_mid]::text || ' then' || E'\n'
        || pgq._gen_tree(i_ids, i_bodies, i_lo, v_mid - 1, i_indent || '    ')
        || i_indent || 'else' || E'\n'
        || pgq._gen_tree(i_ids, i_bodies, v_mid, i_hi, i_indent || '    ')
        || i_indent || 'end if;' || E'\n';
end;
$$;

create or replace function pgq._regen_dispatch()
returns int4 language plpgsql as $$
declare
    q record;
    v_ids int4[] := '{}';
    v_ins text[] := '{}';
    v_bulk text[] := '{}';
    v_probe text[] := '{}';
    v_seqs text := '';
    v_b1 text;
    v_b2 text;
    v_tbl text;
    v_n int4;
    v_ind text := '            ';
begin
    for q in
        select queue_id, queue_ntables, queue_data_pfx, queue_event_seq
          from pgq.queue order by queue_id
    loop
        -- skip queues whose tables are missing; they take the dynamic path
        continue when to_regclass(pgq.quote_fqname(q.queue_data_pfx)) is null
                   or to_regclass(pgq.quote_fqname(q.queue_event_seq)) is null;
        v_b1 := v_ind || 'v_id := nextval(' || quote_literal(pgq.quote_fqname(q.queue_event_seq)) || '::regclass);' || E'\n'
            || v_ind || 'if i_disable or i_limit is not null then' || E'\n'
            || v_ind || '    perform pgq._check_insert(i_queue_id, i_queue_name, i_disable, i_limit, 1);' || E'\n'
            || v_ind || 'end if;' || E'\n';
        v_b2 := '';
        for v_n in 0 .. q.queue_ntables - 1 loop
            v_tbl := pgq.quote_fqname(q.queue_data_pfx || '_' || v_n::text);
            v_b1 := v_b1 || v_ind || case when v_n = 0 then 'if' else 'elsif' end
                || ' i_cur_table = ' || v_n::text || ' then' || E'\n'
                || v_ind || '    insert into ' || v_tbl
                || ' (ev_id, ev_time, ev_owner, ev_retry, ev_type, ev_data, ev_extra1, ev_extra2, ev_extra3, ev_extra4)'
                || ' values (coalesce(i_ev_id, v_id), coalesce(i_ev_time, now()), i_ev_owner, i_ev_retry,'
                || ' i_ev_type, i_ev_data, i_ev_extra1, i_ev_extra2, i_ev_extra3, i_ev_extra4);' || E'\n'
                || v_ind || '    return coalesce(i_ev_id, v_id);' || E'\n';
            v_b2 := v_b2 || v_ind || case when v_n = 0 then 'if' else 'elsif' end
                || ' i_cur_table = ' || v_n::text || ' then' || E'\n'
                || v_ind || '    insert into ' || v_tbl
                || ' (ev_time, ev_type, ev_data, ev_extra1, ev_extra2, ev_extra3, ev_extra4)'
                || ' select now(), t, d, e1, e2, e3, e4 from unnest(i_types, i_datas, i_e1, i_e2, i_e3, i_e4) as u(t, d, e1, e2, e3, e4);' || E'\n'
                || v_ind || '    get diagnostics v_cnt = row_count;' || E'\n'
                || v_ind || '    return v_cnt;' || E'\n';
        end loop;
        v_b1 := v_b1 || v_ind || 'end if;' || E'\n';
        v_b2 := v_b2 || v_ind || 'end if;' || E'\n';
        v_seqs := v_seqs || case when v_seqs = '' then '' else E',\n' end
            || '        (' || q.queue_id::text || ', ' || quote_literal(pgq.quote_fqname(q.queue_event_seq)) || '::regclass, '
            || coalesce((select sq.seqstart from pg_catalog.pg_sequence sq
                          where sq.seqrelid = pgq.quote_fqname(q.queue_event_seq)::regclass), 1)::text
            || '::int8)';
        v_ids := v_ids || q.queue_id;
        v_ins := v_ins || v_b1;
        v_bulk := v_bulk || v_b2;
        v_b1 := '';
        for v_n in 0 .. q.queue_ntables - 1 loop
            v_tbl := pgq.quote_fqname(q.queue_data_pfx || '_' || v_n::text);
            v_b1 := v_b1 || v_ind || case when v_n = 0 then 'if' else 'elsif' end
                || ' i_table = ' || v_n::text || ' then' || E'\n'
                || v_ind || '    return exists (select 1 from ' || v_tbl || ' where ev_txid >= i_xmax)' || E'\n'
                || v_ind || '        or (i_xip is not null and exists (select 1 from ' || v_tbl
                || ' where ev_txid = any (i_xip)));' || E'\n';
        end loop;
        v_probe := v_probe || (v_b1 || v_ind || 'end if;' || E'\n');
    end loop;

    execute $f$
create or replace function pgq._insert_event_core(i_queue_id int4, i_cur_table int4,
        i_queue_name text, i_disable bool, i_limit int4,
        i_ev_id int8, i_ev_time timestamptz, i_ev_owner int4, i_ev_retry int4,
        i_ev_type text, i_ev_data text,
        i_ev_extra1 text, i_ev_extra2 text, i_ev_extra3 text, i_ev_extra4 text)
returns int8 language plpgsql as $body$
-- generated by pgq._regen_dispatch()
declare
    v_id int8;
begin
$f$ || pgq._gen_tree(v_ids, v_ins, 1, coalesce(array_length(v_ids, 1), 0), '    ') || $f$
    return pgq._insert_event_dyn(i_queue_id, i_cur_table, i_queue_name, i_disable, i_limit,
        i_ev_id, i_ev_time, i_ev_owner, i_ev_retry, i_ev_type, i_ev_data,
        i_ev_extra1, i_ev_extra2, i_ev_extra3, i_ev_extra4);
end;
$body$
$f$;

    execute $f$
create or replace function pgq._insert_bulk_core(i_queue_id int4, i_cur_table int4,
        i_types text[], i_datas text[], i_e1 text[], i_e2 text[], i_e3 text[], i_e4 text[])
returns int8 language plpgsql as $body$
-- generated by pgq._regen_dispatch()
declare
    v_cnt int8;
begin
$f$ || pgq._gen_tree(v_ids, v_bulk, 1, coalesce(array_length(v_ids, 1), 0), '    ') || $f$
    return pgq._insert_bulk_dyn(i_queue_id, i_cur_table, i_types, i_datas, i_e1, i_e2, i_e3, i_e4);
end;
$body$
$f$;

    execute $f$
create or replace function pgq._unticked_events_in(i_queue_id int4, i_table int4, i_xmax int8, i_xip int8[])
returns bool language plpgsql as $body$
-- generated by pgq._regen_dispatch()
begin
$f$ || pgq._gen_tree(v_ids, v_probe, 1, coalesce(array_length(v_ids, 1), 0), '    ') || $f$
    return pgq._unticked_events_dyn(i_queue_id, i_table, i_xmax, i_xip);
end;
$body$
$f$;

    execute $f$
create or replace function pgq._queue_seqs(out queue_id int4, out event_seq regclass, out seq_start int8)
returns setof record language plpgsql as $body$
-- generated by pgq._regen_dispatch()
begin
$f$ || case when v_seqs = '' then '' else '    return query values' || E'\n' || v_seqs || E';\n' end || $f$
end;
$body$
$f$;

    revoke all on function pgq._insert_event_core(int4, int4, text, bool, int4, int8, timestamptz,
        int4, int4, text, text, text, text, text, text) from public;
    revoke all on function pgq._insert_bulk_core(int4, int4, text[], text[], text[], text[], text[], text[]) from public;
    revoke all on function pgq._unticked_events_in(int4, int4, int8, int8[]) from public;
    grant execute on function pgq._insert_event_core(int4, int4, text, bool, int4, int8, timestamptz,
        int4, int4, text, text, text, text, text, text) to pgq_admin;
    grant execute on function pgq._unticked_events_in(int4, int4, int8, int8[]) to pgq_admin;
    return coalesce(array_length(v_ids, 1), 0);
end;
$$;

do $$ begin perform pgq._regen_dispatch(); end $$;

------------------------------------------------------------------------
-- Permissions
------------------------------------------------------------------------


create or replace function pgq._grant_perms_from(src_schema text, src_table text, dst_schema text, dst_table text)
returns integer language plpgsql strict as $$
declare
    r record;
    v_grantee text;
begin
    for r in
        select grantee, privilege_type, is_grantable
          from information_schema.table_privileges
         where table_schema = src_schema and table_name = src_table
    loop
        if r.grantee = 'PUBLIC' then
            v_grantee := 'public';
        else
            v_grantee := quote_ident(r.grantee);
        end if;
        execute 'grant ' || r.privilege_type || ' on ' || quote_ident(dst_schema) || '.' || quote_ident(dst_table)
            || ' to ' || v_grantee
            || case when r.is_grantable = 'YES' then ' with grant option' else '' end;
    end loop;
    return 1;
end;
$$;

create or replace function pgq.grant_perms(x_queue_name text)
returns integer language plpgsql security definer
set search_path = '' as $$
declare
    q record;
    v_n int4;
    v_tbl text;
begin
    select queue_id, queue_ntables, queue_data_pfx, queue_event_seq, queue_tick_seq into q
      from pgq.queue where queue_name = x_queue_name;
    if not found then
        raise exception 'Queue not found';
    end if;

    execute 'grant select on sequence ' || pgq.quote_fqname(q.queue_tick_seq) || ' to public';
    execute 'grant select on sequence ' || pgq.quote_fqname(q.queue_event_seq) || ' to public';
    execute 'grant usage on sequence ' || pgq.quote_fqname(q.queue_event_seq) || ' to pgq_admin';

    v_tbl := substr(q.queue_data_pfx, strpos(q.queue_data_pfx, '.') + 1);
    perform pgq._grant_perms_from('pgq', 'event_template', 'pgq', v_tbl);
    for v_n in 0 .. q.queue_ntables - 1 loop
        perform pgq._grant_perms_from('pgq', 'event_template', 'pgq', v_tbl || '_' || v_n::text);
    end loop;
    return 1;
end;
$$;

create or replace function pgq.tune_storage(i_queue_name text)
returns integer language plpgsql strict as $$
declare
    q record;
    v_n int4;
begin
    select queue_ntables, queue_data_pfx into q from pgq.queue where queue_name = i_queue_name;
    if not found then
        return 0;
    end if;
    for v_n in 0 .. q.queue_ntables - 1 loop
        execute 'alter table ' || pgq.quote_fqname(q.queue_data_pfx || '_' || v_n::text)
            || ' set (fillfactor = 100, autovacuum_enabled = off, toast.autovacuum_enabled = off)';
    end loop;
    return 1;
end;
$$;

------------------------------------------------------------------------
-- Producer
------------------------------------------------------------------------

create or replace function pgq.insert_event_raw(
        queue_name text, ev_id bigint, ev_time timestamptz,
        ev_owner integer, ev_retry integer, ev_type text, ev_data text,
        ev_extra1 text, ev_extra2 text, ev_extra3 text, ev_extra4 text)
returns bigint language plpgsql as $$
declare
    q record;
begin
    if insert_event_raw.queue_name is null then
        raise exception 'Queue name must not be NULL';
    end if;
    select x.queue_id, x.queue_cur_table, x.queue_disable_insert, x.queue_per_tx_limit into q
      from pgq.queue x where x.queue_name = insert_event_raw.queue_name;
    if not found then
        raise exception 'No such queue';
    end if;
    return pgq._insert_event_core(q.queue_id, q.queue_cur_table, insert_event_raw.queue_name,
        q.queue_disable_insert, q.queue_per_tx_limit,
        insert_event_raw.ev_id, insert_event_raw.ev_time, insert_event_raw.ev_owner,
        insert_event_raw.ev_retry, insert_event_raw.ev_type, insert_event_raw.ev_data,
        insert_event_raw.ev_extra1, insert_event_raw.ev_extra2,
        insert_event_raw.ev_extra3, insert_event_raw.ev_extra4);
end;
$$;

create or replace function pgq.insert_event(queue_name text, ev_type text, ev_data text,
        ev_extra1 text, ev_extra2 text, ev_extra3 text, ev_extra4 text)
returns bigint language plpgsql security definer
set search_path = '' as $$
declare
    q record;
begin
    -- same steps as insert_event_raw(), without a second function call
    if insert_event.queue_name is null then
        raise exception 'Queue name must not be NULL';
    end if;
    select x.queue_id, x.queue_cur_table, x.queue_disable_insert, x.queue_per_tx_limit into q
      from pgq.queue x where x.queue_name = insert_event.queue_name;
    if not found then
        raise exception 'No such queue';
    end if;
    return pgq._insert_event_core(q.queue_id, q.queue_cur_table, insert_event.queue_name,
        q.queue_disable_insert, q.queue_per_tx_limit,
        null, now(), null, null, insert_event.ev_type, insert_event.ev_data,
        insert_event.ev_extra1, insert_event.ev_extra2,
        insert_event.ev_extra3, insert_event.ev_extra4);
end;
$$;

-- SQL so that the planner inlines it into the caller.
create or replace function pgq.insert_event(queue_name text, ev_type text, ev_data text)
returns bigint language sql as $$
    select pgq.insert_event($1, $2, $3, null, null, null, null)
$$;

create or replace function pgq.insert_event_bulk(queue_name text, ev_types text[], ev_datas text[],
        ev_extra1s text[] default null, ev_extra2s text[] default null,
        ev_extra3s text[] default null, ev_extra4s text[] default null)
returns bigint language plpgsql security definer
set search_path = '' as $$
declare
    q record;
    v_n int4;
    v_arr text[];
    v_args text[][];
    v_i int4;
begin
    if insert_event_bulk.queue_name is null then
        raise exception 'Queue name must not be NULL';
    end if;
    select x.queue_id, x.queue_cur_table, x.queue_disable_insert, x.queue_per_tx_limit into q
      from pgq.queue x where x.queue_name = insert_event_bulk.queue_name;
    if not found then
        raise exception 'No such queue';
    end if;

    v_n := greatest(coalesce(cardinality(ev_types), 0), coalesce(cardinality(ev_datas), 0));
    if v_n = 0 then
        return 0;
    end if;
    -- A one-element array (or NULL for the extras) applies to every event.
    if cardinality(ev_types) = 1 and v_n > 1 then
        ev_types := array_fill(ev_types[1], array[v_n]);
    end if;
    if coalesce(cardinality(ev_types), -1) <> v_n or coalesce(cardinality(ev_datas), -1) <> v_n then
        raise exception 'insert_event_bulk: ev_types and ev_datas must have the same length (or ev_types one element)';
    end if;
    if ev_extra1s is not null and cardinality(ev_extra1s) = 1 and v_n > 1 then ev_extra1s := array_fill(ev_extra1s[1], array[v_n]); end if;
    if ev_extra2s is not null and cardinality(ev_extra2s) = 1 and v_n > 1 then ev_extra2s := array_fill(ev_extra2s[1], array[v_n]); end if;
    if ev_extra3s is not null and cardinality(ev_extra3s) = 1 and v_n > 1 then ev_extra3s := array_fill(ev_extra3s[1], array[v_n]); end if;
    if ev_extra4s is not null and cardinality(ev_extra4s) = 1 and v_n > 1 then ev_extra4s := array_fill(ev_extra4s[1], array[v_n]); end if;
    if (ev_extra1s is not null and cardinality(ev_extra1s) <> v_n)
       or (ev_extra2s is not null and cardinality(ev_extra2s) <> v_n)
       or (ev_extra3s is not null and cardinality(ev_extra3s) <> v_n)
       or (ev_extra4s is not null and cardinality(ev_extra4s) <> v_n) then
        raise exception 'insert_event_bulk: extra arrays must be NULL or as long as ev_datas';
    end if;

    if q.queue_disable_insert or q.queue_per_tx_limit is not null then
        perform pgq._check_insert(q.queue_id, insert_event_bulk.queue_name,
            q.queue_disable_insert, q.queue_per_tx_limit, v_n);
    end if;
    return pgq._insert_bulk_core(q.queue_id, q.queue_cur_table, ev_types, ev_datas,
        ev_extra1s, ev_extra2s, ev_extra3s, ev_extra4s);
end;
$$;

create or replace function pgq.current_event_table(x_queue_name text)
returns text language plpgsql as $$
declare
    q record;
begin
    select queue_data_pfx, queue_cur_table, queue_disable_insert into q
      from pgq.queue where queue_name = x_queue_name;
    if not found then
        raise exception 'Event queue not found';
    end if;
    if q.queue_disable_insert and current_setting('session_replication_role') <> 'replica' then
        raise exception 'Writing to queue disabled';
    end if;
    return q.queue_data_pfx || '_' || q.queue_cur_table::text;
end;
$$;

------------------------------------------------------------------------
-- Ticker
------------------------------------------------------------------------

-- Per ticked queue: seconds until pgq.ticker() would tick it (0 = due now)
-- and the number of events counted since its last tick.
create or replace function pgq.ticker_schedule(out queue_name text, out due_in double precision, out new_events bigint)
returns setof record language plpgsql as $$
begin
return query
select s.queue_name,
       case
         when s.last_id is null then 0
         when s.n > 0 then
           case when s.n >= s.max_count then 0
                else greatest(0, extract(epoch from s.max_lag - s.l)) end
         when s.prev_time is null then 0
         when s.l >= greatest(s.max_lag / 2, least(2 * (s.last_time - s.prev_time), s.idle)) then 0
         -- events committed after the last tick's snapshot was taken but
         -- counted in its event seq: due after max_lag like any new event
         when s.l >= s.max_lag and pgq._unticked_events_nowait(s.queue_id, s.last_snap) then 0
         else greatest(0, extract(epoch from
                greatest(s.max_lag / 2, least(2 * (s.last_time - s.prev_time), s.idle)) - s.l))
       end::float8,
       s.n
  from (select q.queue_id, q.queue_name,
               q.queue_ticker_max_count as max_count, q.queue_ticker_max_lag as max_lag,
               q.queue_ticker_idle_period as idle,
               t.tick_id as last_id, t.tick_time as last_time, t.tick_snapshot as last_snap,
               coalesce(pg_catalog.pg_sequence_last_value(coalesce(qs.event_seq, q.queue_event_seq::regclass)),
                        qs.seq_start, 1) - t.tick_event_seq as n,
               now() - t.tick_time as l,
               (select p.tick_time from pgq.tick p
                 where p.tick_queue = q.queue_id and p.tick_id < t.tick_id
                 order by p.tick_queue desc, p.tick_id desc limit 1) as prev_time
          from pgq.queue q
          left join pgq._queue_seqs() qs on (qs.queue_id = q.queue_id)
          left join lateral (select tick_id, tick_time, tick_snapshot, tick_event_seq
                               from pgq.tick
                              where tick_queue = q.queue_id
                              order by tick_queue desc, tick_id desc limit 1) t on true
         where not q.queue_external_ticker and not q.queue_ticker_paused) s
 order by s.queue_name;
end;
$$;

create or replace function pgq.ticker(i_queue_name text, i_tick_id bigint, i_orig_timestamp timestamptz, i_event_seq bigint)
returns bigint language plpgsql security definer
set search_path = '' as $$
declare
    q record;
begin
    select queue_id, queue_tick_seq, queue_event_seq into q
      from pgq.queue
     where queue_name = i_queue_name and queue_external_ticker and not queue_ticker_paused;
    if not found then
        raise exception 'queue not found or ticker disabled: %', i_queue_name;
    end if;
    insert into pgq.tick (tick_queue, tick_id, tick_time, tick_event_seq)
        values (q.queue_id, i_tick_id, i_orig_timestamp, i_event_seq);
    perform pgq.seq_setval(q.queue_tick_seq, i_tick_id);
    perform pgq.seq_setval(q.queue_event_seq, i_event_seq);
    return i_tick_id;
end;
$$;

create or replace function pgq.ticker(i_queue_name text)
returns bigint language plpgsql security definer
set search_path = '' as $$
declare
    q record;
    t record;
    v_prev_time timestamptz;
    v_seq bigint;
    v_new bigint;
    v_lag interval;
    v_cur bigint;
    v_id bigint;
begin
    select queue_id, queue_tick_seq, queue_event_seq, queue_external_ticker, queue_ticker_paused,
           queue_ticker_max_count, queue_ticker_max_lag, queue_ticker_idle_period
      into q from pgq.queue where queue_name = i_queue_name;
    if not found then
        raise exception 'no such queue';
    end if;
    if q.queue_external_ticker then
        raise exception 'This queue has external tick source.';
    end if;
    if q.queue_ticker_paused then
        raise exception 'Ticker has been paused for this queue';
    end if;

    -- read before the tick's snapshot is taken
    v_seq := pgq._seq_last(q.queue_event_seq::regclass);

    select tick_id, tick_time, tick_snapshot, tick_event_seq into t
      from pgq.tick where tick_queue = q.queue_id
     order by tick_queue desc, tick_id desc limit 1;
    if found then
        -- avoid assigning a txid to a call that may not write anything
        v_cur := coalesce(txid_current_if_assigned(), txid_snapshot_xmax(txid_current_snapshot()));
        if txid_snapshot_xmin(t.tick_snapshot) > v_cur then
            raise exception 'Invalid PgQ state: old xmin=%, old xmax=%, cur txid=%',
                txid_snapshot_xmin(t.tick_snapshot), txid_snapshot_xmax(t.tick_snapshot), v_cur;
        end if;
        v_new := v_seq - t.tick_event_seq;
        v_lag := now() - t.tick_time;
        if v_new < 0 then
            raise warning 'Negative new_events?  old=% cur=%', t.tick_event_seq, v_seq;
        end if;
        if txid_snapshot_xmax(t.tick_snapshot) > v_cur then
            raise warning 'Dubious PgQ state: old xmax=%, cur txid=%', txid_snapshot_xmax(t.tick_snapshot), v_cur;
        end if;

        if v_new > 0 then
            if v_new < q.queue_ticker_max_count and v_lag < q.queue_ticker_max_lag then
                return null;
            end if;
        else
            select tick_time into v_prev_time
              from pgq.tick where tick_queue = q.queue_id and tick_id < t.tick_id
             order by tick_queue desc, tick_id desc limit 1;
            if found
               and (v_lag < q.queue_ticker_max_lag / 2
                    or (v_lag < 2 * (t.tick_time - v_prev_time) and v_lag < q.queue_ticker_idle_period))
               and not (v_lag >= q.queue_ticker_max_lag and pgq._unticked_events_nowait(q.queue_id, t.tick_snapshot))
            then
                return null;
            end if;
        end if;
    end if;

    insert into pgq.tick (tick_queue, tick_id, tick_event_seq)
        values (q.queue_id, nextval(pgq.quote_fqname(q.queue_tick_seq)::regclass), v_seq)
        returning tick_id into v_id;
    return v_id;
end;
$$;

create or replace function pgq.ticker()
returns bigint language plpgsql security definer
set search_path = '' as $$
declare
    v_names text[];
    v_name text;
    v_count bigint := 0;
begin
    begin
        -- only the queues that are due (or need a warning) pay for a call
        select array_agg(s.queue_name order by s.queue_name) into v_names
          from pgq.ticker_schedule() s
         where s.due_in <= 0 or s.new_events < 0;
    exception when others then
        raise warning 'pgq.ticker: schedule failed (%), ticking every queue', sqlerrm;
        select array_agg(queue_name order by queue_name) into v_names
          from pgq.queue where not queue_external_ticker and not queue_ticker_paused;
    end;
    if v_names is null then
        return 0;
    end if;
    foreach v_name in array v_names loop
        -- one broken queue must not stop the ticks of the others
        begin
            if pgq.ticker(v_name) is not null then
                v_count := v_count + 1;
            end if;
        exception when others then
            raise warning 'pgq.ticker: queue "%" failed: %', v_name, sqlerrm;
        end;
    end loop;
    return v_count;
end;
$$;

create or replace function pgq.force_tick(i_queue_name text)
returns bigint language plpgsql security definer
set search_path = '' as $$
declare
    q record;
    v_seq regclass;
    v_tick bigint;
begin
    select queue_id, queue_event_seq, queue_ticker_max_count into q
      from pgq.queue
     where queue_name = i_queue_name and not queue_external_ticker and not queue_ticker_paused;
    if not found then
        return null;
    end if;
    v_seq := pgq.quote_fqname(q.queue_event_seq)::regclass;
    perform pg_catalog.setval(v_seq, nextval(v_seq) + q.queue_ticker_max_count * 2 + 1000);
    select tick_id into v_tick from pgq.tick where tick_queue = q.queue_id
     order by tick_queue desc, tick_id desc limit 1;
    return v_tick;
end;
$$;

------------------------------------------------------------------------
-- Queue management
------------------------------------------------------------------------

create or replace function pgq.create_queue(i_queue_name text)
returns integer language plpgsql security definer
set search_path = '' as $$
declare
    v_id int4;
    v_pfx text;
    v_tbl text;
    v_ntables int4;
    v_n int4;
begin
    if i_queue_name is null then
        raise exception 'Invalid NULL value';
    end if;
    -- serializes queue creation/removal and the regeneration of the
    -- per-queue functions
    perform pg_advisory_xact_lock(hashtext('pgq.queue_ddl'));
    if exists (select 1 from pgq.queue where queue_name = i_queue_name) then
        return 0;
    end if;

    v_id := nextval('pgq.queue_queue_id_seq');
    v_tbl := 'event_' || v_id::text;
    v_pfx := 'pgq.' || v_tbl;
    insert into pgq.queue (queue_id, queue_name, queue_data_pfx, queue_event_seq, queue_tick_seq)
        values (v_id, i_queue_name, v_pfx, v_pfx || '_id_seq', v_pfx || '_tick_seq')
        returning queue_ntables into v_ntables;

    execute format('create sequence pgq.%I', v_tbl || '_tick_seq');
    execute format('create sequence pgq.%I', v_tbl || '_id_seq');
    execute format('create table pgq.%I () inherits (pgq.event_template)', v_tbl);
    for v_n in 0 .. v_ntables - 1 loop
        execute format('create table pgq.%I () inherits (pgq.%I)', v_tbl || '_' || v_n::text, v_tbl);
        execute format('alter table pgq.%I alter column ev_id set default nextval(%L)',
                       v_tbl || '_' || v_n::text, v_pfx || '_id_seq');
        execute format('create index %I on pgq.%I (ev_txid)',
                       v_tbl || '_' || v_n::text || '_txid_idx', v_tbl || '_' || v_n::text);
    end loop;

    perform pgq.grant_perms(i_queue_name);
    perform pgq.ticker(i_queue_name);
    perform pgq.tune_storage(i_queue_name);
    perform pgq._regen_dispatch();
    return 1;
end;
$$;

create or replace function pgq.drop_queue(x_queue_name text, x_force bool)
returns integer language plpgsql security definer
set search_path = '' as $$
declare
    q record;
    r record;
    v_n int4;
begin
    perform pg_advisory_xact_lock(hashtext('pgq.queue_ddl'));
    select queue_id, queue_ntables, queue_data_pfx, queue_event_seq, queue_tick_seq into q
      from pgq.queue where queue_name = x_queue_name for update;
    if not found then
        raise exception 'No such event queue';
    end if;

    if x_force then
        for r in select consumer_name from pgq.get_consumer_info(x_queue_name) loop
            perform pgq.unregister_consumer(x_queue_name, r.consumer_name);
        end loop;
    elsif exists (select 1 from pgq.subscription where sub_queue = q.queue_id) then
        raise exception 'cannot drop queue, consumers still attached';
    end if;

    for v_n in 0 .. q.queue_ntables - 1 loop
        execute 'drop table if exists ' || pgq.quote_fqname(q.queue_data_pfx || '_' || v_n::text);
    end loop;
    execute 'drop table if exists ' || pgq.quote_fqname(q.queue_data_pfx);
    delete from pgq.tick where tick_queue = q.queue_id;
    execute 'drop sequence if exists ' || pgq.quote_fqname(q.queue_tick_seq);
    execute 'drop sequence if exists ' || pgq.quote_fqname(q.queue_event_seq);
    -- leftovers of sub-consumers would block the queue row's removal
    delete from pgq.retry_queue where ev_queue = q.queue_id;
    delete from pgq.queue where queue_id = q.queue_id;
    perform pgq._regen_dispatch();
    return 1;
end;
$$;

create or replace function pgq.drop_queue(x_queue_name text)
returns integer language plpgsql strict as $$
begin
    return pgq.drop_queue(x_queue_name, false);
end;
$$;

create or replace function pgq.set_queue_config(x_queue_name text, x_param_name text, x_param_value text)
returns integer language plpgsql security definer
set search_path = '' as $$
declare
    v_col text;
begin
    if x_queue_name is null or x_param_name is null then
        raise exception 'Invalid NULL value';
    end if;
    perform 1 from pgq.queue where queue_name = x_queue_name;
    if not found then
        raise exception 'No such event queue';
    end if;
    v_col := 'queue_' || x_param_name;
    if v_col not in ('queue_ticker_max_count', 'queue_ticker_max_lag', 'queue_ticker_idle_period',
                     'queue_ticker_paused', 'queue_rotation_period', 'queue_external_ticker') then
        -- the original's message keeps a stray "s" after the name
        raise exception 'cannot change parameter "%s"', x_param_name;
    end if;
    execute format('update pgq.queue set %I = %L where queue_name = %L', v_col, x_param_value, x_queue_name);
    return 1;
end;
$$;

------------------------------------------------------------------------
-- Consumer
------------------------------------------------------------------------

create or replace function pgq.register_consumer_at(x_queue_name text, x_consumer_name text, x_tick_pos bigint)
returns integer language plpgsql security definer
set search_path = '' as $$
declare
    v_queue int4;
    v_consumer int4;
    v_pos bigint;
begin
    select queue_id into v_queue from pgq.queue where queue_name = x_queue_name;
    if not found then
        raise exception 'Event queue not created yet';
    end if;

    select co_id into v_consumer from pgq.consumer where co_name = x_consumer_name;
    if not found then
        insert into pgq.consumer (co_name) values (x_consumer_name)
            on conflict (co_name) do nothing;
        select co_id into v_consumer from pgq.consumer where co_name = x_consumer_name;
    end if;

    if x_tick_pos is not null then
        perform 1 from pgq.tick where tick_queue = v_queue and tick_id = x_tick_pos;
        if not found then
            raise exception 'cannot reposition, tick not found: %', x_tick_pos;
        end if;
    end if;

    perform 1 from pgq.subscription where sub_queue = v_queue and sub_consumer = v_consumer for update;
    if found then
        if x_tick_pos is not null then
            update pgq.subscription
               set sub_last_tick = x_tick_pos, sub_active = now(),
                   sub_batch = null, sub_next_tick = null
             where sub_queue = v_queue and sub_consumer = v_consumer;
        end if;
        return 0;
    end if;

    v_pos := x_tick_pos;
    if v_pos is null then
        select tick_id into v_pos from pgq.tick where tick_queue = v_queue
         order by tick_queue desc, tick_id desc limit 1;
        if not found then
            raise exception 'No ticks for this queue.  Please run ticker on database.';
        end if;
    end if;
    insert into pgq.subscription (sub_queue, sub_consumer, sub_last_tick)
        values (v_queue, v_consumer, v_pos);
    return 1;
end;
$$;

create or replace function pgq.register_consumer(x_queue_name text, x_consumer_id text)
returns integer language plpgsql security definer
set search_path = '' as $$
begin
    return pgq.register_consumer_at(x_queue_name, x_consumer_id, null);
end;
$$;

create or replace function pgq.unregister_consumer(x_queue_name text, x_consumer_name text)
returns integer language plpgsql security definer
set search_path = '' as $$
declare
    s record;
    v_cnt int4;
begin
    select sub.sub_id, sub.sub_queue, sub.sub_consumer, sub.sub_last_tick, sub.sub_next_tick into s
      from pgq.subscription sub, pgq.queue q, pgq.consumer c
     where sub.sub_queue = q.queue_id and sub.sub_consumer = c.co_id
       and q.queue_name = x_queue_name and c.co_name = x_consumer_name
       for update of sub, c;
    if not found then
        return 0;
    end if;

    select count(*) into v_cnt from pgq.subscription where sub_id = s.sub_id;

    -- a coop sub-consumer shares the main consumer's sub_id
    if v_cnt > 1 and ((s.sub_last_tick is null and s.sub_next_tick is null)
                      or (s.sub_last_tick is not null and s.sub_next_tick is not null)) then
        delete from pgq.subscription where sub_queue = s.sub_queue and sub_consumer = s.sub_consumer;
        return 1;
    end if;

    delete from pgq.retry_queue where ev_owner = s.sub_id;
    delete from pgq.subscription where sub_id = s.sub_id;
    delete from pgq.consumer c where c.co_id = s.sub_consumer
       and not exists (select 1 from pgq.subscription where sub_consumer = s.sub_consumer);
    return v_cnt;
end;
$$;

create or replace function pgq.find_tick_helper(i_queue_id int4, i_prev_tick_id int8,
        i_prev_tick_time timestamptz, i_prev_tick_seq int8, i_min_count int8, i_min_interval interval,
        out next_tick_id int8, out next_tick_time timestamptz, out next_tick_seq int8)
language plpgsql stable as $$
declare
    t record;
    v_ok bool;
    v_over bool;
begin
    select tick_id, tick_time, tick_event_seq into t
      from pgq.tick where tick_queue = i_queue_id and tick_id > i_prev_tick_id
     order by tick_queue desc, tick_id desc limit 1;
    if not found then
        return;
    end if;
    v_ok := coalesce(t.tick_event_seq - i_prev_tick_seq >= i_min_count, false)
         or coalesce(t.tick_time - i_prev_tick_time >= i_min_interval, false);
    v_over := coalesce(t.tick_event_seq - i_prev_tick_seq > 2 * i_min_count, false)
           or coalesce(t.tick_time - i_prev_tick_time > 2 * i_min_interval, false);
    if v_over then
        -- too far ahead: take the first tick that meets a threshold
        select tick_id, tick_time, tick_event_seq into next_tick_id, next_tick_time, next_tick_seq
          from pgq.tick
         where tick_queue = i_queue_id and tick_id > i_prev_tick_id
           and (coalesce(tick_event_seq - i_prev_tick_seq >= i_min_count, false)
                or coalesce(tick_time - i_prev_tick_time >= i_min_interval, false))
         order by tick_queue asc, tick_id asc limit 1;
    elsif v_ok then
        next_tick_id := t.tick_id;
        next_tick_time := t.tick_time;
        next_tick_seq := t.tick_event_seq;
    end if;
end;
$$;

create or replace function pgq.next_batch_custom(i_queue_name text, i_consumer_name text,
        i_min_lag interval, i_min_count int4, i_min_interval interval,
        out batch_id int8, out cur_tick_id int8, out prev_tick_id int8,
        out cur_tick_time timestamptz, out prev_tick_time timestamptz,
        out cur_tick_event_seq int8, out prev_tick_event_seq int8)
language plpgsql security definer
set search_path = '' as $$
declare
    s record;
begin
    select sub.sub_queue, sub.sub_consumer, sub.sub_last_tick, sub.sub_batch, sub.sub_next_tick,
           t.tick_id, t.tick_time, t.tick_event_seq
      into s
      from pgq.queue q
      join pgq.subscription sub on (sub.sub_queue = q.queue_id)
      join pgq.consumer c on (c.co_id = sub.sub_consumer)
      left join pgq.tick t on (t.tick_queue = sub.sub_queue and t.tick_id = sub.sub_last_tick)
     where q.queue_name = i_queue_name and c.co_name = i_consumer_name;
    if not found then
        raise exception 'Not subscriber to queue: %/%', coalesce(i_queue_name, 'NULL'), coalesce(i_consumer_name, 'NULL');
    end if;
    if s.tick_id is null then
        raise exception 'PgQ corruption: Consumer % on queue % does not see tick %', i_consumer_name, i_queue_name, s.sub_last_tick;
    end if;

    if s.sub_batch is not null then
        -- repeated call before finish_batch: the same batch again
        batch_id := s.sub_batch;
        prev_tick_id := s.sub_last_tick;
        prev_tick_time := s.tick_time;
        prev_tick_event_seq := s.tick_event_seq;
        select tick_id, tick_time, tick_event_seq into cur_tick_id, cur_tick_time, cur_tick_event_seq
          from pgq.tick where tick_queue = s.sub_queue and tick_id = s.sub_next_tick;
        return;
    end if;

    if i_min_count is null and i_min_interval is null then
        select tick_id, tick_time, tick_event_seq into cur_tick_id, cur_tick_time, cur_tick_event_seq
          from pgq.tick where tick_queue = s.sub_queue and tick_id > s.sub_last_tick
         order by tick_queue asc, tick_id asc limit 1;
    else
        select h.next_tick_id, h.next_tick_time, h.next_tick_seq
          into cur_tick_id, cur_tick_time, cur_tick_event_seq
          from pgq.find_tick_helper(s.sub_queue, s.sub_last_tick, s.tick_time, s.tick_event_seq,
                                    i_min_count, i_min_interval) h;
    end if;

    if cur_tick_id is null
       or (i_min_lag is not null and now() - cur_tick_time < i_min_lag) then
        cur_tick_id := null;
        cur_tick_time := null;
        cur_tick_event_seq := null;
        return;
    end if;

    batch_id := nextval('pgq.batch_id_seq');
    prev_tick_id := s.sub_last_tick;
    prev_tick_time := s.tick_time;
    prev_tick_event_seq := s.tick_event_seq;
    update pgq.subscription
       set sub_batch = batch_id, sub_next_tick = cur_tick_id, sub_active = now()
     where sub_queue = s.sub_queue and sub_consumer = s.sub_consumer;
end;
$$;

create or replace function pgq.next_batch_info(i_queue_name text, i_consumer_name text,
        out batch_id int8, out cur_tick_id int8, out prev_tick_id int8,
        out cur_tick_time timestamptz, out prev_tick_time timestamptz,
        out cur_tick_event_seq int8, out prev_tick_event_seq int8)
language plpgsql as $$
begin
    select f.batch_id, f.cur_tick_id, f.prev_tick_id, f.cur_tick_time, f.prev_tick_time,
           f.cur_tick_event_seq, f.prev_tick_event_seq
      into batch_id, cur_tick_id, prev_tick_id, cur_tick_time, prev_tick_time,
           cur_tick_event_seq, prev_tick_event_seq
      from pgq.next_batch_custom(i_queue_name, i_consumer_name, null, null, null) f;
end;
$$;

create or replace function pgq.next_batch(i_queue_name text, i_consumer_name text)
returns bigint language plpgsql as $$
declare
    v_batch bigint;
begin
    select f.batch_id into v_batch
      from pgq.next_batch_custom(i_queue_name, i_consumer_name, null, null, null) f;
    return v_batch;
end;
$$;

create or replace function pgq.finish_batch(x_batch_id bigint)
returns integer language plpgsql security definer
set search_path = '' as $$
begin
    update pgq.subscription
       set sub_active = now(), sub_last_tick = sub_next_tick,
           sub_next_tick = null, sub_batch = null
     where sub_batch = x_batch_id;
    if not found then
        raise warning 'finish_batch: batch % not found', x_batch_id;
        return 0;
    end if;
    return 1;
end;
$$;

------------------------------------------------------------------------
-- Batch contents
------------------------------------------------------------------------

create or replace function pgq.batch_event_tables(x_batch_id bigint)
returns setof text language plpgsql as $$
declare
    b record;
    v_prev int4;
begin
    select txid_snapshot_xmin(last.tick_snapshot) as tx_min,
           txid_snapshot_xmax(cur.tick_snapshot) as tx_max,
           q.queue_data_pfx, q.queue_ntables, q.queue_cur_table,
           q.queue_switch_step1, q.queue_switch_step2
      into b
      from pgq.subscription s, pgq.queue q, pgq.tick cur, pgq.tick last
     where s.sub_batch = x_batch_id
       and q.queue_id = s.sub_queue
       and cur.tick_queue = s.sub_queue and cur.tick_id = s.sub_next_tick
       and last.tick_queue = s.sub_queue and last.tick_id = s.sub_last_tick;
    if not found then
        raise exception 'Cannot find data for batch %', x_batch_id;
    end if;

    v_prev := (b.queue_cur_table + b.queue_ntables - 1) % b.queue_ntables;
    if b.tx_max < b.queue_switch_step1 then
        return next b.queue_data_pfx || '_' || v_prev::text;
    elsif b.queue_switch_step2 is not null and b.tx_min > b.queue_switch_step2 then
        return next b.queue_data_pfx || '_' || b.queue_cur_table::text;
    else
        return next b.queue_data_pfx || '_' || v_prev::text;
        return next b.queue_data_pfx || '_' || b.queue_cur_table::text;
    end if;
end;
$$;

create or replace function pgq.batch_event_sql(x_batch_id bigint)
returns text language plpgsql as $$
declare
    b record;
    v_tbl text;
    v_start bigint;
    v_xid bigint;
    v_list text := '';
    v_owner text;
    v_cols text := 'select ev_id, ev_time, ev_txid, ev_retry, ev_type, ev_data, ev_extra1, ev_extra2, ev_extra3, ev_extra4';
    v_sql text := '';
    v_part text;
begin
    select s.sub_id, s.sub_queue, s.sub_last_tick, s.sub_next_tick,
           last.tick_snapshot as last_snap, cur.tick_snapshot as cur_snap
      into b
      from pgq.subscription s, pgq.tick cur, pgq.tick last
     where s.sub_batch = x_batch_id
       and cur.tick_queue = s.sub_queue and cur.tick_id = s.sub_next_tick
       and last.tick_queue = s.sub_queue and last.tick_id = s.sub_last_tick;
    if not found then
        raise exception 'batch not found';
    end if;

    v_start := txid_snapshot_xmax(b.last_snap);
    -- Transactions running at the start tick and finished by the end tick.
    -- Ids close to the range are folded into it; the older ones go into an
    -- explicit list so a long transaction does not widen the scan.
    for v_xid in
        select x from (select txid_snapshot_xip(b.last_snap) as x
                       except
                       select txid_snapshot_xip(b.cur_snap)) xs
         order by x desc
    loop
        if v_list = '' and v_xid >= v_start - 100 then
            v_start := v_xid;
        else
            v_list := v_list || case when v_list = '' then '' else ',' end || v_xid::text;
        end if;
    end loop;

    v_owner := ' and (ev.ev_owner is null or ev.ev_owner = ' || b.sub_id::text || ')';

    for v_tbl in select pgq.batch_event_tables(x_batch_id) loop
        v_tbl := pgq.quote_fqname(v_tbl);
        v_part := v_cols || ' from pgq.tick cur, pgq.tick last, ' || v_tbl || ' ev'
            || ' where cur.tick_id = ' || b.sub_next_tick::text
            || ' and cur.tick_queue = ' || b.sub_queue::text
            || ' and last.tick_id = ' || b.sub_last_tick::text
            || ' and last.tick_queue = ' || b.sub_queue::text
            || ' and ev.ev_txid >= ' || v_start::text
            || ' and ev.ev_txid <= ' || txid_snapshot_xmax(b.cur_snap)::text
            || ' and txid_visible_in_snapshot(ev.ev_txid, cur.tick_snapshot)'
            || ' and not txid_visible_in_snapshot(ev.ev_txid, last.tick_snapshot)'
            || v_owner;
        if v_list <> '' then
            v_part := v_part || ' union all ' || v_cols || ' from ' || v_tbl || ' ev'
                || ' where ev.ev_txid in (' || v_list || ')' || v_owner;
        end if;
        v_sql := v_sql || case when v_sql = '' then '' else ' union all ' end || v_part;
    end loop;
    if v_sql = '' then
        raise exception 'could not construct sql for batch %', x_batch_id;
    end if;
    return v_sql || ' order by 1';
end;
$$;

create or replace function pgq.get_batch_events(x_batch_id bigint,
        out ev_id bigint, out ev_time timestamptz, out ev_txid bigint, out ev_retry int4,
        out ev_type text, out ev_data text,
        out ev_extra1 text, out ev_extra2 text, out ev_extra3 text, out ev_extra4 text)
returns setof record language plpgsql as $$
begin
    return query execute pgq.batch_event_sql(x_batch_id);
end;
$$;

create or replace function pgq.get_batch_cursor(i_batch_id bigint, i_cursor_name text,
        i_quick_limit int4, i_extra_where text,
        out ev_id bigint, out ev_time timestamptz, out ev_txid bigint, out ev_retry int4,
        out ev_type text, out ev_data text,
        out ev_extra1 text, out ev_extra2 text, out ev_extra3 text, out ev_extra4 text)
returns setof record language plpgsql as $$
declare
    v_sql text;
begin
    if i_batch_id is null or i_cursor_name is null or i_quick_limit is null then
        return;
    end if;
    v_sql := pgq.batch_event_sql(i_batch_id);
    if i_extra_where is not null then
        v_sql := substr(v_sql, 1, length(v_sql) - length(' order by 1'));
        v_sql := 'select * from (' || v_sql || ') _evs where ' || i_extra_where || ' order by 1';
    end if;
    execute 'declare ' || quote_ident(i_cursor_name) || ' no scroll cursor for ' || v_sql;
    if i_quick_limit > 0 then
        return query execute 'fetch ' || i_quick_limit::text || ' from ' || quote_ident(i_cursor_name);
    end if;
end;
$$;

create or replace function pgq.get_batch_cursor(i_batch_id bigint, i_cursor_name text, i_quick_limit int4,
        out ev_id bigint, out ev_time timestamptz, out ev_txid bigint, out ev_retry int4,
        out ev_type text, out ev_data text,
        out ev_extra1 text, out ev_extra2 text, out ev_extra3 text, out ev_extra4 text)
returns setof record language plpgsql strict as $$
begin
    return query select * from pgq.get_batch_cursor(i_batch_id, i_cursor_name, i_quick_limit, null);
end;
$$;

------------------------------------------------------------------------
-- Retry
------------------------------------------------------------------------

create or replace function pgq.event_retry(x_batch_id bigint, x_event_id bigint, x_retry_time timestamptz)
returns integer language plpgsql security definer
set search_path = '' as $$
declare
    s record;
begin
    select sub_queue, sub_id into s from pgq.subscription where sub_batch = x_batch_id;
    if not found then
        raise exception 'event not found';
    end if;
    begin
        insert into pgq.retry_queue (ev_retry_after, ev_queue, ev_id, ev_time, ev_txid, ev_owner,
                                     ev_retry, ev_type, ev_data, ev_extra1, ev_extra2, ev_extra3, ev_extra4)
        select x_retry_time, s.sub_queue, e.ev_id, e.ev_time, null, s.sub_id,
               coalesce(e.ev_retry, 0) + 1, e.ev_type, e.ev_data,
               e.ev_extra1, e.ev_extra2, e.ev_extra3, e.ev_extra4
          from pgq.get_batch_events(x_batch_id) e
         where e.ev_id = x_event_id
         limit 1;
        if not found then
            raise exception 'event not found';
        end if;
    exception when unique_violation then
        return 0;
    end;
    return 1;
end;
$$;

create or replace function pgq.event_retry(x_batch_id bigint, x_event_id bigint, x_retry_seconds integer)
returns integer language plpgsql security definer
set search_path = '' as $$
begin
    return pgq.event_retry(x_batch_id, x_event_id, current_timestamp + x_retry_seconds * interval '1 second');
end;
$$;

create or replace function pgq.batch_retry(i_batch_id bigint, i_retry_seconds integer)
returns integer language plpgsql security definer
set search_path = '' as $$
declare
    s record;
    v_cnt integer;
begin
    select sub_queue, sub_id into s from pgq.subscription where sub_batch = i_batch_id;
    if not found then
        raise exception 'batch_retry: batch % not found', i_batch_id;
    end if;
    insert into pgq.retry_queue (ev_retry_after, ev_queue, ev_id, ev_time, ev_txid, ev_owner,
                                 ev_retry, ev_type, ev_data, ev_extra1, ev_extra2, ev_extra3, ev_extra4)
    select distinct on (b.ev_id)
           current_timestamp + i_retry_seconds * interval '1 second', s.sub_queue,
           b.ev_id, b.ev_time, null, s.sub_id, coalesce(b.ev_retry, 0) + 1,
           b.ev_type, b.ev_data, b.ev_extra1, b.ev_extra2, b.ev_extra3, b.ev_extra4
      from pgq.get_batch_events(i_batch_id) b
     where not exists (select 1 from pgq.retry_queue rq
                        where rq.ev_owner = s.sub_id and rq.ev_id = b.ev_id)
     order by b.ev_id;
    get diagnostics v_cnt = row_count;
    return v_cnt;
end;
$$;

create or replace function pgq.event_retry_raw(x_queue text, x_consumer text, x_retry_after timestamptz,
        x_ev_id bigint, x_ev_time timestamptz, x_ev_retry integer, x_ev_type text, x_ev_data text,
        x_ev_extra1 text, x_ev_extra2 text, x_ev_extra3 text, x_ev_extra4 text)
returns bigint language plpgsql security definer
set search_path = '' as $$
declare
    s record;
    v_id bigint;
begin
    select sub.sub_id, q.queue_id, q.queue_event_seq into s
      from pgq.consumer c, pgq.queue q, pgq.subscription sub
     where q.queue_name = x_queue and c.co_name = x_consumer
       and sub.sub_consumer = c.co_id and sub.sub_queue = q.queue_id;
    if not found then
        raise exception 'consumer not registered';
    end if;
    v_id := x_ev_id;
    if v_id is null then
        v_id := nextval(pgq.quote_fqname(s.queue_event_seq)::regclass);
    end if;
    insert into pgq.retry_queue (ev_retry_after, ev_queue, ev_id, ev_time, ev_owner, ev_retry,
                                 ev_type, ev_data, ev_extra1, ev_extra2, ev_extra3, ev_extra4)
        values (x_retry_after, s.queue_id, v_id, x_ev_time, s.sub_id, x_ev_retry,
                x_ev_type, x_ev_data, x_ev_extra1, x_ev_extra2, x_ev_extra3, x_ev_extra4);
    return v_id;
end;
$$;

------------------------------------------------------------------------
-- Information
------------------------------------------------------------------------

create or replace function pgq.get_queue_info(i_queue_name text,
        out queue_name text, out queue_ntables integer, out queue_cur_table integer,
        out queue_rotation_period interval, out queue_switch_time timestamptz,
        out queue_external_ticker boolean, out queue_ticker_paused boolean,
        out queue_ticker_max_count integer, out queue_ticker_max_lag interval,
        out queue_ticker_idle_period interval, out ticker_lag interval,
        out ev_per_sec float8, out ev_new bigint, out last_tick_id bigint)
returns setof record language plpgsql as $$
declare
    q record;
    v_last record;
    v_old record;
begin
    for q in
        select x.queue_id, x.queue_name, x.queue_ntables, x.queue_cur_table, x.queue_rotation_period,
               x.queue_switch_time, x.queue_external_ticker, x.queue_ticker_paused,
               x.queue_ticker_max_count, x.queue_ticker_max_lag, x.queue_ticker_idle_period,
               x.queue_event_seq
          from pgq.queue x
         where i_queue_name is null or x.queue_name = i_queue_name
         order by x.queue_name
    loop
        queue_name := q.queue_name;
        queue_ntables := q.queue_ntables;
        queue_cur_table := q.queue_cur_table;
        queue_rotation_period := q.queue_rotation_period;
        queue_switch_time := q.queue_switch_time;
        queue_external_ticker := q.queue_external_ticker;
        queue_ticker_paused := q.queue_ticker_paused;
        queue_ticker_max_count := q.queue_ticker_max_count;
        queue_ticker_max_lag := q.queue_ticker_max_lag;
        queue_ticker_idle_period := q.queue_ticker_idle_period;

        select t.tick_id, t.tick_time, t.tick_event_seq into v_last
          from pgq.tick t where t.tick_queue = q.queue_id
         order by t.tick_queue desc, t.tick_id desc limit 1;
        select t.tick_time, t.tick_event_seq into v_old
          from pgq.tick t where t.tick_queue = q.queue_id and t.tick_id >= v_last.tick_id - 20
         order by t.tick_queue asc, t.tick_id asc limit 1;

        last_tick_id := v_last.tick_id;
        ticker_lag := now() - v_last.tick_time;
        ev_new := pgq.seq_getval(q.queue_event_seq) - v_last.tick_event_seq;
        if v_last.tick_time is null or v_old.tick_time is null or v_last.tick_time = v_old.tick_time then
            ev_per_sec := null;
        else
            ev_per_sec := (v_last.tick_event_seq - v_old.tick_event_seq)
                          / extract(epoch from v_last.tick_time - v_old.tick_time);
        end if;
        return next;
    end loop;
end;
$$;

create or replace function pgq.get_queue_info(
        out queue_name text, out queue_ntables integer, out queue_cur_table integer,
        out queue_rotation_period interval, out queue_switch_time timestamptz,
        out queue_external_ticker boolean, out queue_ticker_paused boolean,
        out queue_ticker_max_count integer, out queue_ticker_max_lag interval,
        out queue_ticker_idle_period interval, out ticker_lag interval,
        out ev_per_sec float8, out ev_new bigint, out last_tick_id bigint)
returns setof record language plpgsql as $$
begin
    return query select * from pgq.get_queue_info(null);
end;
$$;

create or replace function pgq.get_consumer_info(i_queue_name text, i_consumer_name text,
        out queue_name text, out consumer_name text, out lag interval, out last_seen interval,
        out last_tick bigint, out current_batch bigint, out next_tick bigint, out pending_events bigint)
returns setof record language plpgsql security definer
set search_path = '' as $$
begin
    return query
    select q.queue_name, c.co_name, now() - t.tick_time, now() - s.sub_active,
           s.sub_last_tick, s.sub_batch, s.sub_next_tick,
           (select lt.tick_event_seq from pgq.tick lt where lt.tick_queue = q.queue_id
             order by lt.tick_queue desc, lt.tick_id desc limit 1) - t.tick_event_seq
      from pgq.subscription s
      join pgq.queue q on (q.queue_id = s.sub_queue)
      join pgq.consumer c on (c.co_id = s.sub_consumer)
      left join pgq.tick t on (t.tick_queue = s.sub_queue and t.tick_id = s.sub_last_tick)
     where (i_queue_name is null or q.queue_name = i_queue_name)
       and (i_consumer_name is null or c.co_name = i_consumer_name)
     order by 1, 2;
end;
$$;

create or replace function pgq.get_consumer_info(i_queue_name text,
        out queue_name text, out consumer_name text, out lag interval, out last_seen interval,
        out last_tick bigint, out current_batch bigint, out next_tick bigint, out pending_events bigint)
returns setof record language plpgsql security definer
set search_path = '' as $$
begin
    return query select * from pgq.get_consumer_info(i_queue_name, null);
end;
$$;

create or replace function pgq.get_consumer_info(
        out queue_name text, out consumer_name text, out lag interval, out last_seen interval,
        out last_tick bigint, out current_batch bigint, out next_tick bigint, out pending_events bigint)
returns setof record language plpgsql security definer
set search_path = '' as $$
begin
    return query select * from pgq.get_consumer_info(null, null);
end;
$$;

create or replace function pgq.get_batch_info(x_batch_id bigint,
        out queue_name text, out consumer_name text, out batch_start timestamptz, out batch_end timestamptz,
        out prev_tick_id bigint, out tick_id bigint, out lag interval, out seq_start bigint, out seq_end bigint)
language plpgsql security definer
set search_path = '' as $$
begin
    select q.queue_name, c.co_name, prev.tick_time, cur.tick_time, s.sub_last_tick, s.sub_next_tick,
           now() - cur.tick_time, prev.tick_event_seq, cur.tick_event_seq
      into queue_name, consumer_name, batch_start, batch_end, prev_tick_id, tick_id, lag, seq_start, seq_end
      from pgq.subscription s
      join pgq.queue q on (q.queue_id = s.sub_queue)
      join pgq.consumer c on (c.co_id = s.sub_consumer)
      join pgq.tick cur on (cur.tick_queue = s.sub_queue and cur.tick_id = s.sub_next_tick)
      join pgq.tick prev on (prev.tick_queue = s.sub_queue and prev.tick_id = s.sub_last_tick)
     where s.sub_batch = x_batch_id;
end;
$$;

------------------------------------------------------------------------
-- Maintenance
------------------------------------------------------------------------

create or replace function pgq.maint_retry_events()
returns integer language plpgsql as $$
declare
    r record;
    v_cnt integer := 0;
begin
    -- one mover at a time
    lock table pgq.retry_queue in share update exclusive mode;
    for r in
        select q.queue_name, rq.ev_id, rq.ev_time, rq.ev_owner, rq.ev_retry, rq.ev_type, rq.ev_data,
               rq.ev_extra1, rq.ev_extra2, rq.ev_extra3, rq.ev_extra4
          from pgq.retry_queue rq join pgq.queue q on (q.queue_id = rq.ev_queue)
         where rq.ev_retry_after <= current_timestamp
         order by rq.ev_retry_after
         limit 10
    loop
        perform pgq.insert_event_raw(r.queue_name, r.ev_id, r.ev_time, r.ev_owner, r.ev_retry,
                                     r.ev_type, r.ev_data, r.ev_extra1, r.ev_extra2, r.ev_extra3, r.ev_extra4);
        delete from pgq.retry_queue where ev_owner = r.ev_owner and ev_id = r.ev_id;
        v_cnt := v_cnt + 1;
    end loop;
    return v_cnt;
end;
$$;

create or replace function pgq.maint_rotate_tables_step1(i_queue_name text)
returns integer language plpgsql as $$
declare
    q record;
    v_lowest bigint;
    v_xmin bigint;
    v_nr int4;
    v_tbl text;
begin
    select queue_id, queue_ntables, queue_cur_table, queue_data_pfx, queue_switch_step1,
           queue_switch_step2, queue_switch_time, queue_rotation_period
      into q from pgq.queue where queue_name = i_queue_name for update;
    if not found
       or q.queue_rotation_period is null
       or q.queue_switch_step2 is null
       or not (q.queue_switch_time + q.queue_rotation_period < current_timestamp) then
        return 0;
    end if;

    if txid_current() < q.queue_switch_step1 then
        raise exception 'queue % maint failure: step1=%, current=%', i_queue_name, q.queue_switch_step1, txid_current();
    end if;

    select min(sub_last_tick) into v_lowest from pgq.subscription where sub_queue = q.queue_id;
    if v_lowest is not null then
        select txid_snapshot_xmin(tick_snapshot) into v_xmin
          from pgq.tick where tick_queue = q.queue_id and tick_id = v_lowest;
        if not found then
            raise exception 'queue % maint failure: tick % not found', i_queue_name, v_lowest;
        end if;
        -- the slowest consumer may still read the previous table
        if v_xmin <= q.queue_switch_step2 then
            return 0;
        end if;
    end if;

    v_nr := (q.queue_cur_table + 1) % q.queue_ntables;
    v_tbl := pgq.quote_fqname(q.queue_data_pfx || '_' || v_nr::text);
    begin
        execute 'lock table ' || v_tbl || ' nowait';
        execute 'truncate ' || v_tbl;
    exception when lock_not_available then
        -- e.g. pg_dump holds the table; try again next time
        return 0;
    end;

    update pgq.queue
       set queue_cur_table = v_nr, queue_switch_time = current_timestamp,
           queue_switch_step1 = txid_current(), queue_switch_step2 = null
     where queue_id = q.queue_id;

    delete from pgq.tick
     where tick_queue = q.queue_id
       and txid_snapshot_xmin(tick_snapshot) < q.queue_switch_step2;
    return 0;
end;
$$;

create or replace function pgq.maint_rotate_tables_step2()
returns integer language plpgsql as $$
begin
    update pgq.queue set queue_switch_step2 = txid_current() where queue_switch_step2 is null;
    return 0;
end;
$$;

create or replace function pgq.maint_tables_to_vacuum()
returns setof text language plpgsql as $$
declare
    v_name text;
begin
    if current_setting('autovacuum') = 'on' then
        return;
    end if;
    foreach v_name in array array[
            'pgq.subscription', 'pgq.consumer', 'pgq.queue', 'pgq.tick', 'pgq.retry_queue',
            'pgq_ext.completed_tick', 'pgq_ext.completed_batch', 'pgq_ext.completed_event',
            'pgq_ext.partial_batch', 'pgq_node.local_state', 'londiste.seq_info',
            'txid.epoch', 'londiste.completed']
    loop
        if to_regclass(v_name) is not null then
            return next v_name;
        end if;
    end loop;
end;
$$;

create or replace function pgq.maint_operations(out func_name text, out func_arg text)
returns setof record language plpgsql as $$
declare
    r record;
    v_ops int4 := 0;
    v_fn text;
begin
    for r in
        select queue_name from pgq.queue
         where queue_switch_step2 is not null
           and queue_switch_time + queue_rotation_period < current_timestamp
         order by queue_name
    loop
        func_name := 'pgq.maint_rotate_tables_step1';
        func_arg := r.queue_name;
        v_ops := v_ops + 1;
        return next;
    end loop;

    if v_ops > 0 or exists (select 1 from pgq.queue where queue_switch_step2 is null) then
        func_name := 'pgq.maint_rotate_tables_step2';
        func_arg := null;
        return next;
    end if;

    for r in
        select queue_name, queue_extra_maint from pgq.queue
         where queue_extra_maint is not null
         order by queue_name
    loop
        foreach v_fn in array r.queue_extra_maint loop
            func_name := v_fn;
            func_arg := r.queue_name;
            return next;
        end loop;
    end loop;

    for r in select t as tbl from pgq.maint_tables_to_vacuum() t loop
        func_name := 'vacuum';
        func_arg := r.tbl;
        return next;
    end loop;

    if exists (select 1 from pg_catalog.pg_proc p join pg_catalog.pg_namespace n on (n.oid = p.pronamespace)
                where n.nspname = 'pgq_node' and p.proname = 'maint_watermark')
       and to_regclass('pgq_node.node_info') is not null then
        for r in execute 'select queue_name from pgq_node.node_info where node_type = ''root'' order by 1' loop
            func_name := 'pgq_node.maint_watermark';
            func_arg := r.queue_name;
            return next;
        end loop;
    end if;

    if exists (select 1 from pg_catalog.pg_proc p join pg_catalog.pg_namespace n on (n.oid = p.pronamespace)
                where n.nspname = 'londiste' and p.proname = 'root_check_seqs')
       and to_regclass('pgq_node.node_info') is not null
       and to_regclass('londiste.seq_info') is not null then
        for r in execute 'select distinct s.queue_name from londiste.seq_info s'
                      || ' join pgq_node.node_info n on (n.queue_name = s.queue_name)'
                      || ' where s.local and n.node_type = ''root'' order by 1' loop
            func_name := 'londiste.root_check_seqs';
            func_arg := r.queue_name;
            return next;
        end loop;
    end if;

    if exists (select 1 from pg_catalog.pg_proc p join pg_catalog.pg_namespace n on (n.oid = p.pronamespace)
                where n.nspname = 'londiste' and p.proname = 'periodic_maintenance') then
        func_name := 'londiste.periodic_maintenance';
        func_arg := null;
        return next;
    end if;
end;
$$;

------------------------------------------------------------------------
-- Grants
------------------------------------------------------------------------

grant usage on schema pgq to public;

revoke all on table pgq.consumer, pgq.queue, pgq.tick, pgq.subscription,
                    pgq.event_template, pgq.retry_queue
    from public, pgq_reader, pgq_writer, pgq_admin;
grant select on table pgq.consumer, pgq.queue, pgq.tick, pgq.subscription to public;
grant select on table pgq.consumer, pgq.queue, pgq.tick, pgq.subscription to pgq_reader;
grant select, insert, update, delete on table pgq.consumer, pgq.queue, pgq.tick, pgq.subscription to pgq_admin;
grant select on table pgq.event_template to pgq_reader;
grant select, insert, truncate on table pgq.event_template to pgq_admin;
grant select, insert, update, delete on table pgq.retry_queue to pgq_admin;

do $grants$
declare
    r record;
    v_grant text;
begin
    -- every pgq function: revoke, then grant per role
    for r in
        select p.oid::regprocedure::text as sig, p.proname,
               pg_catalog.pg_get_function_identity_arguments(p.oid) as args
          from pg_catalog.pg_proc p
         where p.pronamespace = 'pgq'::regnamespace
    loop
        execute 'revoke all on function ' || r.sig || ' from public, pgq_reader, pgq_writer, pgq_admin';
        v_grant := case
            when r.proname in ('seq_getval', 'get_queue_info', 'get_consumer_info', 'quote_fqname',
                               'version', 'engine_version')
                then 'public'
            when r.proname in ('batch_event_sql', 'batch_event_tables', 'find_tick_helper',
                               'register_consumer', 'register_consumer_at', 'unregister_consumer',
                               'next_batch_info', 'next_batch', 'next_batch_custom',
                               'get_batch_events', 'get_batch_info', 'get_batch_cursor',
                               'event_retry', 'batch_retry', 'force_tick', 'finish_batch')
                then 'pgq_reader'
            when r.proname in ('insert_event', 'insert_event_bulk', 'current_event_table',
                               'jsontriga', 'sqltriga', 'logutriga')
                then 'pgq_writer'
            when r.proname in ('ticker', 'ticker_schedule', 'maint_retry_events',
                               'maint_rotate_tables_step1', 'maint_rotate_tables_step2',
                               'maint_tables_to_vacuum', 'maint_operations',
                               'upgrade_schema', 'grant_perms', '_grant_perms_from', 'tune_storage',
                               'seq_setval', 'create_queue', 'drop_queue', 'set_queue_config',
                               'insert_event_raw', 'event_retry_raw',
                               '_insert_event_core', '_insert_event_dyn', '_check_insert',
                               '_unticked_events', '_unticked_events_in', '_unticked_events_dyn', '_seq_last',
                               '_queue_seqs')
                then 'pgq_admin'
            else null
        end;
        if v_grant is not null then
            execute 'grant execute on function ' || r.sig || ' to ' || v_grant;
        end if;
    end loop;
end
$grants$;

-- re-apply per-queue privileges for queues made by an earlier install
do $$ begin perform pgq.grant_perms(queue_name) from pgq.queue; end $$;

commit;
