select pgq.insert_event_bulk('bq', array['type'], array_fill('payload data for one event'::text, array[1000]));
