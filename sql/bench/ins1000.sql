select count(pgq.insert_event('bq', 'type', 'payload data for one event')) from generate_series(1, 1000);
