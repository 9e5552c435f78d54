-- Producer triggers: every option, the documented flows, errors, and the
-- table changing between statements.
--
-- The expected events and errors are what Debian's C triggers
-- (postgresql-15-pgq3) produce for the same statements.
\ir _helpers.sql

select pgq.create_queue('q');

-- The queue's events not yet taken, in order.
create type pg_temp.ev as (ev_type text, ev_data text, ev_extra1 text, ev_extra2 text, ev_extra3 text, ev_extra4 text);
create temp table taken (last_id bigint);
insert into taken values (0);
create function pg_temp.take() returns pg_temp.ev[] language plpgsql as $$
declare
    v_evs pg_temp.ev[];
    v_last bigint;
begin
    execute format('select array_agg(row(ev_type, ev_data, ev_extra1, ev_extra2, ev_extra3, ev_extra4)::pg_temp.ev order by ev_id), max(ev_id)'
                   ' from %s where ev_id > $1', (select queue_data_pfx from pgq.queue where queue_name = 'q'))
        into v_evs, v_last using (select last_id from taken);
    update taken set last_id = coalesce(v_last, last_id);
    return coalesce(v_evs, '{}');
end;
$$;

-- logutriga, sqltriga and jsontriga on a table with a primary key
create table t (id int primary key, "Name Odd" text, b bool, n numeric, arr int[]);
create trigger a after insert or update or delete on t for each row execute procedure pgq.logutriga('q');
create trigger b after insert or update or delete on t for each row execute procedure pgq.sqltriga('q');
create trigger c after insert or update or delete on t for each row execute procedure pgq.jsontriga('q');
insert into t values (1, E'a''"x\\ é+&=', true, 1.50, '{1,NULL,3}'), (2, null, null, null, null), (3, '', false, 0, '{}');
select pg_temp.eq(pg_temp.take(), array[
    row('I:id', 'id=1&Name+Odd=a%27%22x%5c+%c3%a9%2b%26%3d&b=t&n=1.50&arr=%7b1%2cNULL%2c3%7d', 'public.t', null, null, null),
    row('I', E'(id,"Name Odd",b,n,arr) values (''1'',E''a''''"x\\\\ é+&='',''t'',''1.50'',''{1,NULL,3}'')', 'public.t', null, null, null),
    row('{"op":"INSERT","table":["public","t"],"pkey":["id"]}', E'{"id":1,"Name Odd":"a''\\"x\\\\ é+&=","b":true,"n":"1.50","arr":"{1,NULL,3}"}', 'public.t', null, null, null),
    row('I:id', 'id=2&Name+Odd&b&n&arr', 'public.t', null, null, null),
    row('I', '(id,"Name Odd",b,n,arr) values (''2'',null,null,null,null)', 'public.t', null, null, null),
    row('{"op":"INSERT","table":["public","t"],"pkey":["id"]}', '{"id":2,"Name Odd":null,"b":null,"n":null,"arr":null}', 'public.t', null, null, null),
    row('I:id', 'id=3&Name+Odd=&b=f&n=0&arr=%7b%7d', 'public.t', null, null, null),
    row('I', '(id,"Name Odd",b,n,arr) values (''3'','''',''f'',''0'',''{}'')', 'public.t', null, null, null),
    row('{"op":"INSERT","table":["public","t"],"pkey":["id"]}', '{"id":3,"Name Odd":"","b":false,"n":"0","arr":"{}"}', 'public.t', null, null, null)]::pg_temp.ev[],
    'insert: payload formats, NULL as a bare key, '''' as key=');
update t set b = false where id = 1;
select pg_temp.eq(pg_temp.take(), array[
    row('U:id', 'id=1&Name+Odd=a%27%22x%5c+%c3%a9%2b%26%3d&b=f&n=1.50&arr=%7b1%2cNULL%2c3%7d', 'public.t', null, null, null),
    row('U', 'b=''f'' where id=''1''', 'public.t', null, null, null),
    row('{"op":"UPDATE","table":["public","t"],"pkey":["id"]}', E'{"id":1,"Name Odd":"a''\\"x\\\\ é+&=","b":false,"n":"1.50","arr":"{1,NULL,3}"}', 'public.t', null, null, null)]::pg_temp.ev[],
    'update: changed columns only in sqltriga');
update t set b = b where id = 1;
select pg_temp.eq(pg_temp.take(), array[
    row('U:id', 'id=1&Name+Odd=a%27%22x%5c+%c3%a9%2b%26%3d&b=f&n=1.50&arr=%7b1%2cNULL%2c3%7d', 'public.t', null, null, null),
    row('U', 'id=''1'' where id=''1''', 'public.t', null, null, null),
    row('{"op":"UPDATE","table":["public","t"],"pkey":["id"]}', E'{"id":1,"Name Odd":"a''\\"x\\\\ é+&=","b":false,"n":"1.50","arr":"{1,NULL,3}"}', 'public.t', null, null, null)]::pg_temp.ev[],
    'an update that changes nothing still makes events');
