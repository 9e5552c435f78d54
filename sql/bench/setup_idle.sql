-- Fixture for ticker_idle.sql: 10 queues without events, each ticked
-- twice so that the ticker is in its idle back-off.
select count(pgq.create_queue('idle_' || i)) from generate_series(1, 10) i;
select pg_sleep(2);
select pgq.ticker();
