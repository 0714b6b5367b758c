"""Production serving: `gunicorn -c gunicorn.conf.py` from the repository root.

Every setting can be overridden on the command line or with GUNICORN_CMD_ARGS."""
import gc
import multiprocessing
import os

wsgi_app = "annotator:create_app()"
bind = os.environ.get("ANNOTATOR_BIND", "127.0.0.1:8000")
workers = int(os.environ.get("ANNOTATOR_WORKERS", min(2 * multiprocessing.cpu_count() + 1, 8)))
threads = int(os.environ.get("ANNOTATOR_THREADS", 4))  # gthread: a slow client never blocks a worker
worker_class = "gthread"
preload_app = True  # migrate once in the master, then fork
timeout = 120  # large exports stream for a while
graceful_timeout = 30
accesslog = "-"
errorlog = "-"


def when_ready(server):
    """The app is loaded (preload_app): import the modules its pages load when first used
    (shared by every worker, not imported by each), then move its objects out of the garbage
    collector's sight, so a worker's full collections skip the modules, templates and metadata
    every worker shares (shorter pauses in the slowest requests, and fewer copied pages after
    the fork)."""
    from annotator import import_deferred_modules
    import_deferred_modules()
    gc.freeze()
