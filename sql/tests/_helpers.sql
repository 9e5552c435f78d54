-- Shared helpers for the regression scripts (session-local, in pg_temp).
\set ON_ERROR_STOP 1
set client_min_messages = warning;
\o /dev/null

-- Runs SQL that must fail with exactly the given message.
create or replace function pg_temp.expect_error(i_sql text, i_msg text)
returns void language plpgsql as $$
declare
    v_ok bool := false;
begin
    begin
        execute i_sql;
        v_ok := true;
    exception when others then
        if sqlerrm <> i_msg then
            raise exception 'expected error "%", got "%" from: %', i_msg, sqlerrm, i_sql;
        end if;
    end;
    if v_ok then
        raise exception 'expected error "%", but it succeeded: %', i_msg, i_sql;
    end if;
end;
$$;

create or replace function pg_temp.eq(i_got anyelement, i_want anyelement, i_what text)
returns void language plpgsql as $$
begin
    if i_got is distinct from i_want then
        raise exception '%: got %, want %', i_what, i_got, i_want;
    end if;
end;
$$;

-- Makes the queue tick now whatever its ticker state.
create or replace function pg_temp.tick(i_queue text)
returns bigint language plpgsql as $$
begin
    perform pgq.force_tick(i_queue);
    return pgq.ticker(i_queue);
end;
$$;

-- The ev_data of a batch, in ev_id order.
create or replace function pg_temp.batch_data(i_batch bigint)
returns text language sql as $$
    select coalesce(string_agg(ev_data, ',' order by ev_id), '') from pgq.get_batch_events(i_batch)
$$;

-- The events stored for a queue, in ev_id order, each written by the
-- expression i_expr over the event row, joined with commas.
create or replace function pg_temp.stored_events(i_queue text, i_expr text)
returns text language plpgsql as $$
declare
    v_got text;
begin
    execute format('select string_agg(%s, '','' order by ev_id) from %s', i_expr,
                   (select queue_data_pfx from pgq.queue where queue_name = i_queue)) into v_got;
    return v_got;
end;
$$;
