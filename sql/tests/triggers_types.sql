-- Producer triggers: how each type is written, under several settings.
--
-- The expected payloads are what Debian's C triggers (postgresql-15-pgq3)
-- write for the same rows under the same settings; the Rust test
-- triggers_match_the_c_extension (tests/it/sqlext.rs) compares the two
-- directly.
\ir _helpers.sql

select pgq.create_queue('q');
create type mood as enum ('ok', 'not ok');
create domain dint as int;
create type comp as (x int, y text);
create table ty (
    id int primary key, t text, vc varchar(10), ch char(3), ba bytea, b bool,
    ts timestamp, tz timestamptz, d date, tm time, ttz timetz, iv interval,
    i2 int2, i4 int4, i8 int8, nu numeric, f4 float4, f8 float8,
    o oid, x xid, u uuid, js json, jb jsonb,
    pt point, ln line, ls lseg, bx box, pa path, pg polygon, ci circle,
    ip inet, en mood, dm dint, cp comp,
    a_t text[], a_b bool[], a_ts timestamptz[], a_i int4[], a_n numeric[], a_f float8[],
    a_u uuid[], a_j jsonb[], a_pt point[], a_bx box[], a_ba bytea[]);
create trigger a after insert on ty for each row execute procedure pgq.logutriga('q');
create trigger b after insert on ty for each row execute procedure pgq.sqltriga('q');
create trigger c after insert on ty for each row execute procedure pgq.jsontriga('q');

