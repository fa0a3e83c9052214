"""The long-running scheduler: ``tick`` (recover, plan, dispatch, poll) and its runner.

* ``planning``: jobs + forecasts + capacity → ``PlanProblem`` → ``Start|Wait|Reject``;
* ``loop``: ``SchedulerService.tick(now)``, the durable dispatch protocol;
* ``runner``: APScheduler, the one-scheduler-per-database lock, SIGTERM draining;
* ``logs``: structlog configuration (JSON, or console on a TTY).
"""