update t set n = 1.500 where id = 1;
select pg_temp.eq(pg_temp.take(), array[
    row('U:id', 'id=1&Name+Odd=a%27%22x%5c+%c3%a9%2b%26%3d&b=f&n=1.500&arr=%7b1%2cNULL%2c3%7d', 'public.t', null, null, null),
    row('U', 'id=''1'' where id=''1''', 'public.t', null, null, null),
    row('{"op":"UPDATE","table":["public","t"],"pkey":["id"]}', E'{"id":1,"Name Odd":"a''\\"x\\\\ é+&=","b":false,"n":"1.500","arr":"{1,NULL,3}"}', 'public.t', null, null, null)]::pg_temp.ev[],
    'numeric 1.50 to 1.500 is no change for sqltriga (= operator)');
delete from t where id = 2;
select pg_temp.eq(pg_temp.take(), array[
    row('D:id', 'id=2&Name+Odd&b&n&arr', 'public.t', null, null, null),
    row('D', 'id=''2''', 'public.t', null, null, null),
    row('{"op":"DELETE","table":["public","t"],"pkey":["id"]}', '{"id":2,"Name Odd":null,"b":null,"n":null,"arr":null}', 'public.t', null, null, null)]::pg_temp.ev[],
    'delete: key only in sqltriga');

-- SKIP: a queue-only table
create table e1 (id int primary key, v text, pw text);
create table qonly (id int primary key, data text);
create trigger s before insert on qonly for each row execute procedure pgq.logutriga('q', 'SKIP');
insert into qonly values (1, 'one'), (2, 'two');
select pg_temp.eq(pg_temp.take(), array[
    row('I:id', 'id=1&data=one', 'public.qonly', null, null, null),
    row('I:id', 'id=2&data=two', 'public.qonly', null, null, null)]::pg_temp.ev[],
    'queue-only table: events queued');
select pg_temp.eq((select count(*) from qonly), 0::bigint, 'rows in qonly');
create trigger s after insert on e1 for each row execute procedure pgq.logutriga('q', 'SKIP');
select pg_temp.expect_error('insert into e1 values (1, ''a'', ''p'')',
    'SKIP does not work in AFTER trigger.');
drop trigger s on e1;
create trigger s after insert on e1 for each row execute procedure pgq.logutriga('q', 'skip');
select pg_temp.expect_error('insert into e1 values (1, ''a'', ''p'')',
    'bad param to pgq trigger');
drop trigger s on e1;

-- ignore=: a users table that keeps passwords out of the queue
create table users (id int primary key, name text, password text, last_login timestamptz);
create trigger u after insert or update or delete on users for each row execute procedure pgq.logutriga('q', 'ignore=password');
insert into users values (1, 'ann', 'secret', null);
update users set password = 'other' where id = 1;
select pg_temp.eq(pg_temp.take(), array[
    row('I:id', 'id=1&name=ann&last_login', 'public.users', null, null, null)]::pg_temp.ev[],
    'password change alone: no event');
update users set name = 'anna', password = 'x' where id = 1;
update users set id = id where id = 1;
select pg_temp.eq(pg_temp.take(), array[
    row('U:id', 'id=1&name=anna&last_login', 'public.users', null, null, null),
    row('U:id', 'id=1&name=anna&last_login', 'public.users', null, null, null)]::pg_temp.ev[],
    'other change, and no change at all: events without the password');
create table ig (id int primary key, v text, w text, pw text);
create trigger a after insert or update on ig for each row execute procedure pgq.logutriga('q', 'ignore=pw, v');
create trigger b after insert or update on ig for each row execute procedure pgq.logutriga('q', 'ignore=pw', 'ignore=v');
create trigger c after insert or update on ig for each row execute procedure pgq.sqltriga('q', 'ignore=w');
create trigger d after insert or update on ig for each row execute procedure pgq.jsontriga('q', 'ignore=v,w', 'backup');
insert into ig values (1, 'v', 'w', 'p');
update ig set pw = 'p2';
update ig set v = 'v2';
update ig set w = 'w2';
select pg_temp.eq(pg_temp.take(), array[
    row('I:id', 'id=1&w=w', 'public.ig', null, null, null),
    row('I:id', 'id=1&w=w&pw=p', 'public.ig', null, null, null),
    row('I', '(id,v,pw) values (''1'',''v'',''p'')', 'public.ig', null, null, null),
    row('{"op":"INSERT","table":["public","ig"],"pkey":["id"]}', '{"id":1,"pw":"p"}', 'public.ig', null, null, null),
    row('U:id', 'id=1&w=w&pw=p2', 'public.ig', null, null, null),
    row('U', 'pw=''p2'' where id=''1''', 'public.ig', null, null, null),
    row('{"op":"UPDATE","table":["public","ig"],"pkey":["id"]}', '{"id":1,"pw":"p2"}', 'public.ig', '{"id":1,"pw":"p"}', null, null),
    row('U', 'v=''v2'' where id=''1''', 'public.ig', null, null, null),
    row('U:id', 'id=1&w=w2', 'public.ig', null, null, null),
    row('U:id', 'id=1&w=w2&pw=p2', 'public.ig', null, null, null)]::pg_temp.ev[],
    'ignore lists: commas and spaces, the last ignore= wins, sqltriga and jsontriga');