create temp table expected (k int, n int, ev_type text, ev_data text);
insert into expected values
    (0, 1, 'I:id', 'id=1&t=q%27uo%22te%5c+back%2ccomma+%28p%29+%c3%a9+%f0%9f%98%80+%09%01&vc=v+c&ch=ab+&ba=%5cx00ff5c&b=t&ts=2020-02-03+04%3a05%3a06.789&tz=2020-02-03+02%3a05%3a06.789%2b00&d=2020-02-03&tm=04%3a05%3a06.5&ttz=04%3a05%3a06%2b05%3a30&iv=1+year+2+mons+3+days+04%3a05%3a06.7&i2=-32768&i4=2147483647&i8=-9223372036854775808&nu=NaN&f4=Infinity&f8=-0&o=4294967295&x=4294967295&u=a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11&js=%7b%22a%22+%3a+%5b1%2c+%22x%22%5d%7d&jb=%7b%22a%22%3a+%5b1.50%2c+%22x%22%5d%2c+%22b%22%3a+1%7d&pt=%281.5%2c-2%29&ln=%7b1%2c-1%2c0%7d&ls=%5b%280%2c0%29%2c%281%2c1%29%5d&bx=%281%2c1%29%2c%280%2c0%29&pa=%5b%280%2c0%29%2c%281%2c1%29%2c%282%2c0%29%5d&pg=%28%280%2c0%29%2c%281%2c1%29%2c%281%2c0%29%29&ci=%3c%280%2c0%29%2c1.5%3e&ip=192.168.0.1%2f24&en=not+ok&dm=5&cp=%282%2c%22q%22%22%5c%5c%2c%22%29&a_t=%7ba%2c%22b+c%22%2cNULL%2c%22%22%2c%22q%5c%22%5c%5c%22%7d&a_b=%7bt%2cf%7d&a_ts=%7b%222020-01-01+00%3a00%3a00%2b00%22%2cNULL%7d&a_i=%5b0%3a1%5d%3d%7b7%2c8%7d&a_n=%7b1.5%2cNaN%7d&a_f=%7bInfinity%2c0.1%7d&a_u=%7ba0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11%7d&a_j=%7b%22%7b%5c%22a%5c%22%3a+1%7d%22%7d&a_pt=%7b%22%281%2c2%29%22%7d&a_bx=%7b%281%2c1%29%2c%280%2c0%29%3b%282%2c2%29%2c%281%2c1%29%7d&a_ba=%7b%22%5c%5cx00%22%7d'),
    (0, 2, 'I', E'(id,t,vc,ch,ba,b,ts,tz,d,tm,ttz,iv,i2,i4,i8,nu,f4,f8,o,x,u,js,jb,pt,ln,ls,bx,pa,pg,ci,ip,en,dm,cp,a_t,a_b,a_ts,a_i,a_n,a_f,a_u,a_j,a_pt,a_bx,a_ba) values (''1'',E''q''''uo"te\\\\ back,comma (p) é 😀 \x09\x01'',''v c'',''ab '',E''\\\\x00ff5c'',''t'',''2020-02-03 04:05:06.789'',''2020-02-03 02:05:06.789+00'',''2020-02-03'',''04:05:06.5'',''04:05:06+05:30'',''1 year 2 mons 3 days 04:05:06.7'',''-32768'',''2147483647'',''-9223372036854775808'',''NaN'',''Infinity'',''-0'',''4294967295'',''4294967295'',''a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11'',''{"a" : [1, "x"]}'',''{"a": [1.50, "x"], "b": 1}'',''(1.5,-2)'',''{1,-1,0}'',''[(0,0),(1,1)]'',''(1,1),(0,0)'',''[(0,0),(1,1),(2,0)]'',''((0,0),(1,1),(1,0))'',''<(0,0),1.5>'',''192.168.0.1/24'',''not ok'',''5'',E''(2,"q""\\\\\\\\,")'',E''{a,"b c",NULL,"","q\\\\"\\\\\\\\"}'',''{t,f}'',''{"2020-01-01 00:00:00+00",NULL}'',''[0:1]={7,8}'',''{1.5,NaN}'',''{Infinity,0.1}'',''{a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11}'',E''{"{\\\\"a\\\\": 1}"}'',''{"(1,2)"}'',''{(1,1),(0,0);(2,2),(1,1)}'',E''{"\\\\\\\\x00"}'')'),
    (0, 3, '{"op":"INSERT","table":["public","ty"],"pkey":["id"]}', E'{"id":1,"t":"q''uo\\"te\\\\ back,comma (p) é 😀 \\t\\u0001","vc":"v c","ch":"ab ","ba":"\\\\x00ff5c","b":true,"ts":"2020-02-03T04:05:06.789","tz":"2020-02-03T02:05:06.789+00:00","d":"2020-02-03","tm":"04:05:06.5","ttz":"04:05:06+05:30","iv":"1 year 2 mons 3 days 04:05:06.7","i2":-32768,"i4":2147483647,"i8":-9223372036854775808,"nu":"NaN","f4":"Infinity","f8":"-0","o":"4294967295","x":"4294967295","u":"a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11","js":"{\\"a\\" : [1, \\"x\\"]}","jb":"{\\"a\\": [1.50, \\"x\\"], \\"b\\": 1}","pt":"(1.5,-2)","ln":"{1,-1,0}","ls":"[(0,0),(1,1)]","bx":"(1,1),(0,0)","pa":"[(0,0),(1,1),(2,0)]","pg":"((0,0),(1,1),(1,0))","ci":"<(0,0),1.5>","ip":"192.168.0.1/24","en":"not ok","dm":"5","cp":"(2,\\"q\\"\\"\\\\\\\\,\\")","a_t":"{a,\\"b c\\",NULL,\\"\\",\\"q\\\\\\"\\\\\\\\\\"}","a_b":"{t,f}","a_ts":"{\\"2020-01-01 00:00:00+00\\",NULL}","a_i":"[0:1]={7,8}","a_n":"{1.5,NaN}","a_f":"{Infinity,0.1}","a_u":"{a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11}","a_j":"{\\"{\\\\\\"a\\\\\\": 1}\\"}","a_pt":"{\\"(1,2)\\"}","a_bx":"{(1,1),(0,0);(2,2),(1,1)}","a_ba":"{\\"\\\\\\\\x00\\"}"}'),
    (0, 4, 'I:id', 'id=2&t=&vc&ch&ba&b&ts&tz&d&tm&ttz&iv&i2&i4&i8&nu&f4&f8&o&x&u&js&jb&pt&ln&ls&bx&pa&pg&ci&ip&en&dm&cp&a_t&a_b&a_ts&a_i&a_n&a_f&a_u&a_j&a_pt&a_bx&a_ba'),
    (0, 5, 'I', '(id,t,vc,ch,ba,b,ts,tz,d,tm,ttz,iv,i2,i4,i8,nu,f4,f8,o,x,u,js,jb,pt,ln,ls,bx,pa,pg,ci,ip,en,dm,cp,a_t,a_b,a_ts,a_i,a_n,a_f,a_u,a_j,a_pt,a_bx,a_ba) values (''2'','''',null,null,null,null,null,null,null,null,null,null,null,null,null,null,null,null,null,null,null,null,null,null,null,null,null,null,null,null,null,null,null,null,null,null,null,null,null,null,null,null,null,null,null)'),
    (0, 6, '{"op":"INSERT","table":["public","ty"],"pkey":["id"]}', '{"id":2,"t":"","vc":null,"ch":null,"ba":null,"b":null,"ts":null,"tz":null,"d":null,"tm":null,"ttz":null,"iv":null,"i2":null,"i4":null,"i8":null,"nu":null,"f4":null,"f8":null,"o":null,"x":null,"u":null,"js":null,"jb":null,"pt":null,"ln":null,"ls":null,"bx":null,"pa":null,"pg":null,"ci":null,"ip":null,"en":null,"dm":null,"cp":null,"a_t":null,"a_b":null,"a_ts":null,"a_i":null,"a_n":null,"a_f":null,"a_u":null,"a_j":null,"a_pt":null,"a_bx":null,"a_ba":null}'),
    (0, 7, 'I:id', 'id=3&t=x&vc=&ch=+++&ba=%5cx&b=f&ts=infinity&tz=-infinity&d=4713-01-01+BC&tm=24%3a00%3a00&ttz=00%3a00%3a00-15%3a59&iv=-1+days+%2b02%3a00%3a00&i2=32767&i4=-2147483648&i8=9223372036854775807&nu=-0.000000000001&f4=3.4e%2b38&f8=2.2250738585072014e-308&o=0&x=0&u=00000000-0000-0000-0000-000000000000&js=%22str%22&jb=%22s%22&pt=%280%2c0%29&ln=%7b1%2c0%2c-1%7d&ls=%5b%281%2c2%29%2c%283%2c4%29%5d&bx=%280%2c0%29%2c%280%2c0%29&pa=%28%280%2c0%29%2c%281%2c1%29%29&pg=%28%280%2c0%29%29&ci=%3c%281%2c1%29%2c0%3e&ip=%3a%3a1&en=ok&dm=-1&cp=%28%2c%29&a_t=%7b%7d&a_b=%7b%7d&a_ts=%7b%7d&a_i=%7b%7d&a_n=%7b%7d&a_f=%7b%7d&a_u=%7b%7d&a_j=%7b%7d&a_pt=%7b%7d&a_bx=%7b%7d&a_ba=%7b%7d'),
    (0, 8, 'I', E'(id,t,vc,ch,ba,b,ts,tz,d,tm,ttz,iv,i2,i4,i8,nu,f4,f8,o,x,u,js,jb,pt,ln,ls,bx,pa,pg,ci,ip,en,dm,cp,a_t,a_b,a_ts,a_i,a_n,a_f,a_u,a_j,a_pt,a_bx,a_ba) values (''3'',''x'','''',''   '',E''\\\\x'',''f'',''infinity'',''-infinity'',''4713-01-01 BC'',''24:00:00'',''00:00:00-15:59'',''-1 days +02:00:00'',''32767'',''-2147483648'',''9223372036854775807'',''-0.000000000001'',''3.4e+38'',''2.2250738585072014e-308'',''0'',''0'',''00000000-0000-0000-0000-000000000000'',''"str"'',''"s"'',''(0,0)'',''{1,0,-1}'',''[(1,2),(3,4)]'',''(0,0),(0,0)'',''((0,0),(1,1))'',''((0,0))'',''<(1,1),0>'',''::1'',''ok'',''-1'',''(,)'',''{}'',''{}'',''{}'',''{}'',''{}'',''{}'',''{}'',''{}'',''{}'',''{}'',''{}'')'),
    (0, 9, '{"op":"INSERT","table":["public","ty"],"pkey":["id"]}', E'{"id":3,"t":"x","vc":"","ch":"   ","ba":"\\\\x","b":false,"ts":"infinity","tz":"-infinity","d":"4713-01-01 BC","tm":"24:00:00","ttz":"00:00:00-15:59","iv":"-1 days +02:00:00","i2":32767,"i4":-2147483648,"i8":9223372036854775807,"nu":"-0.000000000001","f4":"3.4e+38","f8":"2.2250738585072014e-308","o":"0","x":"0","u":"00000000-0000-0000-0000-000000000000","js":"\\"str\\"","jb":"\\"s\\"","pt":"(0,0)","ln":"{1,0,-1}","ls":"[(1,2),(3,4)]","bx":"(0,0),(0,0)","pa":"((0,0),(1,1))","pg":"((0,0))","ci":"<(1,1),0>","ip":"::1","en":"ok","dm":"-1","cp":"(,)","a_t":"{}","a_b":"{}","a_ts":"{}","a_i":"{}","a_n":"{}","a_f":"{}","a_u":"{}","a_j":"{}","a_pt":"{}","a_bx":"{}","a_ba":"{}"}'),
    (1, 1, 'I:id', 'id=1&t=q%27uo%22te%5c+back%2ccomma+%28p%29+%c3%a9+%f0%9f%98%80+%09%01&vc=v+c&ch=ab+&ba=%5c000%5c377%5c%5c&b=t&ts=03%2f02%2f2020+04%3a05%3a06.789&tz=02%2f02%2f2020+22%3a35%3a06.789+NST&d=03%2f02%2f2020&tm=04%3a05%3a06.5&ttz=04%3a05%3a06%2b05%3a30&iv=%2b1-2+%2b3+%2b4%3a05%3a06.7&i2=-32768&i4=2147483647&i8=-9223372036854775808&nu=NaN&f4=Infinity&f8=-0&o=4294967295&x=4294967295&u=a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11&js=%7b%22a%22+%3a+%5b1%2c+%22x%22%5d%7d&jb=%7b%22a%22%3a+%5b1.50%2c+%22x%22%5d%2c+%22b%22%3a+1%7d&pt=%281.5%2c-2%29&ln=%7b1%2c-1%2c0%7d&ls=%5b%280%2c0%29%2c%281%2c1%29%5d&bx=%281%2c1%29%2c%280%2c0%29&pa=%5b%280%2c0%29%2c%281%2c1%29%2c%282%2c0%29%5d&pg=%28%280%2c0%29%2c%281%2c1%29%2c%281%2c0%29%29&ci=%3c%280%2c0%29%2c1.5%3e&ip=192.168.0.1%2f24&en=not+ok&dm=5&cp=%282%2c%22q%22%22%5c%5c%2c%22%29&a_t=%7ba%2c%22b+c%22%2cNULL%2c%22%22%2c%22q%5c%22%5c%5c%22%7d&a_b=%7bt%2cf%7d&a_ts=%7b%2231%2f12%2f2019+20%3a30%3a00+NST%22%2cNULL%7d&a_i=%5b0%3a1%5d%3d%7b7%2c8%7d&a_n=%7b1.5%2cNaN%7d&a_f=%7bInfinity%2c0.1%7d&a_u=%7ba0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11%7d&a_j=%7b%22%7b%5c%22a%5c%22%3a+1%7d%22%7d&a_pt=%7b%22%281%2c2%29%22%7d&a_bx=%7b%281%2c1%29%2c%280%2c0%29%3b%282%2c2%29%2c%281%2c1%29%7d&a_ba=%7b%22%5c%5c000%22%7d'),
    (1, 2, 'I', E'(id,t,vc,ch,ba,b,ts,tz,d,tm,ttz,iv,i2,i4,i8,nu,f4,f8,o,x,u,js,jb,pt,ln,ls,bx,pa,pg,ci,ip,en,dm,cp,a_t,a_b,a_ts,a_i,a_n,a_f,a_u,a_j,a_pt,a_bx,a_ba) values (''1'',E''q''''uo"te\\\\ back,comma (p) é 😀 \x09\x01'',''v c'',''ab '',E''\\\\000\\\\377\\\\\\\\'',''t'',''03/02/2020 04:05:06.789'',''02/02/2020 22:35:06.789 NST'',''03/02/2020'',''04:05:06.5'',''04:05:06+05:30'',''+1-2 +3 +4:05:06.7'',''-32768'',''2147483647'',''-9223372036854775808'',''NaN'',''Infinity'',''-0'',''4294967295'',''4294967295'',''a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11'',''{"a" : [1, "x"]}'',''{"a": [1.50, "x"], "b": 1}'',''(1.5,-2)'',''{1,-1,0}'',''[(0,0),(1,1)]'',''(1,1),(0,0)'',''[(0,0),(1,1),(2,0)]'',''((0,0),(1,1),(1,0))'',''<(0,0),1.5>'',''192.168.0.1/24'',''not ok'',''5'',E''(2,"q""\\\\\\\\,")'',E''{a,"b c",NULL,"","q\\\\"\\\\\\\\"}'',''{t,f}'',''{"31/12/2019 20:30:00 NST",NULL}'',''[0:1]={7,8}'',''{1.5,NaN}'',''{Infinity,0.1}'',''{a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11}'',E''{"{\\\\"a\\\\": 1}"}'',''{"(1,2)"}'',''{(1,1),(0,0);(2,2),(1,1)}'',E''{"\\\\\\\\000"}'')'),
    (1, 3, '{"op":"INSERT","table":["public","ty"],"pkey":["id"]}', E'{"id":1,"t":"q''uo\\"te\\\\ back,comma (p) é 😀 \\t\\u0001","vc":"v c","ch":"ab ","ba":"\\\\000\\\\377\\\\\\\\","b":true,"ts":"2020-02-03T04:05:06.789","tz":"2020-02-02T22:35:06.789-03:30","d":"2020-02-03","tm":"04:05:06.5","ttz":"04:05:06+05:30","iv":"+1-2 +3 +4:05:06.7","i2":-32768,"i4":2147483647,"i8":-9223372036854775808,"nu":"NaN","f4":"Infinity","f8":"-0","o":"4294967295","x":"4294967295","u":"a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11","js":"{\\"a\\" : [1, \\"x\\"]}","jb":"{\\"a\\": [1.50, \\"x\\"], \\"b\\": 1}","pt":"(1.5,-2)","ln":"{1,-1,0}","ls":"[(0,0),(1,1)]","bx":"(1,1),(0,0)","pa":"[(0,0),(1,1),(2,0)]","pg":"((0,0),(1,1),(1,0))","ci":"<(0,0),1.5>","ip":"192.168.0.1/24","en":"not ok","dm":"5","cp":"(2,\\"q\\"\\"\\\\\\\\,\\")","a_t":"{a,\\"b c\\",NULL,\\"\\",\\"q\\\\\\"\\\\\\\\\\"}","a_b":"{t,f}","a_ts":"{\\"31/12/2019 20:30:00 NST\\",NULL}","a_i":"[0:1]={7,8}","a_n":"{1.5,NaN}","a_f":"{Infinity,0.1}","a_u":"{a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11}","a_j":"{\\"{\\\\\\"a\\\\\\": 1}\\"}","a_pt":"{\\"(1,2)\\"}","a_bx":"{(1,1),(0,0);(2,2),(1,1)}","a_ba":"{\\"\\\\\\\\000\\"}"}'),
    (1, 4, 'I:id', 'id=2&t=&vc&ch&ba&b&ts&tz&d&tm&ttz&iv&i2&i4&i8&nu&f4&f8&o&x&u&js&jb&pt&ln&ls&bx&pa&pg&ci&ip&en&dm&cp&a_t&a_b&a_ts&a_i&a_n&a_f&a_u&a_j&a_pt&a_bx&a_ba'),
    (1, 5, 'I', '(id,t,vc,ch,ba,b,ts,tz,d,tm,ttz,iv,i2,i4,i8,nu,f4,f8,o,x,u,js,jb,pt,ln,ls,bx,pa,pg,ci,ip,en,dm,cp,a_t,a_b,a_ts,a_i,a_n,a_f,a_u,a_j,a_pt,a_bx,a_ba) values (''2'','''',null,null,null,null,null,null,null,null,null,null,null,null,null,null,null,null,null,null,null,null,null,null,null,null,null,null,null,null,null,null,null,null,null,null,null,null,null,null,null,null,null,null,null)'),
    (1, 6, '{"op":"INSERT","table":["public","ty"],"pkey":["id"]}', '{"id":2,"t":"","vc":null,"ch":null,"ba":null,"b":null,"ts":null,"tz":null,"d":null,"tm":null,"ttz":null,"iv":null,"i2":null,"i4":null,"i8":null,"nu":null,"f4":null,"f8":null,"o":null,"x":null,"u":null,"js":null,"jb":null,"pt":null,"ln":null,"ls":null,"bx":null,"pa":null,"pg":null,"ci":null,"ip":null,"en":null,"dm":null,"cp":null,"a_t":null,"a_b":null,"a_ts":null,"a_i":null,"a_n":null,"a_f":null,"a_u":null,"a_j":null,"a_pt":null,"a_bx":null,"a_ba":null}'),
    (1, 7, 'I:id', 'id=3&t=x&vc=&ch=+++&ba=&b=f&ts=infinity&tz=-infinity&d=01%2f01%2f4713+BC&tm=24%3a00%3a00&ttz=00%3a00%3a00-15%3a59&iv=%2b0-0+-1+%2b2%3a00%3a00&i2=32767&i4=-2147483648&i8=9223372036854775807&nu=-0.000000000001&f4=3.4e%2b38&f8=2.2250738585072e-308&o=0&x=0&u=00000000-0000-0000-0000-000000000000&js=%22str%22&jb=%22s%22&pt=%280%2c0%29&ln=%7b1%2c0%2c-1%7d&ls=%5b%281%2c2%29%2c%283%2c4%29%5d&bx=%280%2c0%29%2c%280%2c0%29&pa=%28%280%2c0%29%2c%281%2c1%29%29&pg=%28%280%2c0%29%29&ci=%3c%281%2c1%29%2c0%3e&ip=%3a%3a1&en=ok&dm=-1&cp=%28%2c%29&a_t=%7b%7d&a_b=%7b%7d&a_ts=%7b%7d&a_i=%7b%7d&a_n=%7b%7d&a_f=%7b%7d&a_u=%7b%7d&a_j=%7b%7d&a_pt=%7b%7d&a_bx=%7b%7d&a_ba=%7b%7d'),
    (1, 8, 'I', '(id,t,vc,ch,ba,b,ts,tz,d,tm,ttz,iv,i2,i4,i8,nu,f4,f8,o,x,u,js,jb,pt,ln,ls,bx,pa,pg,ci,ip,en,dm,cp,a_t,a_b,a_ts,a_i,a_n,a_f,a_u,a_j,a_pt,a_bx,a_ba) values (''3'',''x'','''',''   '','''',''f'',''infinity'',''-infinity'',''01/01/4713 BC'',''24:00:00'',''00:00:00-15:59'',''+0-0 -1 +2:00:00'',''32767'',''-2147483648'',''9223372036854775807'',''-0.000000000001'',''3.4e+38'',''2.2250738585072e-308'',''0'',''0'',''00000000-0000-0000-0000-000000000000'',''"str"'',''"s"'',''(0,0)'',''{1,0,-1}'',''[(1,2),(3,4)]'',''(0,0),(0,0)'',''((0,0),(1,1))'',''((0,0))'',''<(1,1),0>'',''::1'',''ok'',''-1'',''(,)'',''{}'',''{}'',''{}'',''{}'',''{}'',''{}'',''{}'',''{}'',''{}'',''{}'',''{}'')'),
    (1, 9, '{"op":"INSERT","table":["public","ty"],"pkey":["id"]}', E'{"id":3,"t":"x","vc":"","ch":"   ","ba":"","b":false,"ts":"infinity","tz":"-infinity","d":"4713-01-01 BC","tm":"24:00:00","ttz":"00:00:00-15:59","iv":"+0-0 -1 +2:00:00","i2":32767,"i4":-2147483648,"i8":9223372036854775807,"nu":"-0.000000000001","f4":"3.4e+38","f8":"2.2250738585072e-308","o":"0","x":"0","u":"00000000-0000-0000-0000-000000000000","js":"\\"str\\"","jb":"\\"s\\"","pt":"(0,0)","ln":"{1,0,-1}","ls":"[(1,2),(3,4)]","bx":"(0,0),(0,0)","pa":"((0,0),(1,1))","pg":"((0,0))","ci":"<(1,1),0>","ip":"::1","en":"ok","dm":"-1","cp":"(,)","a_t":"{}","a_b":"{}","a_ts":"{}","a_i":"{}","a_n":"{}","a_f":"{}","a_u":"{}","a_j":"{}","a_pt":"{}","a_bx":"{}","a_ba":"{}"}'),
    (2, 1, 'I:id', 'id=1&t=q%27uo%22te%5c+back%2ccomma+%28p%29+%c3%a9+%f0%9f%98%80+%09%01&vc=v+c&ch=ab+&ba=%5cx00ff5c&b=t&ts=03.02.2020+04%3a05%3a06.789&tz=03.02.2020+03%3a05%3a06.789+CET&d=03.02.2020&tm=04%3a05%3a06.5&ttz=04%3a05%3a06%2b05%3a30&iv=P1Y2M3DT4H5M6.7S&i2=-32768&i4=2147483647&i8=-9223372036854775808&nu=NaN&f4=Infinity&f8=-0&o=4294967295&x=4294967295&u=a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11&js=%7b%22a%22+%3a+%5b1%2c+%22x%22%5d%7d&jb=%7b%22a%22%3a+%5b1.50%2c+%22x%22%5d%2c+%22b%22%3a+1%7d&pt=%282%2c-2%29&ln=%7b1%2c-1%2c0%7d&ls=%5b%280%2c0%29%2c%281%2c1%29%5d&bx=%281%2c1%29%2c%280%2c0%29&pa=%5b%280%2c0%29%2c%281%2c1%29%2c%282%2c0%29%5d&pg=%28%280%2c0%29%2c%281%2c1%29%2c%281%2c0%29%29&ci=%3c%280%2c0%29%2c2%3e&ip=192.168.0.1%2f24&en=not+ok&dm=5&cp=%282%2c%22q%22%22%5c%5c%2c%22%29&a_t=%7ba%2c%22b+c%22%2cNULL%2c%22%22%2c%22q%5c%22%5c%5c%22%7d&a_b=%7bt%2cf%7d&a_ts=%7b%2201.01.2020+01%3a00%3a00+CET%22%2cNULL%7d&a_i=%5b0%3a1%5d%3d%7b7%2c8%7d&a_n=%7b1.5%2cNaN%7d&a_f=%7bInfinity%2c0.1%7d&a_u=%7ba0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11%7d&a_j=%7b%22%7b%5c%22a%5c%22%3a+1%7d%22%7d&a_pt=%7b%22%281%2c2%29%22%7d&a_bx=%7b%281%2c1%29%2c%280%2c0%29%3b%282%2c2%29%2c%281%2c1%29%7d&a_ba=%7b%22%5c%5cx00%22%7d'),
    (2, 2, 'I', E'(id,t,vc,ch,ba,b,ts,tz,d,tm,ttz,iv,i2,i4,i8,nu,f4,f8,o,x,u,js,jb,pt,ln,ls,bx,pa,pg,ci,ip,en,dm,cp,a_t,a_b,a_ts,a_i,a_n,a_f,a_u,a_j,a_pt,a_bx,a_ba) values (''1'',E''q''''uo"te\\\\ back,comma (p) é 😀 \x09\x01'',''v c'',''ab '',E''\\\\x00ff5c'',''t'',''03.02.2020 04:05:06.789'',''03.02.2020 03:05:06.789 CET'',''03.02.2020'',''04:05:06.5'',''04:05:06+05:30'',''P1Y2M3DT4H5M6.7S'',''-32768'',''2147483647'',''-9223372036854775808'',''NaN'',''Infinity'',''-0'',''4294967295'',''4294967295'',''a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11'',''{"a" : [1, "x"]}'',''{"a": [1.50, "x"], "b": 1}'',''(2,-2)'',''{1,-1,0}'',''[(0,0),(1,1)]'',''(1,1),(0,0)'',''[(0,0),(1,1),(2,0)]'',''((0,0),(1,1),(1,0))'',''<(0,0),2>'',''192.168.0.1/24'',''not ok'',''5'',E''(2,"q""\\\\\\\\,")'',E''{a,"b c",NULL,"","q\\\\"\\\\\\\\"}'',''{t,f}'',''{"01.01.2020 01:00:00 CET",NULL}'',''[0:1]={7,8}'',''{1.5,NaN}'',''{Infinity,0.1}'',''{a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11}'',E''{"{\\\\"a\\\\": 1}"}'',''{"(1,2)"}'',''{(1,1),(0,0);(2,2),(1,1)}'',E''{"\\\\\\\\x00"}'')'),
    (2, 3, '{"op":"INSERT","table":["public","ty"],"pkey":["id"]}', E'{"id":1,"t":"q''uo\\"te\\\\ back,comma (p) é 😀 \\t\\u0001","vc":"v c","ch":"ab ","ba":"\\\\x00ff5c","b":true,"ts":"2020-02-03T04:05:06.789","tz":"2020-02-03T03:05:06.789+01:00","d":"2020-02-03","tm":"04:05:06.5","ttz":"04:05:06+05:30","iv":"P1Y2M3DT4H5M6.7S","i2":-32768,"i4":2147483647,"i8":-9223372036854775808,"nu":"NaN","f4":"Infinity","f8":"-0","o":"4294967295","x":"4294967295","u":"a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11","js":"{\\"a\\" : [1, \\"x\\"]}","jb":"{\\"a\\": [1.50, \\"x\\"], \\"b\\": 1}","pt":"(2,-2)","ln":"{1,-1,0}","ls":"[(0,0),(1,1)]","bx":"(1,1),(0,0)","pa":"[(0,0),(1,1),(2,0)]","pg":"((0,0),(1,1),(1,0))","ci":"<(0,0),2>","ip":"192.168.0.1/24","en":"not ok","dm":"5","cp":"(2,\\"q\\"\\"\\\\\\\\,\\")","a_t":"{a,\\"b c\\",NULL,\\"\\",\\"q\\\\\\"\\\\\\\\\\"}","a_b":"{t,f}","a_ts":"{\\"01.01.2020 01:00:00 CET\\",NULL}","a_i":"[0:1]={7,8}","a_n":"{1.5,NaN}","a_f":"{Infinity,0.1}","a_u":"{a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11}","a_j":"{\\"{\\\\\\"a\\\\\\": 1}\\"}","a_pt":"{\\"(1,2)\\"}","a_bx":"{(1,1),(0,0);(2,2),(1,1)}","a_ba":"{\\"\\\\\\\\x00\\"}"}'),
    (2, 4, 'I:id', 'id=2&t=&vc&ch&ba&b&ts&tz&d&tm&ttz&iv&i2&i4&i8&nu&f4&f8&o&x&u&js&jb&pt&ln&ls&bx&pa&pg&ci&ip&en&dm&cp&a_t&a_b&a_ts&a_i&a_n&a_f&a_u&a_j&a_pt&a_bx&a_ba'),
    (2, 5, 'I', '(id,t,vc,ch,ba,b,ts,tz,d,tm,ttz,iv,i2,i4,i8,nu,f4,f8,o,x,u,js,jb,pt,ln,ls,bx,pa,pg,ci,ip,en,dm,cp,a_t,a_b,a_ts,a_i,a_n,a_f,a_u,a_j,a_pt,a_bx,a_ba) values (''2'','''',null,null,null,null,null,null,null,null,null,null,null,null,null,null,null,null,null,null,null,null,null,null,null,null,null,null,null,null,null,null,null,null,null,null,null,null,null,null,null,null,null,null,null)'),
    (2, 6, '{"op":"INSERT","table":["public","ty"],"pkey":["id"]}', '{"id":2,"t":"","vc":null,"ch":null,"ba":null,"b":null,"ts":null,"tz":null,"d":null,"tm":null,"ttz":null,"iv":null,"i2":null,"i4":null,"i8":null,"nu":null,"f4":null,"f8":null,"o":null,"x":null,"u":null,"js":null,"jb":null,"pt":null,"ln":null,"ls":null,"bx":null,"pa":null,"pg":null,"ci":null,"ip":null,"en":null,"dm":null,"cp":null,"a_t":null,"a_b":null,"a_ts":null,"a_i":null,"a_n":null,"a_f":null,"a_u":null,"a_j":null,"a_pt":null,"a_bx":null,"a_ba":null}'),
    (2, 7, 'I:id', 'id=3&t=x&vc=&ch=+++&ba=%5cx&b=f&ts=infinity&tz=-infinity&d=01.01.4713+BC&tm=24%3a00%3a00&ttz=00%3a00%3a00-15%3a59&iv=P-1DT2H&i2=32767&i4=-2147483648&i8=9223372036854775807&nu=-0.000000000001&f4=3e%2b38&f8=2e-308&o=0&x=0&u=00000000-0000-0000-0000-000000000000&js=%22str%22&jb=%22s%22&pt=%280%2c0%29&ln=%7b1%2c0%2c-1%7d&ls=%5b%281%2c2%29%2c%283%2c4%29%5d&bx=%280%2c0%29%2c%280%2c0%29&pa=%28%280%2c0%29%2c%281%2c1%29%29&pg=%28%280%2c0%29%29&ci=%3c%281%2c1%29%2c0%3e&ip=%3a%3a1&en=ok&dm=-1&cp=%28%2c%29&a_t=%7b%7d&a_b=%7b%7d&a_ts=%7b%7d&a_i=%7b%7d&a_n=%7b%7d&a_f=%7b%7d&a_u=%7b%7d&a_j=%7b%7d&a_pt=%7b%7d&a_bx=%7b%7d&a_ba=%7b%7d'),
    (2, 8, 'I', E'(id,t,vc,ch,ba,b,ts,tz,d,tm,ttz,iv,i2,i4,i8,nu,f4,f8,o,x,u,js,jb,pt,ln,ls,bx,pa,pg,ci,ip,en,dm,cp,a_t,a_b,a_ts,a_i,a_n,a_f,a_u,a_j,a_pt,a_bx,a_ba) values (''3'',''x'','''',''   '',E''\\\\x'',''f'',''infinity'',''-infinity'',''01.01.4713 BC'',''24:00:00'',''00:00:00-15:59'',''P-1DT2H'',''32767'',''-2147483648'',''9223372036854775807'',''-0.000000000001'',''3e+38'',''2e-308'',''0'',''0'',''00000000-0000-0000-0000-000000000000'',''"str"'',''"s"'',''(0,0)'',''{1,0,-1}'',''[(1,2),(3,4)]'',''(0,0),(0,0)'',''((0,0),(1,1))'',''((0,0))'',''<(1,1),0>'',''::1'',''ok'',''-1'',''(,)'',''{}'',''{}'',''{}'',''{}'',''{}'',''{}'',''{}'',''{}'',''{}'',''{}'',''{}'')'),
    (2, 9, '{"op":"INSERT","table":["public","ty"],"pkey":["id"]}', E'{"id":3,"t":"x","vc":"","ch":"   ","ba":"\\\\x","b":false,"ts":"infinity","tz":"-infinity","d":"4713-01-01 BC","tm":"24:00:00","ttz":"00:00:00-15:59","iv":"P-1DT2H","i2":32767,"i4":-2147483648,"i8":9223372036854775807,"nu":"-0.000000000001","f4":"3e+38","f8":"2e-308","o":"0","x":"0","u":"00000000-0000-0000-0000-000000000000","js":"\\"str\\"","jb":"\\"s\\"","pt":"(0,0)","ln":"{1,0,-1}","ls":"[(1,2),(3,4)]","bx":"(0,0),(0,0)","pa":"((0,0),(1,1))","pg":"((0,0))","ci":"<(1,1),0>","ip":"::1","en":"ok","dm":"-1","cp":"(,)","a_t":"{}","a_b":"{}","a_ts":"{}","a_i":"{}","a_n":"{}","a_f":"{}","a_u":"{}","a_j":"{}","a_pt":"{}","a_bx":"{}","a_ba":"{}"}');

