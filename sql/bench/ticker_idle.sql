-- 200 calls of pgq.ticker() in one transaction: now() is fixed, so every
-- idle queue is evaluated and none is ticked.
do $$ begin for i in 1 .. 200 loop perform pgq.ticker(); end loop; end $$;
