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
            ('pgq._regen_dispatch()', '', 'integer'),
            ('pgq._seq_last(regclass)', 'i_seq regclass', 'bigint'),
            ('pgq._trg_cache(text,oid,text,text,text[],text,text,boolean,text)', 'i_kind text, i_relid oid, i_schema text, i_table text, i_args text[], i_key text, i_hot text, i_force boolean, i_row text', 'text'),
            ('pgq._trg_fresh(text,text,text,oid)', 'i_hot text, i_light text, i_row text, i_relid oid', 'boolean'),
            ('pgq._trg_json(text,text,json,text[])', 'i_fmt text, i_kinds text, i_row json, i_vals text[]', 'text'),
            ('pgq._trg_json_type(text,text,text,text)', 'i_op text, i_schema text, i_table text, i_pkey text', 'text'),
            ('pgq._trg_pkey(oid)', 'i_relid oid', 'text'),
            ('pgq._trg_prepare(text,oid,text,text,text[],text)', 'i_kind text, i_relid oid, i_schema text, i_table text, i_args text[], i_sig text', 'text[]'),
            ('pgq._trg_raw_fast(text)', 'i_inner text', 'text[]'),
            ('pgq._trg_row(text,text,text,oid,text,text,text,text[],anyelement,anyelement)', 'i_kind text, i_op text, i_when text, i_relid oid, i_schema text, i_table text, i_name text, i_args text[], i_new anyelement, i_old anyelement', 'anyelement'),
            ('pgq._trg_sql_fast(text)', 'i_inner text', 'text[]'),
            ('pgq._trg_sql_wrap(text)', 'i_inner text', 'text'),
            ('pgq._trg_statement(text,text,text,oid,text,text,text[])', 'i_kind text, i_op text, i_when text, i_relid oid, i_schema text, i_table text, i_args text[]', 'void'),
            ('pgq._trg_strlist_has(text,text)', 'i_list text, i_name text', 'boolean'),
            ('pgq._trg_url_all(text)', 'i_inner text', 'text[]'),
            ('pgq._trg_url_fast(text)', 'i_row text', 'text[]'),
            ('pgq._trg_url_split(text)', 'i_encoded text', 'text[]'),
            ('pgq._trg_vals(text,text,integer)', 'i_kind text, i_inner text, i_n integer', 'text[]'),
            ('pgq._trg_vals_slow(text,integer,text)', 'i_inner text, i_n integer, i_how text', 'text[]'),
            ('pgq._unticked_events(integer,txid_snapshot)', 'i_queue_id integer, i_snap txid_snapshot', 'boolean'),
            ('pgq._unticked_events_nowait(integer,txid_snapshot)', 'i_queue_id integer, i_snap txid_snapshot', 'boolean'),
            ('pgq._unticked_events_dyn(integer,integer,bigint,bigint[])', 'i_queue_id integer, i_table integer, i_xmax bigint, i_xip bigint[]', 'boolean'),
            ('pgq._unticked_events_in(integer,integer,bigint,bigint[])', 'i_queue_id integer, i_table integer, i_xmax bigint, i_xip bigint[]', 'boolean'),
            ('pgq._urlencode(text)', 'i_str text', 'text'),
            ('pgq._urlencode_ascii(text)', 'i_str text', 'text'),
            ('pgq._urlencode_base(text)', 'i_str text', 'text'),
            ('pgq._urlencode_slow(text)', 'i_str text', 'text'),
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
            ('pgq.jsontriga()', '', 'trigger'),
            ('pgq.logutriga()', '', 'trigger'),
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
            ('pgq.sqltriga()', '', 'trigger'),
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

-- Functions of earlier versions that are gone.
drop function if exists pgq._queue_seqs();

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
    execute 'select coalesce((select max(ev_txid) from ' || v_tbl || '), 0) >= $1'
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
begin
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
        return pgq._unticked_events_in(i_queue_id,
                (q.queue_cur_table + q.queue_ntables - 1) % q.queue_ntables, v_xmax, v_xip);
    end if;
    return false;
end;
$$;

-- The probe must never make ticking wait: when an event table is locked
-- exclusively (a TRUNCATE queued behind a long reader, an explicit LOCK, a
-- rewrite), it gives up at once with null (unknown).
create or replace function pgq._unticked_events_locked(i_queue_id int4, i_snap txid_snapshot)
returns bool language plpgsql
set lock_timeout = '10ms' as $$
begin
    return pgq._unticked_events(i_queue_id, i_snap);
exception when lock_not_available then
    return null;
end;
$$;

-- The ticker's probe for late commits.  A negative answer holds until some
-- transaction ends, so it is remembered for the session together with the
-- snapshot it was computed under; a repeated question is then answered
-- without the subtransaction and the lock_timeout switch of the probe
-- itself, which made up most of an idle pgq.ticker() call.  When the probe
-- cannot get its lock, the answer is no: tick by the sequence alone, as the
-- C ticker always does.
create or replace function pgq._unticked_events_nowait(i_queue_id int4, i_snap txid_snapshot)
returns bool language plpgsql as $$
declare
    v_key text := 'pgq.unticked_' || i_queue_id::text;
    v_memo text := i_snap::text || '/' || txid_current_snapshot()::text;
    v_res bool;
begin
    if current_setting(v_key, true) = v_memo then
        return false;
    end if;
    v_res := pgq._unticked_events_locked(i_queue_id, i_snap);
    if v_res is null then
        return false;
    end if;
    if not v_res then
        perform set_config(v_key, v_memo, false);
    end if;
    return v_res;
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
    v_ev3 text[] := '{}';
    v_ev7 text[] := '{}';
    v_b1 text;
    v_b2 text;
    v_b3 text;
    v_b7 text;
    v_extras text;
    v_tbl text;
    v_n int4;
    v_ind text := '            ';
    v_seqscan text;
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
        -- insert_event() itself: the same steps without a call to
        -- _insert_event_core(), whose frame and arguments cost more than
        -- the insert on a one-event transaction
        v_b3 := v_ind || 'v_id := nextval(' || quote_literal(pgq.quote_fqname(q.queue_event_seq)) || '::regclass);' || E'\n'
            || v_ind || 'if i_disable or i_limit is not null then' || E'\n'
            || v_ind || '    perform pgq._check_insert(i_queue_id, insert_event.queue_name, i_disable, i_limit, 1);' || E'\n'
            || v_ind || 'end if;' || E'\n';
        v_b7 := v_b3;
        for v_n in 0 .. q.queue_ntables - 1 loop
            -- the same insert; the 3-argument form leaves the extras out
            v_tbl := v_ind || case when v_n = 0 then 'if' else 'elsif' end
                || ' i_cur_table = ' || v_n::text || ' then' || E'\n'
                || v_ind || '    insert into ' || pgq.quote_fqname(q.queue_data_pfx || '_' || v_n::text)
                || ' (ev_id, ev_time, ev_type, ev_data';
            v_b3 := v_b3 || v_tbl
                || ') values (v_id, now(), insert_event.ev_type, insert_event.ev_data);' || E'\n'
                || v_ind || '    return v_id;' || E'\n';
            v_b7 := v_b7 || v_tbl
                || ', ev_extra1, ev_extra2, ev_extra3, ev_extra4) values (v_id, now(),'
                || ' insert_event.ev_type, insert_event.ev_data, insert_event.ev_extra1,'
                || ' insert_event.ev_extra2, insert_event.ev_extra3, insert_event.ev_extra4);' || E'\n'
                || v_ind || '    return v_id;' || E'\n';
        end loop;
        v_ev3 := v_ev3 || (v_b3 || v_ind || 'end if;' || E'\n');
        v_ev7 := v_ev7 || (v_b7 || v_ind || 'end if;' || E'\n');
        v_ids := v_ids || q.queue_id;
        v_ins := v_ins || v_b1;
        v_bulk := v_bulk || v_b2;
        v_b1 := '';
        for v_n in 0 .. q.queue_ntables - 1 loop
            v_tbl := pgq.quote_fqname(q.queue_data_pfx || '_' || v_n::text);
            v_b1 := v_b1 || v_ind || case when v_n = 0 then 'if' else 'elsif' end
                || ' i_table = ' || v_n::text || ' then' || E'\n'
                || v_ind || '    return coalesce((select max(ev_txid) from ' || v_tbl || '), 0) >= i_xmax' || E'\n'
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

    -- The producer entry points, 7 and 3 arguments, which keep their owner
    -- and grants.  A queue the tree does not know (its tables were missing)
    -- takes the dynamic path.  Once pgq.queue has been analyzed, the planner
    -- reads its few pages sequentially rather than through queue_name_uq,
    -- which costs about 800 instructions per queue against one index
    -- descent's 8 000: past a dozen queues the lookup is pinned to the index.
    v_seqscan := case when coalesce(array_length(v_ids, 1), 0) > 12
                      then E'\nset enable_seqscan = off' else '' end;
    foreach v_n in array array[7, 3] loop
        v_extras := case when v_n = 7 then 'insert_event.ev_extra1, insert_event.ev_extra2, '
                                        || 'insert_event.ev_extra3, insert_event.ev_extra4'
                         else 'null, null, null, null' end;
        execute $f$