-- The events of the current transaction, in order, against settings set k.
create function pg_temp.check_events(i_k int) returns void language plpgsql as $$
declare
    r record;
    v_n int := 0;
begin
    for r in execute format('select ev_type, ev_data from %s order by ev_id',
                            (select queue_data_pfx from pgq.queue where queue_name = 'q'))
    loop
        v_n := v_n + 1;
        perform pg_temp.eq(r.ev_type, (select ev_type from expected where k = i_k and n = v_n),
                           format('settings %s, event %s: ev_type', i_k, v_n));
        perform pg_temp.eq(r.ev_data, (select ev_data from expected where k = i_k and n = v_n),
                           format('settings %s, event %s: ev_data', i_k, v_n));
    end loop;
    perform pg_temp.eq(v_n, (select count(*)::int from expected where k = i_k),
                       format('settings %s: number of events', i_k));
end;
$$;

-- ISO dates, UTC, default floats, hex bytea
begin;
set local datestyle = 'ISO, MDY';
set local timezone = 'UTC';
set local intervalstyle = 'postgres';
set local extra_float_digits = 1;
set local bytea_output = 'hex';
insert into ty values (1, E'q''uo"te\\ back,comma (p) é 😀 \t\u0001', 'v c', 'ab', '\x00ff5c', true,
    '2020-02-03 04:05:06.789', '2020-02-03 04:05:06.789+02', '2020-02-03', '04:05:06.5', '04:05:06+05:30', '1 year 2 mons 3 days 04:05:06.7',
    -32768, 2147483647, -9223372036854775808, 'NaN', 'Infinity', '-0',
    4294967295, '4294967295', 'a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11', '{"a" : [1, "x"]}', '{"b": 1, "a": [1.50, "x"]}',
    '(1.5,-2)', '{1,-1,0}', '[(0,0),(1,1)]', '(1,1),(0,0)', '[(0,0),(1,1),(2,0)]', '((0,0),(1,1),(1,0))', '<(0,0),1.5>',
    '192.168.0.1/24', 'not ok', 5, row(2, E'q"\\,'),
    array['a', 'b c', null, '', E'q"\\'], array[true, false], array['2020-01-01 00:00:00+00'::timestamptz, null],
    '[0:1]={7,8}', array[1.5, 'NaN']::numeric[], array['Infinity', 0.1]::float8[],
    array['a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11'::uuid], array['{"a":1}'::jsonb], array['(1,2)'::point],
    array['(1,1),(0,0)'::box, '(2,2),(1,1)'::box], array[decode('00', 'hex')]);
