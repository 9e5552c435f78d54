-- Trigger benchmark fixture: queue 'tq' and four 10-column tables, one
-- without a trigger and one per trigger kind.  Run it in a database with
-- sql/pgq.sql and in one with CREATE EXTENSION pgq (see sql/README.md).
select pgq.create_queue('tq');
create table trg_none (id bigserial primary key, c1 int, c2 text, c3 text, c4 timestamptz,
                       c5 bool, c6 numeric, c7 int8, c8 text, c9 date);
create table trg_logu (like trg_none including all);
create table trg_sql (like trg_none including all);
create table trg_json (like trg_none including all);
create trigger q after insert or update or delete on trg_logu
    for each row execute procedure pgq.logutriga('tq');
create trigger q after insert or update or delete on trg_sql
    for each row execute procedure pgq.sqltriga('tq');
create trigger q after insert or update or delete on trg_json
    for each row execute procedure pgq.jsontriga('tq');