-- pkey=, backup
create table pk1 (a int, b int, "C c" text, d text);
create trigger a after insert or update or delete on pk1 for each row execute procedure pgq.logutriga('q', 'pkey=d , b', 'backup');
create trigger b after insert or update or delete on pk1 for each row execute procedure pgq.sqltriga('q', 'pkey= d,b', 'backup');
create trigger c after insert or update or delete on pk1 for each row execute procedure pgq.jsontriga('q', 'pkey=C c,nosuch', 'backup');
insert into pk1 values (1, 2, 'x', 'y');
update pk1 set a = 5;
delete from pk1;
select pg_temp.eq(pg_temp.take(), array[
    row('I:d , b', 'a=1&b=2&C+c=x&d=y', 'public.pk1', null, null, null),
    row('I', '(a,b,"C c",d) values (''1'',''2'',''x'',''y'')', 'public.pk1', null, null, null),
    row('{"op":"INSERT","table":["public","pk1"],"pkey":["C c","nosuch"]}', '{"a":1,"b":2,"C c":"x","d":"y"}', 'public.pk1', null, null, null),
    row('U:d , b', 'a=5&b=2&C+c=x&d=y', 'public.pk1', 'a=1&b=2&C+c=x&d=y', null, null),
    row('U', 'a=''5'' where b=''2'' and d=''y''', 'public.pk1', 'a=1&b=2&C+c=x&d=y', null, null),
    row('{"op":"UPDATE","table":["public","pk1"],"pkey":["C c","nosuch"]}', '{"a":5,"b":2,"C c":"x","d":"y"}', 'public.pk1', '{"a":1,"b":2,"C c":"x","d":"y"}', null, null),
    row('D:d , b', 'a=5&b=2&C+c=x&d=y', 'public.pk1', null, null, null),
    row('D', 'b=''2'' and d=''y''', 'public.pk1', null, null, null),
    row('{"op":"DELETE","table":["public","pk1"],"pkey":["C c","nosuch"]}', '{"a":5,"b":2,"C c":"x","d":"y"}', 'public.pk1', null, null, null)]::pg_temp.ev[],
    'pkey= as given: ev_type verbatim, matched to columns by name');
create table pk2 (a int, b int, "C c" text, d text, primary key ("C c", a));
create trigger a after insert or update or delete on pk2 for each row execute procedure pgq.logutriga('q');
create trigger b after insert or update or delete on pk2 for each row execute procedure pgq.sqltriga('q');
create trigger c after insert or update or delete on pk2 for each row execute procedure pgq.jsontriga('q');
insert into pk2 values (1, 2, 'x', 'y');
update pk2 set d = 'z';
delete from pk2;
select pg_temp.eq(pg_temp.take(), array[
    row('I:C c,a', 'a=1&b=2&C+c=x&d=y', 'public.pk2', null, null, null),
    row('I', '(a,b,"C c",d) values (''1'',''2'',''x'',''y'')', 'public.pk2', null, null, null),
    row('{"op":"INSERT","table":["public","pk2"],"pkey":["C c","a"]}', '{"a":1,"b":2,"C c":"x","d":"y"}', 'public.pk2', null, null, null),
    row('U:C c,a', 'a=1&b=2&C+c=x&d=z', 'public.pk2', null, null, null),
    row('U', 'd=''z'' where a=''1'' and "C c"=''x''', 'public.pk2', null, null, null),
    row('{"op":"UPDATE","table":["public","pk2"],"pkey":["C c","a"]}', '{"a":1,"b":2,"C c":"x","d":"z"}', 'public.pk2', null, null, null),
    row('D:C c,a', 'a=1&b=2&C+c=x&d=z', 'public.pk2', null, null, null),
    row('D', 'a=''1'' and "C c"=''x''', 'public.pk2', null, null, null),
    row('{"op":"DELETE","table":["public","pk2"],"pkey":["C c","a"]}', '{"a":1,"b":2,"C c":"x","d":"z"}', 'public.pk2', null, null, null)]::pg_temp.ev[],
    'found key: index order in ev_type, column order in sqltriga');