insert into ty (id, t) values (2, '');
insert into ty values (3, 'x', '', '', '', false, 'infinity', '-infinity', '4713-01-01 BC', '24:00', '00:00:00-15:59', '-1 day +02:00',
    32767, -2147483648, 9223372036854775807, -0.000000000001, 3.4e38, 2.2250738585072014e-308,
    0, '0', '00000000-0000-0000-0000-000000000000', '"str"', '"s"', '(0,0)', '{1,0,-1}', '[(1,2),(3,4)]', '(0,0),(0,0)',
    '((0,0),(1,1))', '((0,0))', '<(1,1),0>', '::1', 'ok', -1, row(null, null), '{}', '{}', '{}', '{}', '{}', '{}', '{}', '{}', '{}', '{}', '{}');
select pg_temp.check_events(0);
rollback;

-- SQL dates, a half-hour zone, extra_float_digits 0, escape bytea
begin;
set local datestyle = 'SQL, DMY';
set local timezone = 'America/St_Johns';
set local intervalstyle = 'sql_standard';
set local extra_float_digits = 0;
set local bytea_output = 'escape';
insert into ty values (1, E'q''uo"te\\ back,comma (p) é 😀 \t\u0001', 'v c', 'ab', '\x00ff5c', true,
    '2020-02-03 04:05:06.789', '2020-02-03 04:05:06.789+02', '2020-02-03', '04:05:06.5', '04:05:06+05:30', '1 year 2 mons 3 days 04:05:06.7',
    -32768, 2147483647, -9223372036854775808, 'NaN', 'Infinity', '-0',
    4294967295, '4294967295', 'a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11', '{"a" : [1, "x"]}', '{"b": 1, "a": [1.50, "x"]}',
    '(1.5,-2)', '{1,-1,0}', '[(0,0),(1,1)]', '(1,1),(0,0)', '[(0,0),(1,1),(2,0)]', '((0,0),(1,1),(1,0))', '<(0,0),1.5>',
    '192.168.0.1/24', 'not ok', 5, row(2, E'q"\\,'),
    array['a', 'b c', null, '', E'q"\\'], array[true, false], array['2020-01-01 00:00:00+00'::timestamptz, null],
    '[0:1]={7,8}', array[1.5, 'NaN']::numeric[], array['Infinity', 0.1]::float8[],
    array['a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11'::uuid], array['{"a":1}'::jsonb], array['(1,2)'::point],
    array['(1,1),(0,0)'::box, '(2,2),(1,1)'::box], array[decode('00', 'hex')]);
