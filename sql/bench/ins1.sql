select pgq.insert_event('bq', 'type', 'payload data for one event');
