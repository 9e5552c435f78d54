-- pgbench: :rows rows (pgbench -D rows=N) into trg_json in one statement.
insert into trg_json (c1, c2, c3, c4, c5, c6, c7, c8, c9)
select i, 'hello world', 'abc', now(), true, 12.5, 123456789, 'x&y', current_date
  from generate_series(1, :rows) i;