insert into pk2 values (1, 2, 'x', 'y');
select pg_temp.expect_error('update pk2 set a = 9',
    'primary key update not allowed');
create table nopk (id int, v text, unique (id));
create trigger a after insert or update or delete on nopk for each row execute procedure pgq.logutriga('q');
create trigger b after insert or update or delete on nopk for each row execute procedure pgq.jsontriga('q');
insert into nopk values (1, 'x');
select pg_temp.eq(pg_temp.take(), array[
    row('I:C c,a', 'a=1&b=2&C+c=x&d=y', 'public.pk2', null, null, null),
    row('I', '(a,b,"C c",d) values (''1'',''2'',''x'',''y'')', 'public.pk2', null, null, null),
    row('{"op":"INSERT","table":["public","pk2"],"pkey":["C c","a"]}', '{"a":1,"b":2,"C c":"x","d":"y"}', 'public.pk2', null, null, null),
    row('I:', 'id=1&v=x', 'public.nopk', null, null, null),
    row('{"op":"INSERT","table":["public","nopk"],"pkey":[]}', '{"id":1,"v":"x"}', 'public.nopk', null, null, null)]::pg_temp.ev[],
    'no primary key: empty key list');
select pg_temp.expect_error('update nopk set v = ''y''',
    'Update/Delete on table without pkey');
select pg_temp.expect_error('delete from nopk',
    'Update/Delete on table without pkey');
create table nk (id int, v text);
create trigger a after insert or update or delete on nk for each row execute procedure pgq.sqltriga('q', 'pkey=v');
insert into nk values (1, null);
select pg_temp.eq(pg_temp.take(), array[
    row('I', '(id,v) values (''1'',null)', 'public.nk', null, null, null)]::pg_temp.ev[],
    'sqltriga insert with a NULL key column');
select pg_temp.expect_error('update nk set id = 2',
    'logtriga: Unexpected NULL key value');
select pg_temp.expect_error('delete from nk',
    'logtriga: Unexpected NULL key value');
create table nk2 (id numeric primary key, v text);
create trigger a after insert or update or delete on nk2 for each row execute procedure pgq.sqltriga('q', 'pkey=nosuch');
insert into nk2 values (1.0, 'a');
select pg_temp.expect_error('update nk2 set id = 1.00',
    'logtriga: Unexpected NULL key value');
update nk2 set v = 'b';
delete from nk2;
select pg_temp.eq(pg_temp.take(), array[
    row('I', '(id,v) values (''1.0'',''a'')', 'public.nk2', null, null, null),
    row('U', 'v=''b'' where ', 'public.nk2', null, null, null),
    row('D', '', 'public.nk2', null, null, null)]::pg_temp.ev[],
    'key column missing: empty WHERE; numeric 1.0 to 1.00 is no key change');

-- deny
create table dn (id int primary key, v text);
create trigger a after insert or update or delete on dn for each row execute procedure pgq.logutriga('q', 'deny');
create trigger t after truncate on dn for each statement execute procedure pgq.logutriga('q', 'deny');
select pg_temp.expect_error('insert into dn values (1, ''a'')',
    'Table ''public.dn'' to queue ''q'': change not allowed (INSERT)');
select pg_temp.expect_error('truncate dn',
    'Table ''public.dn'' to queue ''q'': change not allowed (TRUNCATE)');

-- when=, ev_type=, ev_data=, ev_extra1..4=
create table w (id int primary key, v text, n int);
create trigger a after insert or update or delete on w for each row execute procedure pgq.logutriga('q', 'when=n > 1', 'ev_extra4=v || ''!''', 'ev_extra1=null');
create trigger b after insert or update or delete on w for each row execute procedure pgq.jsontriga('q', 'ev_type=''T:'' || id', 'ev_extra2=true', 'ev_extra3=array[n, n]', 'ev_data=v');
create trigger c before insert or update or delete on w for each row execute procedure pgq.sqltriga('q', 'when=v = ''go''', 'ev_type=');
insert into w values (1, 'x', 1), (2, 'go', 5);
delete from w where id = 2;
select pg_temp.eq(pg_temp.take(), array[
    row(null, '(id,v,n) values (''2'',''go'',''5'')', 'public.w', null, null, null),
    row('T:1', 'x', 'public.w', 't', '{1,1}', null),
    row('I:id', 'id=2&v=go&n=5', null, null, null, 'go!'),
    row('T:2', 'go', 'public.w', 't', '{5,5}', null),
    row(null, 'id=''2''', 'public.w', null, null, null),
    row('D:id', 'id=2&v=go&n=5', null, null, null, 'go!'),
    row('T:2', 'go', 'public.w', 't', '{5,5}', null)]::pg_temp.ev[],
    'when= on the new row (old for DELETE), expressions override fields');
