-- Benchmark fixture: queue 'bq' for inserts, 'bbig' holding one 100k-event
-- batch for consumer 'bc', and 10 idle queues 'idle_1'..'idle_10'.
select pgq.create_queue('bq');
select pgq.create_queue('bbig');
select pgq.register_consumer('bbig', 'bc');
select count(pgq.insert_event('bbig', 'type', 'payload ' || i)) from generate_series(1, 100000) i;
select pgq.force_tick('bbig');
select pgq.ticker('bbig');
select pgq.next_batch('bbig', 'bc') as big_batch;
select count(pgq.create_queue('idle_' || i)) from generate_series(1, 10) i;