create or replace function pgq.insert_event(queue_name text, ev_type text, ev_data text$f$
    || case when v_n = 7 then ',
        ev_extra1 text, ev_extra2 text, ev_extra3 text, ev_extra4 text' else '' end || $f$)
returns bigint language plpgsql security definer
set search_path = ''$f$ || v_seqscan || $f$ as $body$
-- generated by pgq._regen_dispatch()
declare
    i_queue_id int4;
    i_cur_table int4;
    i_disable bool;
    i_limit int4;
    v_id int8;
begin
    select x.queue_id, x.queue_cur_table, x.queue_disable_insert, x.queue_per_tx_limit
      into i_queue_id, i_cur_table, i_disable, i_limit
      from pgq.queue x where x.queue_name = insert_event.queue_name;
    if not found then
        if insert_event.queue_name is null then
            raise exception 'Queue name must not be NULL';
        end if;
        raise exception 'No such queue';
    end if;
$f$ || pgq._gen_tree(v_ids, case when v_n = 7 then v_ev7 else v_ev3 end, 1,
                     coalesce(array_length(v_ids, 1), 0), '    ') || $f$
    return pgq._insert_event_dyn(i_queue_id, i_cur_table, insert_event.queue_name, i_disable, i_limit,
        null, now(), null, null, insert_event.ev_type, insert_event.ev_data, $f$ || v_extras || $f$);
end;
$body$
$f$;
    end loop;

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

    -- The probe must stay an index lookup however large the table: a cached
    -- generic plan for "ev_txid >= $1" or "= any ($1)" assumes a third of
    -- the rows match and seq-scans the table, so max() reads the newest
    -- txid from the index and the xip lookup is planned for its values.
    execute $f$
create or replace function pgq._unticked_events_in(i_queue_id int4, i_table int4, i_xmax int8, i_xip int8[])
returns bool language plpgsql
set plan_cache_mode = force_custom_plan as $body$
-- generated by pgq._regen_dispatch()
begin
$f$ || pgq._gen_tree(v_ids, v_probe, 1, coalesce(array_length(v_ids, 1), 0), '    ') || $f$
    return pgq._unticked_events_dyn(i_queue_id, i_table, i_xmax, i_xip);
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

-- pgq.insert_event() (both forms) is generated by pgq._regen_dispatch(),
-- run at the end of this section.

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

do $$ begin perform pgq._regen_dispatch(); end $$;

------------------------------------------------------------------------
-- Ticker
------------------------------------------------------------------------

-- Per ticked queue: seconds until pgq.ticker() would tick it (0 = due now)
-- and the number of events counted since its last tick.  Plain SQL, and
-- stable (the probe's memo is its only side effect), so that the planner
-- inlines it into the caller's query: pgq.ticker() runs on every wake of the
-- C pgqd.  A sequence never used yet is at its start value.
create or replace function pgq.ticker_schedule(out queue_name text, out due_in double precision, out new_events bigint)
returns setof record language sql stable as $$
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
               coalesce(pg_catalog.pg_sequence_last_value(ps.seqrelid), ps.seqstart) - t.tick_event_seq as n,
               now() - t.tick_time as l,
               (select p.tick_time from pgq.tick p
                 where p.tick_queue = q.queue_id and p.tick_id < t.tick_id
                 order by p.tick_queue desc, p.tick_id desc limit 1) as prev_time
          from pgq.queue q
          join pg_catalog.pg_sequence ps on (ps.seqrelid = q.queue_event_seq::regclass)
          left join lateral (select tick_id, tick_time, tick_snapshot, tick_event_seq
                               from pgq.tick
                              where tick_queue = q.queue_id
                              order by tick_queue desc, tick_id desc limit 1) t on true
         where not q.queue_external_ticker and not q.queue_ticker_paused) s
 order by s.queue_name
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
    -- Concurrent queue DDL waits on the advisory lock; the queue row itself
    -- is locked last (see below).
    perform pg_advisory_xact_lock(hashtext('pgq.queue_ddl'));
    select queue_id, queue_ntables, queue_data_pfx, queue_event_seq, queue_tick_seq into q
      from pgq.queue where queue_name = x_queue_name;
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

    -- Locks are taken in the order pgq.ticker() takes them (event sequence,
    -- tick sequence, then the queue row through the tick's foreign key), so
    -- a drop and a running ticker never deadlock.
    for v_n in 0 .. q.queue_ntables - 1 loop
        execute 'drop table if exists ' || pgq.quote_fqname(q.queue_data_pfx || '_' || v_n::text);
    end loop;
    execute 'drop table if exists ' || pgq.quote_fqname(q.queue_data_pfx);
    execute 'drop sequence if exists ' || pgq.quote_fqname(q.queue_event_seq);
    execute 'drop sequence if exists ' || pgq.quote_fqname(q.queue_tick_seq);
    perform 1 from pgq.queue where queue_id = q.queue_id for update;
    delete from pgq.tick where tick_queue = q.queue_id;
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

-- Step 2 marks the transaction id from which on writers no longer use the
-- table step 1 left: a batch whose transactions all have larger ids is read
-- from the current table alone.  A session whose snapshot predates step 1
-- (a repeatable-read or serializable transaction, or a statement running
-- since) still sees the old table as current, and may yet write to it under
-- a transaction id it has not taken: step 2 waits until no such snapshot is
-- left in this database.  It waits up to two seconds, which outlasts the
-- statements of a busy producer, and otherwise leaves the queue to the next
-- maintenance round.  Seeing other sessions' snapshots takes superuser or
-- pg_read_all_stats, hence SECURITY DEFINER; an installing role without
-- either leaves step 2 as in pgq 3.5, which does not wait.
create or replace function pgq._snapshot_before(i_txid int8)
returns bool language sql stable as $$
    select exists (
        select 1 from pg_catalog.pg_stat_activity a
         where a.datname = pg_catalog.current_database()
           and a.pid <> pg_catalog.pg_backend_pid()
           -- backend_xmin <= i_txid, in 32-bit transaction ids
           and pg_catalog.age(a.backend_xmin)
               >= pg_catalog.txid_snapshot_xmax(pg_catalog.txid_current_snapshot()) - i_txid)
$$;

create or replace function pgq.maint_rotate_tables_step2()
returns integer language plpgsql security definer
set search_path = '' as $$
declare
    v_until timestamptz := pg_catalog.clock_timestamp() + interval '2 seconds';
begin
    while exists (select 1 from pgq.queue q
                   where q.queue_switch_step2 is null and pgq._snapshot_before(q.queue_switch_step1))
          and pg_catalog.clock_timestamp() < v_until
    loop
        perform pg_catalog.pg_sleep(0.005);
        -- pg_stat_activity is read once per transaction otherwise
        perform pg_catalog.pg_stat_clear_snapshot();
    end loop;
    update pgq.queue q set queue_switch_step2 = pg_catalog.txid_current()
     where q.queue_switch_step2 is null and not pgq._snapshot_before(q.queue_switch_step1);
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
-- Producer triggers: logutriga, sqltriga, jsontriga
------------------------------------------------------------------------
-- A row's payload is built from its composite text form (NEW::text), which
-- prints every column with its type's output function, as the original
-- does.  A fixed chain of replace() calls turns that text into URL-encoded
-- values, SQL literals or plain values in one pass, so the work per row
-- stays in C string functions.  A row with a value that holds a comma, is
-- an empty string or (for URL encoding) has characters outside printable
-- ASCII takes a per-value path instead.  Value arrays have n + 2 elements:
-- column i is element i + 1.
--
-- What a trigger needs to know about its table (columns, primary key,
-- payload formats, parsed arguments) is kept for the session in two custom
-- settings per trigger, checked cheaply once per client statement and
-- against the catalog at most once a second (see _trg_cache).  The trigger
-- functions handle an INSERT that needs nothing but its payload; options
-- that act on each row, UPDATE and DELETE go to _trg_row().

-- URL encoding of printable ASCII, except for commas, double quotes,
-- backslashes and spaces: '%' plus two lowercase hex digits.  A replace()
-- that finds nothing costs less than a regular expression that would say
-- so, hence no checks.
create or replace function pgq._urlencode_base(i_str text)
returns text language sql immutable as $$
select replace(replace(replace(replace(replace(replace(replace(replace(replace(replace(replace(replace(replace(
       replace(replace(replace(replace(replace(replace(replace(replace(replace(replace(replace(replace(replace(
    i_str, '%', '%25'), '+', '%2b'), '''', '%27'), '(', '%28'), ')', '%29'), ':', '%3a'),
    '/', '%2f'), '&', '%26'), '=', '%3d'), '!', '%21'), '#', '%23'), '$', '%24'), '*', '%2a'),
    ';', '%3b'), '<', '%3c'), '>', '%3e'), '?', '%3f'), '@', '%40'), '[', '%5b'), ']', '%5d'),
    '^', '%5e'), '`', '%60'), '{', '%7b'), '|', '%7c'), '}', '%7d'), '~', '%7e')
$$;

-- URL encoding of printable ASCII: [A-Za-z0-9_.-] stay, space becomes '+'.
create or replace function pgq._urlencode_ascii(i_str text)
returns text language sql immutable as $$
select replace(replace(replace(replace(pgq._urlencode_base(i_str),
    ',', '%2c'), '"', '%22'), E'\\', '%5c'), ' ', '+')
$$;

-- Characters outside printable ASCII are encoded byte by byte in the
-- server encoding, as the original encodes the bytes of the text.
create or replace function pgq._urlencode_slow(i_str text)
returns text language plpgsql immutable strict as $$
declare
    v_res text := pgq._urlencode_ascii(i_str);
    v_ch text;
begin
    for v_ch in
        select distinct m[1] from regexp_matches(v_res, E'([^\\x20-\\x7e])', 'g') m
    loop
        v_res := replace(v_res, v_ch, regexp_replace(encode(textsend(v_ch), 'hex'), '(..)', E'%\\1', 'g'));
    end loop;
    return v_res;
end;
$$;

-- URL encoding as the triggers do it: bytes [A-Za-z0-9_.-] are kept, space
-- becomes '+', any other byte '%' plus two lowercase hex digits.
create or replace function pgq._urlencode(i_str text)
returns text language sql immutable as $$
select case when i_str ~ E'[^\\x20-\\x7e]' then pgq._urlencode_slow(i_str)
            else pgq._urlencode_ascii(i_str) end
$$;

-- The values of a row's text form for logutriga, from that text already
-- URL-encoded except for its commas, double quotes, backslashes and
-- spaces, and with its parentheses turned into commas: '' for NULL,
-- otherwise '=' and the encoded value.  ',' separates values, '!' marks a
-- quoted one and '*' a NULL, since the encoding leaves none of these in
-- the values.  An element count other than n + 2 means a value held a
-- comma (or a parenthesis, for _trg_url_fast).
create or replace function pgq._trg_url_split(i_encoded text)
returns text[] language sql immutable as $$
select string_to_array(
    replace(replace(replace(replace(replace(replace(replace(replace(replace(replace(
        i_encoded,
        ',"', ',!'), '",', ','), '""', '%22'), E'\\\\', '%5c'), ' ', '+'),
        ',,', ',*,'), ',,', ',*,'), ',', ',='), '=*', ''), '=!', '='),
    ',')
$$;

-- _trg_url_split for the rows an INSERT usually writes, given the row
-- text with its parentheses turned into commas: only the characters common
-- in row texts are handled, which keeps the expression (set up again in
-- every transaction) short.  NULL: use _trg_url_all.
create or replace function pgq._trg_url_fast(i_row text)
returns text[] language sql immutable as $$
select case when i_row ~ E'[^-A-Za-z0-9_., "\\\\%+:''/&=]' then null
    else pgq._trg_url_split(replace(replace(replace(replace(replace(replace(replace(i_row,
        '%', '%25'), '+', '%2b'), '''', '%27'), ':', '%3a'), '/', '%2f'), '&', '%26'), '=', '%3d'))
end
$$;

-- _trg_url_split for any printable ASCII, given the inside of the row
-- text.  NULL: use _trg_vals_slow.
create or replace function pgq._trg_url_all(i_inner text)
returns text[] language sql immutable as $$
select case when i_inner ~ E'[^\\x20-\\x7e]' then null
    else pgq._trg_url_split(',' || pgq._urlencode_base(i_inner) || ',')
end
$$;

-- The inside of a row's text form as SQL literals between commas, for the
-- fast path: apostrophes doubled, every value wrapped in apostrophes, the
-- row text's own quotes around a value dropped, an empty value (NULL)
-- written null.  Backslashes are already doubled in the row text, as
-- quote_literal() wants them.
create or replace function pgq._trg_sql_wrap(i_inner text)
returns text language sql immutable as $$
select replace(replace(replace(replace(replace(replace(
    ',' || replace(i_inner, '''', '''''') || ',',
    ',', ''','''), ',''"', ','''), '"'',', ''','),
    ','''',', ',null,'), ','''',', ',null,'), '""', '"')
$$;

-- The values of a row's text form as SQL literals, quote_literal() style:
-- null for NULL, E'...' when the value holds a backslash.  NULL (and a
-- wrong element count) means: use _trg_vals_slow.
create or replace function pgq._trg_sql_fast(i_inner text)
returns text[] language sql immutable as $$
select case
    when strpos(',' || i_inner || ',', ',"",') > 0 then null
    when strpos(i_inner, E'\\') = 0 then string_to_array(pgq._trg_sql_wrap(i_inner), ',')
    else string_to_array(regexp_replace(pgq._trg_sql_wrap(i_inner),
             E',''(?=[^,]*\\\\)', ',E''', 'g'), ',')
end
$$;

-- The values of a row's text form as text.  NULL (and a wrong element
-- count) means: use _trg_vals_slow.
create or replace function pgq._trg_raw_fast(i_inner text)
returns text[] language sql immutable as $$
select case when strpos(',' || i_inner || ',', ',"",') > 0 then null else string_to_array(
    replace(replace(replace(replace(',' || i_inner || ',',
        ',"', ','), '",', ','), '""', '"'), E'\\\\', E'\\'),
    ',', '') end
$$;

-- The general path: splits the row text at its commas, joining the parts
-- of a quoted value (complete once it holds an even number of quotes),
-- and returns the values like the fast functions do for i_how l (URL),
-- s (SQL literals) or anything else (text).  The element count is the
-- row's, whatever i_n says.
create or replace function pgq._trg_vals_slow(i_inner text, i_n int4, i_how text)
returns text[] language plpgsql immutable as $$
declare
    v_parts text[];
    v_res text[] := array[null];
    v_tok text;
    v_val text;
    v_i int4 := 1;
    v_cnt int4;
begin
    if i_inner = '' then
        -- no columns, or one that is NULL
        v_parts := case when i_n = 0 then '{}'::text[] else array[''] end;
    else
        v_parts := string_to_array(i_inner, ',');
    end if;
    v_cnt := cardinality(v_parts);
    while v_i <= v_cnt loop
        v_tok := v_parts[v_i];
        if left(v_tok, 1) = '"' then
            while (length(v_tok) - length(replace(v_tok, '"', ''))) % 2 = 1 and v_i < v_cnt loop
                v_i := v_i + 1;
                v_tok := v_tok || ',' || v_parts[v_i];
            end loop;
            v_val := replace(replace(substr(v_tok, 2, length(v_tok) - 2), '""', '"'), E'\\\\', E'\\');
        elsif v_tok = '' then
            v_val := null;
        else
            v_val := v_tok;
        end if;
        v_res := v_res || case i_how
            when 'l' then case when v_val is null then '' else '=' || pgq._urlencode(v_val) end
            when 's' then coalesce(quote_literal(v_val), 'null')
            else v_val end;
        v_i := v_i + 1;
    end loop;
    return v_res || null::text;
end;
$$;

-- Whether a column name is in a trigger's column list (ignore=, pkey=):
-- the name must occur bounded by the ends of the list, commas or spaces.
create or replace function pgq._trg_strlist_has(i_list text, i_name text)
returns bool language plpgsql immutable strict as $$
declare
    v_from int4 := 1;
    v_at int4;
    v_len int4 := length(i_name);
begin
    if v_len = 0 then
        return false;
    end if;
    loop
        v_at := strpos(substr(i_list, v_from), i_name);
        exit when v_at = 0;
        v_at := v_at + v_from - 1;
        if (v_at = 1 or substr(i_list, v_at - 1, 1) in (',', ' '))
           and (v_at + v_len > length(i_list) or substr(i_list, v_at + v_len, 1) in (',', ' ')) then
            return true;
        end if;
        v_from := v_at + 1;
    end loop;
    return false;
end;
$$;

-- The primary key columns of a table in index order, comma-separated; ''
-- when it has none.
create or replace function pgq._trg_pkey(i_relid oid)
returns text language sql stable as $$
select coalesce((
    select string_agg(a.attname::text, ',' order by k.ord)
      from pg_catalog.pg_index i
     cross join lateral unnest(i.indkey::int2[]) with ordinality k(attnum, ord)
      join pg_catalog.pg_attribute a on a.attrelid = i.indrelid and a.attnum = k.attnum
     where i.indrelid = i_relid and i.indisprimary), '')
$$;

-- The ev_type of jsontriga: operation, table and key list as JSON.
create or replace function pgq._trg_json_type(i_op text, i_schema text, i_table text, i_pkey text)
returns text language sql immutable as $$
select '{"op":' || to_json(i_op)::text || ',"table":[' || to_json(i_schema)::text || ','
    || to_json(i_table)::text || '],"pkey":['
    || coalesce((select string_agg(to_json(k)::text, ',' order by o)
                   from unnest(string_to_array(i_pkey, ',')) with ordinality u(k, o)), '')
    || ']}'
$$;

-- Parses a row trigger's arguments and describes its table: what the
-- trigger keeps for the session.  Elements:
--   [1] unused                              [2] catalog signature it was built from
--   [3] number of columns                   [4] F: an INSERT needs only the payload
--   [5] default ev_extra1 (schema.table)    [6] flags: S skip, B backup, D deny, I ignore= given
--   [7] when= expression                    [8] unused
--   [9] first unknown _pgq_ev_* column      [10] key list (as given, or found)
--   [11]..[13] ev_type for I, U, D          [14] payload format (URL, INSERT or JSON)
--   [15] URL payload format                 [16] positions of _pgq_ev_type, _data, _extra1..4
--   [17] key column positions               [18] per column: p payload, x left out
--   [19] quote_ident() names                [20] per column: t compare text, d compare with =
--   [21] names                              [22] per column JSON kind: j, q or s
--   [23] F: row_to_json() is the JSON payload as is
--   [24] query for the ev_*= expressions    [25] which of them are given
--   [26] regexp that quotes the numbers in row_to_json() for jsontriga
--   [27] row_to_json() of a row as a LIKE pattern: the names in order
create or replace function pgq._trg_prepare(i_kind text, i_relid oid, i_schema text, i_table text,
        i_args text[], i_sig text)
returns text[] language plpgsql as $$
declare
    v_arg text;
    v_flags text := '';
    v_ignore text;
    v_pkey text;
    v_when text;
    v_expr text[] := array[null, null, null, null, null, null]::text[];
    v_magic int4[] := array[0, 0, 0, 0, 0, 0];
    v_bad_magic text;
    v_pkpos int4[] := '{}';
    v_incl text := '';
    v_modes text := '';
    v_jkinds text := '';
    v_json_fast bool := true;
    v_json_quote text;
    v_skeleton text;
    v_names text[] := '{}';
    v_qnames text[] := '{}';
    v_fmt_url text[] := '{}';
    v_fmt_cols text[] := '{}';
    v_fmt_vals text[] := '{}';
    v_fmt_json text[] := '{}';
    v_n int4 := 0;
    v_base oid;
    v_typtype "char";
    v_typcat "char";
    v_next oid;
    v_mode text;
    v_sel text[] := '{}';
    v_given text := '';
    v_query text;
    r record;
    i int4;
begin
    for i in array_lower(i_args, 1) + 1 .. array_upper(i_args, 1) loop
        v_arg := i_args[i];
        if v_arg = 'SKIP' then
            v_flags := v_flags || 'S';
        elsif v_arg = 'backup' then
            v_flags := v_flags || 'B';
        elsif v_arg = 'deny' then
            v_flags := v_flags || 'D';
        elsif left(v_arg, 7) = 'ignore=' then
            v_ignore := substr(v_arg, 8);
        elsif left(v_arg, 5) = 'pkey=' then
            v_pkey := substr(v_arg, 6);
        elsif left(v_arg, 5) = 'when=' then
            v_when := substr(v_arg, 6);
        elsif left(v_arg, 8) = 'ev_type=' then
            v_expr[1] := substr(v_arg, 9);
        elsif left(v_arg, 8) = 'ev_data=' then
            v_expr[2] := substr(v_arg, 9);
        elsif v_arg ~ '^ev_extra[1-4]=' then
            v_expr[2 + substr(v_arg, 9, 1)::int4] := substr(v_arg, 11);
        else
            raise exception 'bad param to pgq trigger';
        end if;
    end loop;
    if v_ignore is not null then
        v_flags := v_flags || 'I';
    end if;
    if v_pkey is null then
        v_pkey := pgq._trg_pkey(i_relid);
    end if;

    for r in
        select a.attname::text as name, a.atttypid as typ,
               coalesce((select c.collisdeterministic from pg_catalog.pg_collation c
                          where c.oid = a.attcollation), true) as det
          from pg_catalog.pg_attribute a
         where a.attrelid = i_relid and a.attnum > 0 and not a.attisdropped
         order by a.attnum
    loop
        v_n := v_n + 1;
        v_names := v_names || r.name;
        v_qnames := v_qnames || quote_ident(r.name);

        -- which columns make up the payload
        if left(r.name, 8) = '_pgq_ev_' then
            case r.name
                when '_pgq_ev_type' then v_magic[1] := v_n;
                when '_pgq_ev_data' then v_magic[2] := v_n;
                when '_pgq_ev_extra1' then v_magic[3] := v_n;
                when '_pgq_ev_extra2' then v_magic[4] := v_n;
                when '_pgq_ev_extra3' then v_magic[5] := v_n;
                when '_pgq_ev_extra4' then v_magic[6] := v_n;
                else v_bad_magic := coalesce(v_bad_magic, r.name);
            end case;
            v_incl := v_incl || 'x';
        elsif v_ignore is not null and pgq._trg_strlist_has(v_ignore, r.name) then
            v_incl := v_incl || 'x';
        else
            v_incl := v_incl || 'p';
            -- format() positions: column i is argument i + 1
            v_fmt_url := v_fmt_url || (replace(pgq._urlencode(r.name), '%', '%%') || '%' || (v_n + 1) || '$s');
            v_fmt_cols := v_fmt_cols || replace(quote_ident(r.name), '%', '%%');
            v_fmt_vals := v_fmt_vals || ('%' || (v_n + 1) || '$s');
            v_fmt_json := v_fmt_json || (replace(to_json(r.name)::text, '%', '%%') || ':%' || (v_n + 1) || '$s');
        end if;
        if pgq._trg_strlist_has(v_pkey, r.name) then
            v_pkpos := v_pkpos || v_n;
        end if;

        -- How to tell whether an UPDATE changed the column.  The original
        -- uses the type's = operator, and compares the text output for
        -- arrays and for types without one.  For the types listed, equal
        -- text means equal values; other types can have equal values with
        -- different text (numeric 1.0 and 1.00).
        v_base := r.typ;
        loop
            select t.typtype, t.typcategory, t.typbasetype into v_typtype, v_typcat, v_next
              from pg_catalog.pg_type t where t.oid = v_base;
            exit when v_typtype <> 'd';
            v_base := v_next;
        end loop;
        if v_base in (16, 17, 18, 19, 20, 21, 23, 25, 26, 28, 650, 774, 829, 869, 1043,
                      1082, 1083, 1114, 1184, 1266, 1560, 1562, 2950, 3220, 5069) then
            v_mode := case when r.det then 't' else 'd' end;
        elsif v_typcat = 'A' or v_typtype = 'e' then
            v_mode := 't';
        elsif v_typtype in ('c', 'r', 'm') then
            v_mode := 'd';
        elsif exists (select 1 from pg_catalog.pg_opclass oc
                        join pg_catalog.pg_am am on am.oid = oc.opcmethod
                       where oc.opcdefault and am.amname in ('btree', 'hash') and oc.opcintype = v_base) then
            v_mode := 'd';
        else
            v_mode := 't';
        end if;
        v_modes := v_modes || v_mode;

        -- jsontriga writes int2/4/8 as numbers, bool as true/false, date
        -- and timestamps in JSON format, and every other type (domains
        -- included) as a string of its text output.  j: row_to_json()
        -- writes the column that way; q: it writes a bare number; s:
        -- neither.
        if r.typ in (16, 17, 18, 19, 20, 21, 23, 25, 26, 28, 650, 774, 829, 869, 1042, 1043,
                     1082, 1083, 1114, 1184, 1186, 1266, 1560, 1562, 2950) then
            v_jkinds := v_jkinds || 'j';
        elsif r.typ in (700, 701, 1700) then
            v_jkinds := v_jkinds || 'q';
            v_json_fast := false;
        else
            v_jkinds := v_jkinds || 's';
            v_json_fast := false;
        end if;
    end loop;
    if strpos(v_incl, 'x') > 0 then
        v_json_fast := false;
    end if;
    -- Numbers that row_to_json() writes bare but jsontriga quotes: with no
    -- column of kind s (which could embed JSON of its own), "name": occurs
    -- in row_to_json() only as a key, and a number starts with - or a digit
    -- (null, "NaN" and "Infinity" do not).
    if strpos(v_incl, 'x') = 0 and strpos(v_jkinds, 's') = 0 and strpos(v_jkinds, 'q') > 0 then
        select '(' || string_agg(regexp_replace(to_json(n)::text || ':', E'([.^$*+?()[\\]{}|\\\\])', E'\\\\\\1', 'g'), '|')
               || ')(-?[0-9][^,}]*)'
          into v_json_quote
          from unnest(v_names) with ordinality u(n, o)
         where substr(v_jkinds, o::int4, 1) = 'q';
    end if;

    -- one query evaluates every ev_*= expression over the row; an empty
    -- expression gives NULL
    for i in 1 .. 6 loop
        if v_expr[i] is not null then
            v_given := v_given || '1';
            v_sel := v_sel || format('case when pg_catalog.num_nulls(x%s) = 0 then pg_catalog.format(''%%s'', x%s) end', i, i);
        else
            v_given := v_given || '0';
            v_sel := v_sel || 'null::text'::text;
        end if;
    end loop;
    -- what row_to_json() of a row looks like, as a LIKE pattern: the
    -- names in order
    v_skeleton := '{' || coalesce((select string_agg(
                      replace(replace(replace(to_json(n)::text, E'\\', E'\\\\'), '%', E'\\%'), '_', E'\\_') || ':%',
                      ',' order by o)
                   from unnest(v_names) with ordinality u(n, o)), '') || '}';

    if strpos(v_given, '1') > 0 then
        v_query := 'select ' || array_to_string(v_sel, ', ') || ' from (select '
            || (select string_agg(case when e is null or e = '' then 'null::text' else '(' || e || ')' end
                                  || ' as x' || o, ', ' order by o)
                  from unnest(v_expr) with ordinality u(e, o))
            || ' from (select ($1).*) r) s';
    end if;

    return array[
        null, i_sig, v_n::text,
        case when v_flags !~ '[SD]' and v_when is null and v_query is null
                  and v_magic = array[0, 0, 0, 0, 0, 0] and v_bad_magic is null
             then 'F' else '' end,
        i_schema || '.' || i_table, v_flags, v_when, null, v_bad_magic, v_pkey,
        case i_kind when 'l' then 'I:' || v_pkey when 's' then 'I'
             else pgq._trg_json_type('INSERT', i_schema, i_table, v_pkey) end,
        case i_kind when 'l' then 'U:' || v_pkey when 's' then 'U'
             else pgq._trg_json_type('UPDATE', i_schema, i_table, v_pkey) end,
        case i_kind when 'l' then 'D:' || v_pkey when 's' then 'D'
             else pgq._trg_json_type('DELETE', i_schema, i_table, v_pkey) end,
        case i_kind
            when 'l' then array_to_string(v_fmt_url, '&')
            when 's' then '(' || array_to_string(v_fmt_cols, ',') || ') values ('
                          || array_to_string(v_fmt_vals, ',') || ')'
            else '{' || array_to_string(v_fmt_json, ',') || '}'
        end,
        array_to_string(v_fmt_url, '&'),
        v_magic::text, v_pkpos::text, v_incl,
        v_qnames::text, v_modes, v_names::text, v_jkinds,
        case when v_json_fast then 'F' else '' end,
        v_query, v_given, v_json_quote, v_skeleton];
end;
$$;

-- The check of each statement (see _trg_cache), on i_hot as it is: true
-- when the description still holds.  SQL, so that it is inlined.
create or replace function pgq._trg_fresh(i_hot text, i_light text, i_row text, i_relid oid)
returns bool language sql stable as $$
select split_part(i_hot, chr(1), 14) = i_light
   and date_part('epoch', statement_timestamp()) - coalesce(nullif(split_part(i_hot, chr(1), 11), ''), '0')::float8 < 1
   and i_row like split_part(i_hot, chr(1), 12)
   and split_part(i_hot, chr(1), 13) in ('X', coalesce(pg_get_replica_identity_index(i_relid)::oid::text, ''))
$$;

-- The session's description of a row trigger, checked once per client
-- statement (a table cannot change while a statement that writes it
-- runs), and rebuilt when the table or the trigger changed; i_force
-- rebuilds it regardless.  The check of each statement is cheap: the
-- names of i_row (row_to_json() of the row) must match the description's,
-- the table's name and the trigger's arguments must be the same, and so
-- must the primary key index (from the relation cache, for tables whose
-- replica identity is the primary key).  The catalog itself is read at
-- most once a second: a column that changes its type alone, or the key of
-- a table with another replica identity, takes effect within a second.
--
-- Two settings: i_key holds the fields an INSERT needs and those of the
-- check, separated by chr(1) and read with split_part(), which costs less
-- than an array:
--   [1] statement checked (statement_timestamp() as epoch)
--   [2] F: an INSERT needs only the payload ('' otherwise, and [4]..[7]
--   empty)  [3] number of columns  [4] ev_type  [5] ev_extra1  [6] payload
--   format  [7] F: row_to_json() is the JSON payload  [8] catalog
--   signature  [9] JSON kinds  [10] regexp quoting numbers in
--   row_to_json()  [11] time of the last catalog read  [12] LIKE pattern
--   of row_to_json()  [13] primary key index, or X if the replica identity
--   is not the key  [14] table name and trigger arguments
-- and i_key || '_all' holds the whole description from _trg_prepare.
-- i_hot is the first as read by the caller; returns its new value.
create or replace function pgq._trg_cache(i_kind text, i_relid oid, i_schema text, i_table text,
        i_args text[], i_key text, i_hot text, i_force bool, i_row text)
returns text language plpgsql as $$
declare
    v_now float8 := date_part('epoch', statement_timestamp());
    v_light text;
    v_sig text;
    v_ident text;
    c text[];
    v_hot text[];
    v_hot1 text;
begin
    if coalesce(cardinality(i_args), 0) < 1 then
        raise exception 'pgq trigger must have destination queue as argument';
    end if;
    v_light := i_schema || '|' || i_table || '|' || i_args::text;
    -- the check of each statement, on the string as it is
    if not i_force and pgq._trg_fresh(i_hot, v_light, i_row, i_relid) then
        -- assignments, unlike PERFORM, take the fast path for expressions
        v_hot1 := set_config(i_key, v_now::text || substr(i_hot, strpos(i_hot, chr(1))), false);
        return v_hot1;
    end if;
    v_hot := string_to_array(i_hot, chr(1));
    -- columns with types and collations, the primary key and the
    -- replica identity
    select array_agg(a.attname)::text || array_agg(a.atttypid::int8 * 4294967296 + a.attcollation::int8)::text
           || coalesce((select i.indkey::text from pg_catalog.pg_index i
                         where i.indrelid = i_relid and i.indisprimary), ''),
           (select case when r.relreplident = 'd'
                        then coalesce(pg_get_replica_identity_index(r.oid)::oid::text, '') else 'X' end
              from pg_catalog.pg_class r where r.oid = i_relid)
      into v_sig, v_ident
      from pg_catalog.pg_attribute a
     where a.attrelid = i_relid and a.attnum > 0 and not a.attisdropped;
    v_sig := coalesce(v_sig, '') || '|' || v_light;
    if i_force or cardinality(v_hot) is distinct from 14 or v_hot[8] is distinct from v_sig then
        c := pgq._trg_prepare(i_kind, i_relid, i_schema, i_table, i_args, v_sig);
        perform set_config(i_key || '_all', c::text, false);
        v_hot := array[null, c[4], c[3], c[11], c[5], c[14], c[23], v_sig, c[22], c[26],
                       null, c[27], null, v_light];
        if strpos(array_to_string(v_hot, ''), chr(1)) > 0 then
            -- a field with chr(1) would break the split: no fast path,
            -- and a check that always fails
            v_hot := array[null, '', c[3], '', '', '', '', v_sig, '', '', null, '', null, ''];
        end if;
    end if;
    v_hot[11] := v_now::text;
    v_hot[13] := v_ident;
    v_hot[1] := v_now::text;
    v_hot1 := set_config(i_key, array_to_string(v_hot, chr(1), ''), false);
    return v_hot1;
end;
$$;

-- jsontriga payload when row_to_json() alone does not give it: per column
-- the row_to_json() value (kind j), that value quoted (q), or the text
-- output from i_vals as a JSON string (s).
create or replace function pgq._trg_json(i_fmt text, i_kinds text, i_row json, i_vals text[])
returns text language plpgsql immutable as $$
declare
    v_res text;
begin
    select format(i_fmt, variadic array[''] || array_agg(
               case substr(i_kinds, j.o::int4, 1)
                   when 'j' then j.v::text
                   when 'q' then case when j.v::text = 'null' or left(j.v::text, 1) = '"' then j.v::text
                                      else '"' || j.v::text || '"' end
                   else coalesce(to_json(i_vals[j.o + 1])::text, 'null')
               end order by j.o))
      into v_res
      from json_each(i_row) with ordinality j(k, v, o);
    return coalesce(v_res, format(i_fmt));
end;
$$;

-- Statement-level firing: only TRUNCATE is valid.  Checks the arguments
-- (no column options apply) and queues the R event.
create or replace function pgq._trg_statement(i_kind text, i_op text, i_when text, i_relid oid,
        i_schema text, i_table text, i_args text[])
returns void language plpgsql as $$
declare
    v_arg text;
    v_skip bool := false;
    v_deny bool := false;
    v_type text;
    v_data text;
    i int4;
begin
    if current_setting('session_replication_role') = 'local' then
        return;
    end if;
    if i_op <> 'TRUNCATE' then
        raise exception 'pgq Ins/Upd/Del trigger must be fired FOR EACH ROW';
    end if;
    if coalesce(cardinality(i_args), 0) < 1 then
        raise exception 'pgq trigger must have destination queue as argument';
    end if;
    for i in array_lower(i_args, 1) + 1 .. array_upper(i_args, 1) loop
        v_arg := i_args[i];
        if v_arg = 'SKIP' then
            v_skip := true;
        elsif v_arg = 'backup' then
            raise exception 'Backup does not make sense for truncate trigger';
        elsif v_arg = 'deny' then
            v_deny := true;
        elsif left(v_arg, 7) = 'ignore=' then
            raise exception 'Column ignore does not make sense for truncate trigger';
        elsif left(v_arg, 5) = 'pkey=' then
            raise exception 'Custom pkey_list does not make sense for truncate trigger';
        elsif left(v_arg, 5) = 'when=' or left(v_arg, 8) in ('ev_type=', 'ev_data=')
              or v_arg ~ '^ev_extra[1-4]=' then
            -- sic: the original's text
            raise exception 'Custom expressions do not make sense for truncater trigger';
        else
            raise exception 'bad param to pgq trigger';
        end if;
    end loop;
    if v_skip and i_when <> 'BEFORE' then
        raise exception 'SKIP does not work in AFTER trigger.';
    end if;
    if v_deny then
        raise exception 'Table ''%.%'' to queue ''%'': change not allowed (TRUNCATE)',
            i_schema, i_table, i_args[array_lower(i_args, 1)];
    end if;
    if i_kind = 'j' then
        v_type := pgq._trg_json_type('TRUNCATE', i_schema, i_table, pgq._trg_pkey(i_relid));
        v_data := '{}';
    else
        v_type := 'R';
        v_data := '';
    end if;
    perform pgq.insert_event(i_args[array_lower(i_args, 1)], v_type, v_data,
        i_schema || '.' || i_table, null, null, null);
end;
$$;

-- The values of a row text for trigger kind i_kind: URL (l), SQL literals
-- (s) or text (j); n + 2 elements unless the description is stale.
create or replace function pgq._trg_vals(i_kind text, i_inner text, i_n int4)
returns text[] language plpgsql immutable as $$
declare
    v_vals text[];
begin
    v_vals := case i_kind when 'l' then pgq._trg_url_all(i_inner)
                          when 's' then pgq._trg_sql_fast(i_inner)
                          else pgq._trg_raw_fast(i_inner) end;
    if v_vals is null or cardinality(v_vals) <> i_n + 2 then
        v_vals := pgq._trg_vals_slow(i_inner, i_n, i_kind);
    end if;
    return v_vals;
end;
$$;

-- Everything a row trigger does beyond an INSERT's plain payload: the
-- options, UPDATE and DELETE.  Returns what the trigger returns.
create or replace function pgq._trg_row(i_kind text, i_op text, i_when text, i_relid oid,
        i_schema text, i_table text, i_name text, i_args text[], i_new anyelement, i_old anyelement)
returns anyelement language plpgsql as $$
declare
    v_id int8;
    v_key text;
    v_hot text;
    c text[];
    v_n int4;
    v_inner text;
    v_oinner text;
    v_vals text[];
    v_ovals text[];
    v_raw text[];
    v_pk int4[];
    v_magic int4[];
    v_names text[];
    v_qnames text[];
    v_type text;
    v_data text;
    v_extra1 text;
    v_extra2 text;
    v_extra3 text;
    v_extra4 text;
    v_x1 text;
    v_x2 text;
    v_x3 text;
    v_x4 text;
    v_x5 text;
    v_x6 text;
    v_any bool := false;
    v_interesting bool := false;
    v_set text := '';
    v_where text := '';
    v_eq bool;
    v_typ oid;
    v_wtext text;
    v_p int4;
    v_i int4;
begin
    -- session_replication_role = local: the trigger does nothing at all
    if current_setting('session_replication_role') = 'local' then
        if i_when <> 'AFTER' then
            if i_op = 'DELETE' then
                return i_old;
            end if;
            return i_new;
        end if;
        return null;
    end if;

    v_key := 'pgq.trg_' || i_relid::text || '_' || to_hex(hashtext(i_name));
    v_hot := current_setting(v_key, true);
    if split_part(v_hot, chr(1), 1) is distinct from date_part('epoch', statement_timestamp())::text then
        perform pgq._trg_cache(i_kind, i_relid, i_schema, i_table, i_args, v_key, v_hot, false,
            row_to_json(case when i_op = 'DELETE' then i_old else i_new end)::text);
    end if;
    c := current_setting(v_key || '_all')::text[];

    -- the original's checks, in its order
    if i_op <> 'INSERT' and c[10] = '' then
        raise exception 'Update/Delete on table without pkey';
    end if;
    if i_when = 'AFTER' and strpos(c[6], 'S') > 0 then
        raise exception 'SKIP does not work in AFTER trigger.';
    end if;
    if strpos(c[6], 'D') > 0 then
        raise exception 'Table ''%.%'' to queue ''%'': change not allowed (%)',
            i_schema, i_table, i_args[array_lower(i_args, 1)], i_op;
    end if;
    if c[9] is not null then
        raise exception 'Unknown magic column: %', c[9];
    end if;

    <<event>>
    begin
        if i_op = 'DELETE' then
            v_inner := btrim(i_old::text, '()');
        else
            v_inner := btrim(i_new::text, '()');
        end if;
        -- a count other than the description's: the table changed within
        -- this client statement
        v_n := c[3]::int4;
        v_vals := pgq._trg_vals(i_kind, v_inner, v_n);
        if cardinality(v_vals) <> v_n + 2 then
            perform pgq._trg_cache(i_kind, i_relid, i_schema, i_table, i_args, v_key, null, true, null);
            c := current_setting(v_key || '_all')::text[];
            v_n := c[3]::int4;
            v_vals := pgq._trg_vals(i_kind, v_inner, v_n);
        end if;

        if i_op = 'UPDATE' then
            v_oinner := btrim(i_old::text, '()');
            if v_oinner = v_inner then
                v_ovals := v_vals;
            else
                v_ovals := pgq._trg_vals(i_kind, v_oinner, v_n);
                v_pk := c[17]::int4[];
                for v_i in 1 .. v_n loop
                    continue when v_ovals[v_i + 1] is not distinct from v_vals[v_i + 1];
                    if substr(c[20], v_i, 1) = 'd' then
                        -- different text, maybe equal values (numeric 1.0 and 1.00)
                        v_names := coalesce(v_names, c[21]::text[]);
                        execute format('select ($1).%I = ($2).%I', v_names[v_i], v_names[v_i])
                            into v_eq using i_old, i_new;
                        continue when v_eq;
                    end if;
                    v_any := true;
                    if v_i = any(v_pk) then
                        raise exception 'primary key update not allowed';
                    end if;
                    if substr(c[18], v_i, 1) = 'p' then
                        v_interesting := true;
                        if i_kind = 's' then
                            v_qnames := coalesce(v_qnames, c[19]::text[]);
                            v_set := v_set || ',' || v_qnames[v_i] || '='
                                || case when v_vals[v_i + 1] = 'null' then 'NULL' else v_vals[v_i + 1] end;
                        end if;
                    end if;
                end loop;
                -- only ignored or magic columns changed: nothing to tell
                exit event when v_any and not v_interesting and (i_kind = 's' or strpos(c[6], 'I') > 0);
            end if;
        end if;

        if c[7] is not null then
            if c[7] = '' then
                raise exception 'when= query result must be boolean, got=0';
            end if;
            -- format() gives '' for NULL, t or f for a boolean
            execute 'select pg_catalog.pg_typeof(w)::oid, pg_catalog.format(''%s'', w) from (select ('
                || c[7] || ') as w from (select ($1).*) r) s'
                into v_typ, v_wtext using case when i_op = 'DELETE' then i_old else i_new end;
            if v_typ <> 16 then
                raise exception 'when= query result must be boolean, got=%', v_typ;
            end if;
            if v_wtext = '' then
                raise exception 'when= should not be NULL';
            end if;
            exit event when v_wtext = 'f';
        end if;

        v_extra1 := c[5];
        v_type := case i_op when 'INSERT' then c[11] when 'UPDATE' then c[12] else c[13] end;
        if i_kind = 'l' then
            v_data := format(c[14], variadic v_vals);
            if i_op = 'UPDATE' and strpos(c[6], 'B') > 0 then
                v_extra2 := format(c[14], variadic v_ovals);
            end if;
        elsif i_kind = 's' then
            if i_op = 'INSERT' then
                v_data := format(c[14], variadic v_vals);
            else
                -- the old row's key; an UPDATE has the changed columns before it
                v_pk := c[17]::int4[];
                v_qnames := coalesce(v_qnames, c[19]::text[]);
                v_ovals := coalesce(v_ovals, v_vals);
                if i_op = 'UPDATE' then
                    if v_set = '' then
                        -- nothing changed: the first key column, set to itself
                        if cardinality(v_pk) = 0 or v_ovals[v_pk[1] + 1] = 'null' then
                            raise exception 'logtriga: Unexpected NULL key value';
                        end if;
                        v_set := ',' || v_qnames[v_pk[1]] || '=' || v_ovals[v_pk[1] + 1];
                    end if;
                    v_data := substr(v_set, 2) || ' where ';
                else
                    v_data := '';
                end if;
                foreach v_p in array v_pk loop
                    if v_ovals[v_p + 1] = 'null' then
                        raise exception 'logtriga: Unexpected NULL key value';
                    end if;
                    v_where := v_where || ' and ' || v_qnames[v_p] || '=' || v_ovals[v_p + 1];
                end loop;
                v_data := v_data || substr(v_where, 6);
                if i_op = 'UPDATE' and strpos(c[6], 'B') > 0 then
                    v_extra2 := format(c[15], variadic pgq._trg_vals('l', v_oinner, v_n));
                end if;
            end if;
        else
            if c[23] = 'F' then
                v_data := row_to_json(case when i_op = 'DELETE' then i_old else i_new end)::text;
            elsif c[26] is not null then
                v_data := regexp_replace(row_to_json(case when i_op = 'DELETE' then i_old else i_new end)::text,
                                         c[26], E'\\1"\\2"', 'g');
            else
                v_data := pgq._trg_json(c[14], c[22],
                    row_to_json(case when i_op = 'DELETE' then i_old else i_new end), v_vals);
            end if;
            if i_op = 'UPDATE' and strpos(c[6], 'B') > 0 then
                if c[23] = 'F' then
                    v_extra2 := row_to_json(i_old)::text;
                elsif c[26] is not null then
                    v_extra2 := regexp_replace(row_to_json(i_old)::text, c[26], E'\\1"\\2"', 'g');
                else
                    v_extra2 := pgq._trg_json(c[14], c[22], row_to_json(i_old), v_ovals);
                end if;
            end if;
        end if;

        -- magic columns, then ev_*= expressions, replace the fields
        if c[16] <> '{0,0,0,0,0,0}' then
            v_magic := c[16]::int4[];
            if i_kind = 'j' then
                v_raw := v_vals;
            else
                v_raw := pgq._trg_vals('j', v_inner, v_n);
            end if;
            if v_magic[1] > 0 then v_type := v_raw[v_magic[1] + 1]; end if;
            if v_magic[2] > 0 then v_data := v_raw[v_magic[2] + 1]; end if;
            if v_magic[3] > 0 then v_extra1 := v_raw[v_magic[3] + 1]; end if;
            if v_magic[4] > 0 then v_extra2 := v_raw[v_magic[4] + 1]; end if;
            if v_magic[5] > 0 then v_extra3 := v_raw[v_magic[5] + 1]; end if;
            if v_magic[6] > 0 then v_extra4 := v_raw[v_magic[6] + 1]; end if;
        end if;
        if c[24] is not null then
            execute c[24] into v_x1, v_x2, v_x3, v_x4, v_x5, v_x6
                using case when i_op = 'DELETE' then i_old else i_new end;
            if substr(c[25], 1, 1) = '1' then v_type := v_x1; end if;
            if substr(c[25], 2, 1) = '1' then v_data := v_x2; end if;
            if substr(c[25], 3, 1) = '1' then v_extra1 := v_x3; end if;
            if substr(c[25], 4, 1) = '1' then v_extra2 := v_x4; end if;
            if substr(c[25], 5, 1) = '1' then v_extra3 := v_x5; end if;
            if substr(c[25], 6, 1) = '1' then v_extra4 := v_x6; end if;
        end if;

        v_id := pgq.insert_event(i_args[array_lower(i_args, 1)], v_type, v_data,
            v_extra1, v_extra2, v_extra3, v_extra4);
    end;

    -- BEFORE and INSTEAD OF: the row goes on unless SKIP
    if i_when <> 'AFTER' then
        if strpos(c[6], 'S') > 0 then
            return null;
        end if;
        if i_op = 'DELETE' then
            return i_old;
        end if;
        return i_new;
    end if;
    return null;
end;
$$;

-- The trigger functions.  Each handles an INSERT that needs nothing but
-- the payload itself, and leaves everything else to _trg_row.

create or replace function pgq.logutriga()
returns trigger language plpgsql as $$
declare
    h text;
    v_row text;
    v_vals text[];
    v_id int8;
begin
    if TG_LEVEL <> 'ROW' then
        perform pgq._trg_statement('l', TG_OP, TG_WHEN, TG_RELID, TG_TABLE_SCHEMA, TG_TABLE_NAME, TG_ARGV);
        return null;
    end if;
    if TG_OP = 'INSERT' and current_setting('session_replication_role') <> 'local' then
        h := current_setting('pgq.trg_' || TG_RELID::text || '_' || to_hex(hashtext(TG_NAME)), true);
        if split_part(h, chr(1), 1) is distinct from date_part('epoch', statement_timestamp())::text then
            -- a new client statement: check the description
            if pgq._trg_fresh(h, TG_TABLE_SCHEMA || '|' || TG_TABLE_NAME || '|' || TG_ARGV::text,
                              row_to_json(NEW)::text, TG_RELID) then
                h := set_config('pgq.trg_' || TG_RELID::text || '_' || to_hex(hashtext(TG_NAME)),
                                date_part('epoch', statement_timestamp())::text || substr(h, strpos(h, chr(1))), false);
            else
                h := pgq._trg_cache('l', TG_RELID, TG_TABLE_SCHEMA, TG_TABLE_NAME, TG_ARGV,
                    'pgq.trg_' || TG_RELID::text || '_' || to_hex(hashtext(TG_NAME)), h, false, row_to_json(NEW)::text);
            end if;
        end if;
        if split_part(h, chr(1), 2) = 'F' then
            -- the parentheses around the row text become the outer commas
            -- (translate() costs more)
            v_row := replace(replace(NEW::text, '(', ','), ')', ',');
            v_vals := pgq._trg_url_fast(v_row);
            -- another count: a value with a comma or a parenthesis, or the
            -- table changed
            if cardinality(v_vals) = split_part(h, chr(1), 3)::int4 + 2 then
                -- an assignment, unlike PERFORM, takes the fast path for expressions
                v_id := pgq.insert_event(TG_ARGV[0], split_part(h, chr(1), 4),
                    format(split_part(h, chr(1), 6), variadic v_vals), split_part(h, chr(1), 5), null, null, null);
                return case when TG_WHEN <> 'AFTER' then NEW end;
            end if;
        end if;
    end if;
    return pgq._trg_row('l', TG_OP, TG_WHEN, TG_RELID, TG_TABLE_SCHEMA, TG_TABLE_NAME, TG_NAME, TG_ARGV, NEW, OLD);
end;
$$;

create or replace function pgq.sqltriga()
returns trigger language plpgsql as $$
declare
    h text;
    v_row text;
    v_vals text[];
    v_id int8;
begin
    if TG_LEVEL <> 'ROW' then
        perform pgq._trg_statement('s', TG_OP, TG_WHEN, TG_RELID, TG_TABLE_SCHEMA, TG_TABLE_NAME, TG_ARGV);
        return null;
    end if;
    if TG_OP = 'INSERT' and current_setting('session_replication_role') <> 'local' then
        h := current_setting('pgq.trg_' || TG_RELID::text || '_' || to_hex(hashtext(TG_NAME)), true);
        if split_part(h, chr(1), 1) is distinct from date_part('epoch', statement_timestamp())::text then
            -- a new client statement: check the description
            if pgq._trg_fresh(h, TG_TABLE_SCHEMA || '|' || TG_TABLE_NAME || '|' || TG_ARGV::text,
                              row_to_json(NEW)::text, TG_RELID) then
                h := set_config('pgq.trg_' || TG_RELID::text || '_' || to_hex(hashtext(TG_NAME)),
                                date_part('epoch', statement_timestamp())::text || substr(h, strpos(h, chr(1))), false);
            else
                h := pgq._trg_cache('s', TG_RELID, TG_TABLE_SCHEMA, TG_TABLE_NAME, TG_ARGV,
                    'pgq.trg_' || TG_RELID::text || '_' || to_hex(hashtext(TG_NAME)), h, false, row_to_json(NEW)::text);
            end if;
        end if;
        if split_part(h, chr(1), 2) = 'F' then
            v_row := btrim(NEW::text, '()');
            v_vals := pgq._trg_sql_fast(v_row);
            -- another count: a value with a comma, or the table changed
            if cardinality(v_vals) = split_part(h, chr(1), 3)::int4 + 2 then
                -- an assignment, unlike PERFORM, takes the fast path for expressions
                v_id := pgq.insert_event(TG_ARGV[0], split_part(h, chr(1), 4),
                    format(split_part(h, chr(1), 6), variadic v_vals), split_part(h, chr(1), 5), null, null, null);
                return case when TG_WHEN <> 'AFTER' then NEW end;
            end if;
        end if;
    end if;
    return pgq._trg_row('s', TG_OP, TG_WHEN, TG_RELID, TG_TABLE_SCHEMA, TG_TABLE_NAME, TG_NAME, TG_ARGV, NEW, OLD);
end;
$$;

create or replace function pgq.jsontriga()
returns trigger language plpgsql as $$
declare
    k text;
    h text;
    v_json text;
    v_vals text[];
    v_id int8;
begin
    if TG_LEVEL <> 'ROW' then
        perform pgq._trg_statement('j', TG_OP, TG_WHEN, TG_RELID, TG_TABLE_SCHEMA, TG_TABLE_NAME, TG_ARGV);
        return null;
    end if;
    if TG_OP = 'INSERT' and current_setting('session_replication_role') <> 'local' then
        k := 'pgq.trg_' || TG_RELID::text || '_' || to_hex(hashtext(TG_NAME));
        h := current_setting(k, true);
        if split_part(h, chr(1), 1) is distinct from date_part('epoch', statement_timestamp())::text then
            -- a new client statement: check the description; the row's
            -- JSON is kept for the payload
            v_json := row_to_json(NEW)::text;
            if pgq._trg_fresh(h, TG_TABLE_SCHEMA || '|' || TG_TABLE_NAME || '|' || TG_ARGV::text,
                              v_json, TG_RELID) then
                h := set_config(k, date_part('epoch', statement_timestamp())::text || substr(h, strpos(h, chr(1))), false);
            else
                h := pgq._trg_cache('j', TG_RELID, TG_TABLE_SCHEMA, TG_TABLE_NAME, TG_ARGV, k, h, false, v_json);
            end if;
        end if;
        -- row_to_json() reflects the table as it is now, so no count check
        if split_part(h, chr(1), 2) = 'F' and split_part(h, chr(1), 7) = 'F' then
            v_id := pgq.insert_event(TG_ARGV[0], split_part(h, chr(1), 4), coalesce(v_json, row_to_json(NEW)::text),
                split_part(h, chr(1), 5), null, null, null);
            return case when TG_WHEN <> 'AFTER' then NEW end;
        end if;
        -- numbers other than integers are quoted; columns of kind s need
        -- their text output
        if split_part(h, chr(1), 2) = 'F' and split_part(h, chr(1), 10) <> '' then
            v_id := pgq.insert_event(TG_ARGV[0], split_part(h, chr(1), 4),
                regexp_replace(coalesce(v_json, row_to_json(NEW)::text), split_part(h, chr(1), 10), E'\\1"\\2"', 'g'),
                split_part(h, chr(1), 5), null, null, null);
            return case when TG_WHEN <> 'AFTER' then NEW end;
        end if;
        if split_part(h, chr(1), 2) = 'F' then
            if strpos(split_part(h, chr(1), 9), 's') = 0 then
                v_id := pgq.insert_event(TG_ARGV[0], split_part(h, chr(1), 4),
                    pgq._trg_json(split_part(h, chr(1), 6), split_part(h, chr(1), 9), row_to_json(NEW), null),
                    split_part(h, chr(1), 5), null, null, null);
                return case when TG_WHEN <> 'AFTER' then NEW end;
            end if;
            v_vals := pgq._trg_raw_fast(btrim(NEW::text, '()'));
            if cardinality(v_vals) = split_part(h, chr(1), 3)::int4 + 2 then
                v_id := pgq.insert_event(TG_ARGV[0], split_part(h, chr(1), 4),
                    pgq._trg_json(split_part(h, chr(1), 6), split_part(h, chr(1), 9), row_to_json(NEW), v_vals),
                    split_part(h, chr(1), 5), null, null, null);
                return case when TG_WHEN <> 'AFTER' then NEW end;
            end if;
        end if;
    end if;
    return pgq._trg_row('j', TG_OP, TG_WHEN, TG_RELID, TG_TABLE_SCHEMA, TG_TABLE_NAME, TG_NAME, TG_ARGV, NEW, OLD);
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
            -- what the triggers call runs with the rights of whoever writes the table
            when left(r.proname, 5) = '_trg_' or left(r.proname, 10) = '_urlencode'
                then 'pgq_writer'
            when r.proname in ('ticker', 'ticker_schedule', 'maint_retry_events',
                               'maint_rotate_tables_step1', 'maint_rotate_tables_step2',
                               'maint_tables_to_vacuum', 'maint_operations',
                               'upgrade_schema', 'grant_perms', '_grant_perms_from', 'tune_storage',
                               'seq_setval', 'create_queue', 'drop_queue', 'set_queue_config',
                               'insert_event_raw', 'event_retry_raw',
                               '_insert_event_core', '_insert_event_dyn', '_check_insert',
                               '_unticked_events', '_unticked_events_nowait', '_unticked_events_in',
                               '_unticked_events_locked',
                               '_unticked_events_dyn', '_seq_last', '_snapshot_before')
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