create table w2 (id int primary key, v text);
create trigger a after insert on w2 for each row execute procedure pgq.logutriga('q', 'when=v');
select pg_temp.expect_error('insert into w2 values (1, ''a'')',
    'when= query result must be boolean, got=25');
drop trigger a on w2;
create trigger a after insert on w2 for each row execute procedure pgq.logutriga('q', 'when=v = ''x''');
select pg_temp.expect_error('insert into w2 values (1, null)',
    'when= should not be NULL');
drop trigger a on w2;
create trigger a after insert on w2 for each row execute procedure pgq.logutriga('q', 'when=');
select pg_temp.expect_error('insert into w2 values (1, ''a'')',
    'when= query result must be boolean, got=0');
drop trigger a on w2;
create trigger a after insert on w2 for each row execute procedure pgq.logutriga('q', 'when=null', 'foo');
select pg_temp.expect_error('insert into w2 values (1, ''a'')',
    'bad param to pgq trigger');
drop trigger a on w2;
create trigger a before insert on w2 for each row execute procedure pgq.logutriga('q', 'SKIP', 'when=v = ''go''');
insert into w2 values (1, 'x'), (2, 'go');
select pg_temp.eq(pg_temp.take(), array[
    row('I:id', 'id=2&v=go', 'public.w2', null, null, null)]::pg_temp.ev[],
    'SKIP drops the row whatever when= says');
select pg_temp.eq((select count(*) from w2), 0::bigint, 'rows in w2');

-- magic columns
create table m1 (id int primary key, v text, _pgq_ev_type text, _pgq_ev_extra1 text, _pgq_ev_extra3 text, _pgq_ev_data text);
create trigger a after insert or update or delete on m1 for each row execute procedure pgq.logutriga('q');
create trigger b after insert or update or delete on m1 for each row execute procedure pgq.sqltriga('q', 'ev_extra3=''expr''');
insert into m1 values (1, 'x', 'mytype', 'myex1', null, 'mydata');
insert into m1 values (2, 'y', null, null, 'e3', null);
update m1 set v = 'z' where id = 1;
update m1 set _pgq_ev_type = 'other' where id = 1;
delete from m1 where id = 2;
select pg_temp.eq(pg_temp.take(), array[
    row('mytype', 'mydata', 'myex1', null, null, null),
    row('mytype', 'mydata', 'myex1', null, 'expr', null),
    row(null, null, null, null, 'e3', null),
    row(null, null, null, null, 'expr', null),
    row('mytype', 'mydata', 'myex1', null, null, null),
    row('mytype', 'mydata', 'myex1', null, 'expr', null),
    row('other', 'mydata', 'myex1', null, null, null),
    row(null, null, null, null, 'e3', null),
    row(null, null, null, null, 'expr', null)]::pg_temp.ev[],
    'magic columns replace fields (NULL too), expressions win, never in the payload');
create table m2 (id int primary key, v text, _pgq_ev_extra2 text, w text);
create trigger a after insert or update on m2 for each row execute procedure pgq.logutriga('q', 'ignore=w', 'backup');
create trigger b after insert or update on m2 for each row execute procedure pgq.jsontriga('q', 'backup');
insert into m2 values (1, 'x', 'e2', 'w');
update m2 set _pgq_ev_extra2 = 'e2b';
select pg_temp.eq(pg_temp.take(), array[
    row('I:id', 'id=1&v=x', 'public.m2', 'e2', null, null),
    row('{"op":"INSERT","table":["public","m2"],"pkey":["id"]}', '{"id":1,"v":"x","w":"w"}', 'public.m2', 'e2', null, null),
    row('{"op":"UPDATE","table":["public","m2"],"pkey":["id"]}', '{"id":1,"v":"x","w":"w"}', 'public.m2', 'e2b', null, null)]::pg_temp.ev[],
    'a change of magic columns alone: logutriga with ignore= skips it');
create table m3 (id int primary key, _pgq_ev_ text);
create trigger a after insert on m3 for each row execute procedure pgq.logutriga('q');
select pg_temp.expect_error('insert into m3 values (1, ''x'')',
    'Unknown magic column: _pgq_ev_');

-- TRUNCATE
create table tr (id int primary key, v text);
create trigger a after truncate on tr for each statement execute procedure pgq.logutriga('q');
create trigger b after truncate on tr for each statement execute procedure pgq.sqltriga('q');
create trigger c after truncate on tr for each statement execute procedure pgq.jsontriga('q');
create trigger d before truncate on tr for each statement execute procedure pgq.logutriga('q', 'SKIP');
truncate tr;
select pg_temp.eq(pg_temp.take(), array[
    row('R', '', 'public.tr', null, null, null),
    row('R', '', 'public.tr', null, null, null),
    row('R', '', 'public.tr', null, null, null),
    row('{"op":"TRUNCATE","table":["public","tr"],"pkey":["id"]}', '{}', 'public.tr', null, null, null)]::pg_temp.ev[],
    'truncate events');
