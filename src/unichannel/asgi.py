"""The ASGI application uvicorn serves (`unichannel serve`), built from the environment's settings."""

import gc

from unichannel.app import create_app

# A served process's garbage collector, tuned for a long-lived server holding many requests in flight. Measured with
# the flash-sale benchmark (one worker, 256 connections): untuned, collections took about 15 % of the worker's time,
# most of it full collections walking every object built at start-up (modules, tables, templates) again and again.
# Those objects live as long as the process, so they are moved out of the collector's sight; and a young collection
# runs after 20,000 net new container objects rather than 700 (garbage without cycles is freed by reference counting
# anyway, so this only lets cyclic garbage wait a little longer).
GC_YOUNG_THRESHOLD = 20_000

app = create_app()
gc.collect()
gc.freeze()
gc.set_threshold(GC_YOUNG_THRESHOLD, *gc.get_threshold()[1:])
