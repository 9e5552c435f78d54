select count(*) from pgq.get_batch_events((select sub_batch from pgq.subscription s join pgq.consumer c on c.co_id = s.sub_consumer where c.co_name = 'bc'));