drop trigger a on tr;
drop trigger b on tr;
drop trigger c on tr;
drop trigger d on tr;
create trigger a after truncate on tr for each statement execute procedure pgq.logutriga('q', 'ignore=v');
select pg_temp.expect_error('truncate tr',
    'Column ignore does not make sense for truncate trigger');
drop trigger a on tr;
create trigger a after truncate on tr for each statement execute procedure pgq.logutriga('q', 'backup');
select pg_temp.expect_error('truncate tr',
    'Backup does not make sense for truncate trigger');
drop trigger a on tr;
create trigger a after truncate on tr for each statement execute procedure pgq.logutriga('q', 'pkey=v');
select pg_temp.expect_error('truncate tr',
    'Custom pkey_list does not make sense for truncate trigger');
drop trigger a on tr;
create trigger a after truncate on tr for each statement execute procedure pgq.logutriga('q', 'when=true');
select pg_temp.expect_error('truncate tr',
    'Custom expressions do not make sense for truncater trigger');
drop trigger a on tr;
create trigger a after truncate on tr for each statement execute procedure pgq.logutriga('q', 'SKIP');
select pg_temp.expect_error('truncate tr',
    'SKIP does not work in AFTER trigger.');
drop trigger a on tr;

-- misuse
create trigger a after insert on tr for each statement execute procedure pgq.logutriga('q');
select pg_temp.expect_error('insert into tr values (1, ''a'')',
    'pgq Ins/Upd/Del trigger must be fired FOR EACH ROW');
drop trigger a on tr;
create trigger a after insert on tr for each row execute procedure pgq.logutriga();
select pg_temp.expect_error('insert into tr values (1, ''a'')',
    'pgq trigger must have destination queue as argument');
drop trigger a on tr;
create trigger a after insert on tr for each row execute procedure pgq.jsontriga('q', 'BACKUP');
select pg_temp.expect_error('insert into tr values (1, ''a'')',
    'bad param to pgq trigger');
drop trigger a on tr;
create trigger a after insert on tr for each row execute procedure pgq.sqltriga('q', 'ev_extra5=1');
select pg_temp.expect_error('insert into tr values (1, ''a'')',
    'bad param to pgq trigger');
drop trigger a on tr;

-- session_replication_role
create table sr (id int primary key, v text);
create trigger a after insert or update or delete on sr for each row execute procedure pgq.logutriga('q', 'deny');
create trigger b after insert on sr for each row execute procedure pgq.logutriga('q');
set session_replication_role = local;
insert into sr values (1, 'local');
alter table sr enable always trigger b;
set session_replication_role = replica;
insert into sr values (2, 'replica');
reset session_replication_role;
select pg_temp.eq(pg_temp.take(), array[
    row('I:id', 'id=2&v=replica', 'public.sr', null, null, null)]::pg_temp.ev[],
    'local: nothing, not even deny; replica: only ALWAYS triggers fire');
select pg_temp.eq((select count(*) from sr), 2::bigint, 'rows in sr');

-- the table changes between statements
create table ddl (id int primary key, a text, b text);
create trigger a after insert or update or delete on ddl for each row execute procedure pgq.logutriga('q');
create trigger b after insert or update or delete on ddl for each row execute procedure pgq.sqltriga('q');
insert into ddl values (1, 'a', 'b');
alter table ddl rename column a to a2;
insert into ddl values (2, 'a', 'b');
alter table ddl drop column b;
insert into ddl values (3, 'a');
alter table ddl add column c int;
insert into ddl values (4, 'a', 4);
alter table ddl drop constraint ddl_pkey;
alter table ddl add primary key (a2, id);
insert into ddl values (5, 'a', 5);
alter table ddl rename to ddl2;
insert into ddl2 values (6, 'a', 6);
drop trigger a on ddl2;
create trigger a after insert on ddl2 for each row execute procedure pgq.logutriga('q', 'ignore=c');
insert into ddl2 values (7, 'a', 7);
select pg_temp.eq(pg_temp.take(), array[
    row('I:id', 'id=1&a=a&b=b', 'public.ddl', null, null, null),
    row('I', '(id,a,b) values (''1'',''a'',''b'')', 'public.ddl', null, null, null),
    row('I:id', 'id=2&a2=a&b=b', 'public.ddl', null, null, null),
    row('I', '(id,a2,b) values (''2'',''a'',''b'')', 'public.ddl', null, null, null),
    row('I:id', 'id=3&a2=a', 'public.ddl', null, null, null),
    row('I', '(id,a2) values (''3'',''a'')', 'public.ddl', null, null, null),
    row('I:id', 'id=4&a2=a&c=4', 'public.ddl', null, null, null),
    row('I', '(id,a2,c) values (''4'',''a'',''4'')', 'public.ddl', null, null, null),
    row('I:a2,id', 'id=5&a2=a&c=5', 'public.ddl', null, null, null),
    row('I', '(id,a2,c) values (''5'',''a'',''5'')', 'public.ddl', null, null, null),
    row('I:a2,id', 'id=6&a2=a&c=6', 'public.ddl2', null, null, null),
    row('I', '(id,a2,c) values (''6'',''a'',''6'')', 'public.ddl2', null, null, null),
    row('I:a2,id', 'id=7&a2=a', 'public.ddl2', null, null, null),
    row('I', '(id,a2,c) values (''7'',''a'',''7'')', 'public.ddl2', null, null, null)]::pg_temp.ev[],
    'renamed, dropped and added columns, a new key, a renamed table, new trigger arguments');