insert into ty (id, t) values (2, '');
insert into ty values (3, 'x', '', '', '', false, 'infinity', '-infinity', '4713-01-01 BC', '24:00', '00:00:00-15:59', '-1 day +02:00',
    32767, -2147483648, 9223372036854775807, -0.000000000001, 3.4e38, 2.2250738585072014e-308,
    0, '0', '00000000-0000-0000-0000-000000000000', '"str"', '"s"', '(0,0)', '{1,0,-1}', '[(1,2),(3,4)]', '(0,0),(0,0)',
    '((0,0),(1,1))', '((0,0))', '<(1,1),0>', '::1', 'ok', -1, row(null, null), '{}', '{}', '{}', '{}', '{}', '{}', '{}', '{}', '{}', '{}', '{}');
select pg_temp.check_events(1);
rollback;

-- German dates, a zone with seconds in its old offsets, ISO 8601 intervals, short floats
begin;
set local datestyle = 'German';
set local timezone = 'Europe/Amsterdam';
set local intervalstyle = 'iso_8601';
set local extra_float_digits = -15;
insert into ty values (1, E'q''uo"te\\ back,comma (p) é 😀 \t\u0001', 'v c', 'ab', '\x00ff5c', true,
    '2020-02-03 04:05:06.789', '2020-02-03 04:05:06.789+02', '2020-02-03', '04:05:06.5', '04:05:06+05:30', '1 year 2 mons 3 days 04:05:06.7',
    -32768, 2147483647, -9223372036854775808, 'NaN', 'Infinity', '-0',
    4294967295, '4294967295', 'a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11', '{"a" : [1, "x"]}', '{"b": 1, "a": [1.50, "x"]}',
    '(1.5,-2)', '{1,-1,0}', '[(0,0),(1,1)]', '(1,1),(0,0)', '[(0,0),(1,1),(2,0)]', '((0,0),(1,1),(1,0))', '<(0,0),1.5>',
    '192.168.0.1/24', 'not ok', 5, row(2, E'q"\\,'),
    array['a', 'b c', null, '', E'q"\\'], array[true, false], array['2020-01-01 00:00:00+00'::timestamptz, null],
    '[0:1]={7,8}', array[1.5, 'NaN']::numeric[], array['Infinity', 0.1]::float8[],
    array['a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11'::uuid], array['{"a":1}'::jsonb], array['(1,2)'::point],
    array['(1,1),(0,0)'::box, '(2,2),(1,1)'::box], array[decode('00', 'hex')]);
insert into ty (id, t) values (2, '');
insert into ty values (3, 'x', '', '', '', false, 'infinity', '-infinity', '4713-01-01 BC', '24:00', '00:00:00-15:59', '-1 day +02:00',
    32767, -2147483648, 9223372036854775807, -0.000000000001, 3.4e38, 2.2250738585072014e-308,
    0, '0', '00000000-0000-0000-0000-000000000000', '"str"', '"s"', '(0,0)', '{1,0,-1}', '[(1,2),(3,4)]', '(0,0),(0,0)',
    '((0,0),(1,1))', '((0,0))', '<(1,1),0>', '::1', 'ok', -1, row(null, null), '{}', '{}', '{}', '{}', '{}', '{}', '{}', '{}', '{}', '{}', '{}');
select pg_temp.check_events(2);
rollback;

\o
select 'triggers_types.sql: all checks passed' as result;