-- INSTEAD OF triggers on views: the event is queued and the row goes on,
-- so the statement counts it and RETURNING shows it, unless SKIP; when=
-- that is false queues nothing but still lets the row go on.  A view has
-- no primary key: UPDATE and DELETE need pkey=.
create function pg_temp.rows(i_sql text) returns bigint language plpgsql as $$
declare
    v_n bigint;
begin
    execute i_sql;
    get diagnostics v_n = row_count;
    return v_n;
end;
$$;
create table vbase (id int primary key, v text, w int);
insert into vbase values (1, 'a', 1), (2, 'b', 2);
create view vl as select * from vbase;
create view vs as select * from vbase;
create view vj as select * from vbase;
create view vk as select * from vbase;
create view vw as select * from vbase;
create view vn as select * from vbase;
create trigger a instead of insert or update or delete on vl for each row execute procedure pgq.logutriga('q', 'pkey=id');
create trigger a instead of insert or update or delete on vs for each row execute procedure pgq.sqltriga('q', 'pkey=id', 'backup');
create trigger a instead of insert or update or delete on vj for each row execute procedure pgq.jsontriga('q', 'pkey=id', 'backup');
create trigger a instead of insert or update or delete on vk for each row execute procedure pgq.logutriga('q', 'SKIP', 'pkey=id', 'ignore=w');
create trigger a instead of insert or update or delete on vw for each row execute procedure pgq.sqltriga('q', 'pkey=id', 'when=w > 1', 'ev_extra3=v');
create trigger a instead of insert or update or delete on vn for each row execute procedure pgq.logutriga('q');
select pg_temp.eq(array[
        pg_temp.rows('insert into vl values (10, ''x'', 1)'),
        pg_temp.rows('insert into vs values (10, ''x'', 1)'),
        pg_temp.rows('insert into vj values (10, ''x'', 1)'),
        pg_temp.rows('insert into vk values (10, ''x'', 1)'),
        pg_temp.rows('insert into vw values (10, ''x'', 1), (11, ''y'', 2)'),
        pg_temp.rows('insert into vn values (10, ''x'', 1)')],
    array[1, 1, 1, 0, 2, 1]::bigint[], 'views: rows inserted');
with r as (insert into vl values (12, 'r', 3) returning v || w)
select pg_temp.eq(array_agg(r.*::text), array['(r3)'], 'views: RETURNING of an insert') from r;
select pg_temp.eq(pg_temp.take(), array[
    row('I:id', 'id=10&v=x&w=1', 'public.vl', null, null, null),
    row('I', '(id,v,w) values (''10'',''x'',''1'')', 'public.vs', null, null, null),
    row('{"op":"INSERT","table":["public","vj"],"pkey":["id"]}', '{"id":10,"v":"x","w":1}', 'public.vj', null, null, null),
    row('I:id', 'id=10&v=x', 'public.vk', null, null, null),
    row('I', '(id,v,w) values (''11'',''y'',''2'')', 'public.vw', null, 'y', null),
    row('I:', 'id=10&v=x&w=1', 'public.vn', null, null, null),
    row('I:id', 'id=12&v=r&w=3', 'public.vl', null, null, null)]::pg_temp.ev[],
    'views: insert events');
select pg_temp.eq(array[
        pg_temp.rows('update vl set v = ''z'' where id < 3'),
        pg_temp.rows('update vs set v = ''z'' where id < 3'),
        pg_temp.rows('update vj set v = ''z'' where id = 1'),
        pg_temp.rows('update vk set v = ''z'' where id = 1'),
        pg_temp.rows('update vk set w = 7 where id = 1'),
        pg_temp.rows('update vw set v = ''z'' where id < 3'),
        pg_temp.rows('update vs set w = w where id = 1')],
    array[2, 2, 1, 0, 0, 2, 1]::bigint[], 'views: rows updated');
with r as (update vs set v = 'u' where id = 2 returning v)
select pg_temp.eq(array_agg(r.v), array['u'], 'views: RETURNING of an update') from r;
select pg_temp.eq(pg_temp.take(), array[
    row('U:id', 'id=1&v=z&w=1', 'public.vl', null, null, null),
    row('U:id', 'id=2&v=z&w=2', 'public.vl', null, null, null),
    row('U', 'v=''z'' where id=''1''', 'public.vs', 'id=1&v=a&w=1', null, null),
    row('U', 'v=''z'' where id=''2''', 'public.vs', 'id=2&v=b&w=2', null, null),
    row('{"op":"UPDATE","table":["public","vj"],"pkey":["id"]}', '{"id":1,"v":"z","w":1}', 'public.vj', '{"id":1,"v":"a","w":1}', null, null),
    row('U:id', 'id=1&v=z', 'public.vk', null, null, null),
    row('U', 'v=''z'' where id=''2''', 'public.vw', null, 'z', null),
    row('U', 'id=''1'' where id=''1''', 'public.vs', 'id=1&v=a&w=1', null, null),
    row('U', 'v=''u'' where id=''2''', 'public.vs', 'id=2&v=b&w=2', null, null)]::pg_temp.ev[],
    'views: update events; only ignored columns changed: none');
select pg_temp.expect_error('update vl set id = 7 where id = 1', 'primary key update not allowed');
select pg_temp.expect_error('update vn set v = ''z'' where id = 1', 'Update/Delete on table without pkey');
select pg_temp.expect_error('delete from vn where id = 1', 'Update/Delete on table without pkey');
select pg_temp.eq(array[
        pg_temp.rows('delete from vl where id = 1'),
        pg_temp.rows('delete from vj where id = 1'),
        pg_temp.rows('delete from vk where id = 1'),
        pg_temp.rows('delete from vw where id < 3')],
    array[1, 1, 0, 2]::bigint[], 'views: rows deleted');
with r as (delete from vs where id = 2 returning v)
select pg_temp.eq(array_agg(r.v), array['b'], 'views: RETURNING of a delete') from r;
select pg_temp.eq(pg_temp.take(), array[
    row('D:id', 'id=1&v=a&w=1', 'public.vl', null, null, null),
    row('{"op":"DELETE","table":["public","vj"],"pkey":["id"]}', '{"id":1,"v":"a","w":1}', 'public.vj', null, null, null),
    row('D:id', 'id=1&v=a', 'public.vk', null, null, null),
    row('D', 'id=''2''', 'public.vw', null, 'b', null),
    row('D', 'id=''2''', 'public.vs', null, null, null)]::pg_temp.ev[],
    'views: delete events');
create view vd as select * from vbase;
create trigger a instead of insert or update or delete on vd for each row execute procedure pgq.jsontriga('q', 'deny');
select pg_temp.expect_error('insert into vd values (20, ''d'', 1)',
    'Table ''public.vd'' to queue ''q'': change not allowed (INSERT)');
-- session_replication_role = local: no event, the row goes on even with SKIP
set session_replication_role = local;
select pg_temp.eq(array[
        pg_temp.rows('insert into vk values (30, ''l'', 1)'),
        pg_temp.rows('update vk set v = ''l'' where id = 1'),
        pg_temp.rows('delete from vd where id = 1'),
        pg_temp.rows('insert into vl values (30, ''l'', 1)')],
    array[1, 1, 1, 1]::bigint[], 'views under session_replication_role = local: rows');
reset session_replication_role;
select pg_temp.eq(pg_temp.take(), '{}'::pg_temp.ev[], 'views under session_replication_role = local: no events');

-- the queue's insert rules apply
create table lim (id int primary key);
create trigger a after insert on lim for each row execute procedure pgq.logutriga('q');
update pgq.queue set queue_disable_insert = true where queue_name = 'q';
select pg_temp.expect_error('insert into lim values (1)',
    'Insert into queue disallowed');
update pgq.queue set queue_disable_insert = false, queue_per_tx_limit = 2 where queue_name = 'q';
insert into lim values (1), (2);
select pg_temp.expect_error('insert into lim values (3), (4), (5)',
    'Queue ''q'' allows max 2 events from one TX');
update pgq.queue set queue_per_tx_limit = null where queue_name = 'q';
select pg_temp.eq(pg_temp.take(), array[
    row('I:id', 'id=1', 'public.lim', null, null, null),
    row('I:id', 'id=2', 'public.lim', null, null, null)]::pg_temp.ev[],
    'disabled insert and the per-transaction limit');

\o
select 'triggers.sql: all checks passed' as result;
